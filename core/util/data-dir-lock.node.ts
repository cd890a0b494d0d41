import { linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

export class DataDirLockedError extends Error {
  constructor(
    message: string,
    readonly pid: number,
  ) {
    super(message);
    this.name = 'DataDirLockedError';
  }
}

/** Locks this process holds (tests run several agents in one process), released at exit if still held. */
const held = new Set<string>();
function releaseAll(): void {
  for (const path of held) rmSync(path, { force: true });
}

/**
 * Takes the lock file at `path` for this process, or throws `DataDirLockedError` with the message
 * `describeHolder` gives for the live process that holds it. One process per data directory: two site
 * agents on one directory share one identity (the coordinator drops each one's session whenever the
 * other reconnects, in a loop); two coordinators share one store. The lock file appears atomically with
 * its pid already in it (written aside, then hard-linked, which fails if the file exists), so a reader
 * never sees it half-written. A lock whose pid is no longer alive (the process was killed or crashed) is
 * taken over. Returns the release function; the lock is also released when the process exits without
 * calling it.
 */
export function acquireDataDirLock(path: string, describeHolder: (pid: number) => string): () => void {
  const draft = `${path}.${process.pid}`;
  writeFileSync(draft, `${process.pid}\n`, { mode: 0o600 });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(draft, path);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const owner = readOwner(path);
        if (owner !== undefined && isAlive(owner)) throw new DataDirLockedError(describeHolder(owner), owner);
        if (attempt > 0) throw error;
        rmSync(path, { force: true });
      }
    }
  } finally {
    rmSync(draft, { force: true });
  }
  if (held.size === 0) process.on('exit', releaseAll);
  held.add(path);
  return () => {
    if (!held.delete(path)) return;
    if (held.size === 0) process.off('exit', releaseAll);
    rmSync(path, { force: true });
  };
}

/** The pid a lock file records; undefined when it cannot be read or holds no pid. */
function readOwner(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
