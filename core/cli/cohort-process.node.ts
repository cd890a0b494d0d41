import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { packageRoot } from '../util/package-root.node.js';

/** The `cohort` entry of this checkout, for starting further Cohort processes (demo, tests). */
export const cohortBin = join(packageRoot(), 'bin', 'cohort.js');

/** Runs a quick `cohort` command (init, invite, import …) to completion: see `cohortWithin`. */
export function cohort(...args: string[]): string {
  return cohortWithin(120_000, args);
}

/**
 * Runs a `cohort` command to completion and returns its stdout, failing loudly on a non-zero exit, a
 * signal, or when it runs past `timeoutMs` (then it is killed, and the error says so).
 */
export function cohortWithin(timeoutMs: number, args: string[]): string {
  const result = spawnSync(process.execPath, [cohortBin, ...args], { encoding: 'utf8', timeout: timeoutMs });
  if (result.status === 0) return result.stdout;
  const command = `cohort ${args.join(' ')}`;
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT')
    throw new Error(
      `${command} did not finish within ${timeoutMs < 1000 ? `${timeoutMs} ms` : `${Math.round(timeoutMs / 1000)} s`} and was stopped`,
    );
  if (result.error) throw new Error(`${command} could not run: ${result.error.message}`);
  const why = result.signal ? `was killed by ${result.signal}` : `exited with status ${result.status}`;
  const stderr = result.stderr.trim();
  throw new Error(`${command} ${why}${stderr ? `: ${stderr}` : ''}`);
}

export type JsonEvent = Record<string, unknown> & { event: string };

/**
 * A long-running `cohort … --json` process (the demo's coordinator and sites, end-to-end tests). Its stdout is one JSON event per line; tests wait on
 * those events, never on sleeps.
 */
export class CohortProcess {
  readonly child: ChildProcessWithoutNullStreams;
  private readonly events: JsonEvent[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly listeners = new Set<(event: JsonEvent) => void>();
  stderr = '';

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [cohortBin, ...args, '--json'], { stdio: 'pipe' });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      try {
        const event = JSON.parse(line) as JsonEvent;
        this.events.push(event);
        for (const listener of this.listeners) listener(event);
      } catch {
        return;
      }
      for (const wake of this.waiters) wake();
    });
    this.child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.child.on('exit', () => {
      for (const wake of this.waiters) wake();
    });
  }

  /** Calls `listener` for every event from now on. */
  onEvent(listener: (event: JsonEvent) => void): void {
    this.listeners.add(listener);
  }

  /** How many events so far: pass it to `waitForEvent` to wait for a later one only. */
  mark(): number {
    return this.events.length;
  }

  /** The first event matching `predicate`, from the start of output or from event number `since`. */
  waitForEvent(
    predicate: (event: JsonEvent) => boolean,
    what: string,
    timeoutMs = 30_000,
    since = 0,
  ): Promise<JsonEvent> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.events.slice(since).find(predicate);
        if (found) return done(() => resolve(found));
        const exit = this.child.exitCode ?? this.child.signalCode;
        if (exit !== null)
          done(() => reject(new Error(`process exited (${exit}) before ${what}: ${this.stderr}`)));
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`timed out waiting for ${what}`))),
        timeoutMs,
      );
      const done = (finish: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        finish();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Stops the process with SIGINT (a clean shutdown) and waits for it to exit. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGINT');
      await exited;
    }
    return this.child.exitCode;
  }
}
