import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError } from './errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses a subcommand's arguments and turns parseArgs' own errors (unknown option, missing value) into
 * one-line CLI errors that name the command.
 */
export function parseCommandArgs<O extends Options>(
  command: string,
  args: string[],
  options: O,
  allowPositionals = false,
) {
  try {
    return parseArgs({
      args: joinNegativeValues(args, options),
      options: { help: { type: 'boolean', short: 'h' }, ...options },
      allowPositionals,
      strict: true,
    });
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new CliError(`${command}: ${message}`, 2);
  }
}

/**
 * parseArgs refuses `--lr -1` as ambiguous (the value could be an option) and its hint is lost on one
 * line. No option here starts with a digit, so a negative number after an option that takes a value is
 * its value, and reaches the command's own range check (`--lr must be …`).
 */
function joinNegativeValues(args: string[], options: Options): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return [...joined, ...args.slice(i)];
    const next = args[i + 1];
    if (arg.startsWith('--') && options[arg.slice(2)]?.type === 'string' && next && /^-\d/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else joined.push(arg);
  }
  return joined;
}

export function requireOption(command: string, value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new CliError(`${command}: ${flag} is required`, 2);
  return value;
}

export function parseIntegerOption(
  command: string,
  value: string | undefined,
  flag: string,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
    throw new CliError(`${command}: ${flag} must be an integer from ${min} to ${max} (got '${value}')`, 2);
  }
  return parsed;
}

export function parsePort(command: string, value: string | undefined, flag = '--port'): number | undefined {
  return parseIntegerOption(command, value, flag, 0, 65535);
}
