import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread from a module next to the caller. From dist/ the module is plain JavaScript;
 * from source (tests, `tsx`) it is TypeScript, so the worker gets tsx's loader too.
 */
export function startWorker(moduleUrl: URL, options: WorkerOptions = {}): Worker {
  const fromSource = moduleUrl.pathname.endsWith('.ts');
  return new Worker(moduleUrl, {
    ...options,
    execArgv: fromSource ? [...(options.execArgv ?? []), '--import', 'tsx'] : options.execArgv,
  });
}

/** The sibling module `name` (without extension) of `callerUrl`, in whichever form the caller runs. */
export function siblingModule(callerUrl: string, name: string): URL {
  const extension = callerUrl.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./${name}${extension}`, callerUrl);
}
