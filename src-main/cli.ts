import { dispatch, type CommandEntry } from '../core/cli/dispatch.js';

/** Site-side commands. Each entry's module lives next to the code it drives. */
const commands: Record<string, CommandEntry> = {};

export function run(command: string, args: string[]): Promise<number> {
  return dispatch(commands, command, args);
}
