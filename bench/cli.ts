import { dispatch, type CommandEntry } from '../core/cli/dispatch.js';

/** Benchmarks (`cohort bench <name>`): each prints its figures and, with --json FILE, writes them. */
const commands: Record<string, CommandEntry> = {};

export function run(command: string, args: string[]): Promise<number> {
  return dispatch(commands, command, args);
}
