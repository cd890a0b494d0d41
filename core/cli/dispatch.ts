import { CliError } from './errors.js';

/** A subcommand's module: it parses its own arguments and returns the exit code. */
export interface CommandModule {
  run(args: string[]): Promise<number>;
}

export interface CommandEntry {
  summary: string;
  load: () => Promise<CommandModule>;
}

/**
 * Commands are loaded lazily so `cohort site serve` never pays for loading the training engine, and a
 * broken optional module cannot break unrelated commands.
 * `table` keys are either "name" (a top-level command such as `train`) or "group name" (`site enroll`).
 */
export async function dispatch(
  table: Record<string, CommandEntry>,
  command: string,
  args: string[],
): Promise<number> {
  if (table[command]) return (await table[command].load()).run(args);
  const [sub, ...rest] = args;
  const groupEntries = Object.entries(table).filter(([key]) => key.startsWith(`${command} `));
  if (!sub || sub === '--help' || sub === '-h') {
    const lines = groupEntries.map(([key, entry]) => `  ${key.padEnd(22)} ${entry.summary}`);
    console.log(`usage: cohort ${command} <subcommand> [options]\n\n${lines.join('\n')}`);
    return sub ? 0 : 2;
  }
  const entry = table[`${command} ${sub}`];
  if (!entry) {
    const known = groupEntries.map(([key]) => key.split(' ')[1]).join(', ');
    throw new CliError(`unknown subcommand 'cohort ${command} ${sub}' (known: ${known})`, 2);
  }
  return (await entry.load()).run(rest);
}
