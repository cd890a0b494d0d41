import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** The directory holding Cohort's package.json, whether running from source or from dist/. */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the Cohort package root');
    dir = parent;
  }
  cached = dir;
  return dir;
}

/** A built UI (`renderer` or `console`) in dist/. */
export function builtUiDir(name: 'renderer' | 'console'): string {
  return join(packageRoot(), 'dist', name);
}
