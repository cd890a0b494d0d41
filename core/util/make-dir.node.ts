import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p`: creates `path` and whichever of its parents are missing, one level at a time, with `mode`
 * for each new directory. Node 20's `mkdir(path, { recursive: true })` never returns when a parent exists
 * but refuses new entries with ENOENT (e.g. anywhere under /proc); a plain mkdir per level reports that
 * error instead.
 */
export function makeDir(path: string, mode?: number): void {
  const missing: string[] = [];
  for (let dir = resolve(path); !isDirectory(dir); dir = dirname(dir)) {
    missing.push(dir);
    if (dirname(dir) === dir) break;
  }
  for (const dir of missing.reverse()) {
    try {
      mkdirSync(dir, { mode });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || !isDirectory(dir)) throw error;
    }
  }
}

function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}
