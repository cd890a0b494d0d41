import { dispatch, type CommandEntry } from '../core/cli/dispatch.js';

/** Coordinator commands (`cohort server …`). */
const commands: Record<string, CommandEntry> = {};

export function run(command: string, args: string[]): Promise<number> {
  return dispatch(commands, command, args);
}
