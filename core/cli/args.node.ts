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
      args,
      options: { help: { type: 'boolean', short: 'h' }, ...options },
      allowPositionals,
      strict: true,
    });
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new CliError(`${command}: ${message}`, 2);
  }
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
