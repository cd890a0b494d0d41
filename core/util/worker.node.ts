import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread from a module next to the caller. From dist/ the module is plain JavaScript.
 * From source (Vitest, tsx) it is TypeScript, and Node 20 does not pass `--import tsx` on to workers, so
 * a tiny bootstrap registers tsx's loader inside the worker before importing the module.
 */
export function startWorker(moduleUrl: URL, options: WorkerOptions = {}): Worker {
  if (!moduleUrl.pathname.endsWith('.ts')) return new Worker(moduleUrl, options);
  // The ESM build of tsx's API (package export "tsx/esm/api" → import); require.resolve would pick the CJS one.
  const tsxPackage = createRequire(import.meta.url).resolve('tsx/package.json');
  const tsxApi = pathToFileURL(join(dirname(tsxPackage), 'dist/esm/api/index.mjs')).href;
  const bootstrap =
    `import(${JSON.stringify(tsxApi)}).then((api) => { api.register(); ` +
    `return import(${JSON.stringify(moduleUrl.href)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}

/** The sibling module `name` (without extension) of `callerUrl`, in whichever form the caller runs. */
export function siblingModule(callerUrl: string, name: string): URL {
  const extension = callerUrl.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./${name}${extension}`, callerUrl);
}
