import { parentPort, workerData, type Worker } from 'node:worker_threads';
import { startWorker } from './worker.node.js';

/** The async face of a synchronous object that lives in a worker thread. */
export type Remote<T> = {
  [K in keyof T as T[K] extends (...args: never[]) => unknown ? K : never]: T[K] extends (
    ...args: infer A
  ) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
};

type Request = { id: number; method: string; args: unknown[] };
type Reply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { name: string; message: string; code?: string } }
  | { event: unknown };

/** An error re-thrown on the calling side with the worker's name, message and code. */
export class RemoteError extends Error {
  constructor(
    name: string,
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = name;
  }
}

/**
 * Worker side: builds the object with `create(workerData, emit)` and answers calls to its methods one at a
 * time, in order. `emit` sends progress events to the calling thread.
 */
export function serveInWorker<T extends object>(
  create: (data: unknown, emit: (event: unknown) => void) => T,
): void {
  const port = parentPort;
  if (!port) throw new Error('serveInWorker must run inside a worker thread');
  const target = create(workerData, (event) => port.postMessage({ event } satisfies Reply));
  port.on('message', async (request: Request) => {
    try {
      const method = (target as Record<string, unknown>)[request.method];
      if (typeof method !== 'function') throw new Error(`no method ${request.method}`);
      const value: unknown = await (method as (...args: unknown[]) => unknown).apply(target, request.args);
      port.postMessage({ id: request.id, ok: true, value } satisfies Reply);
    } catch (error) {
      const { name, message, code } = error as { name?: string; message?: string; code?: string };
      port.postMessage({
        id: request.id,
        ok: false,
        error: { name: name ?? 'Error', message: message ?? String(error), ...(code ? { code } : {}) },
      } satisfies Reply);
    }
  });
}

export interface WorkerHandle<T> {
  remote: Remote<T>;
  /** Registers a listener for events the worker emits; returns the unsubscribe function. */
  onEvent(listener: (event: unknown) => void): () => void;
  close(): Promise<void>;
  worker: Worker;
}

/** Calling side: starts `moduleUrl` (which calls serveInWorker) and returns a typed async proxy to it. */
export function connectWorker<T>(moduleUrl: URL, data: unknown): WorkerHandle<T> {
  const worker = startWorker(moduleUrl, { workerData: data });
  const pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; promise: Promise<unknown> }
  >();
  const listeners = new Set<(event: unknown) => void>();
  let nextId = 1;
  let failure: Error | undefined;
  let closing: Promise<void> | undefined;

  const failAll = (error: Error) => {
    failure = error;
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
  };
  worker.on('message', (reply: Reply) => {
    if ('event' in reply) {
      for (const listener of listeners) listener(reply.event);
      return;
    }
    const waiter = pending.get(reply.id);
    if (!waiter) return;
    pending.delete(reply.id);
    if (reply.ok) waiter.resolve(reply.value);
    else waiter.reject(new RemoteError(reply.error.name, reply.error.message, reply.error.code));
  });
  worker.on('error', (error) => failAll(error));
  worker.on('exit', (code) =>
    failAll(new Error(closing ? 'the worker was closed' : `worker exited (code ${code})`)),
  );

  const remote = new Proxy({} as Remote<T>, {
    get(_target, method) {
      if (typeof method !== 'string' || method === 'then') return undefined;
      return (...args: unknown[]) => {
        if (failure) return Promise.reject(failure);
        const id = nextId++;
        let settle!: { resolve: (v: unknown) => void; reject: (e: Error) => void };
        const promise = new Promise((resolve, reject) => (settle = { resolve, reject }));
        pending.set(id, { ...settle, promise });
        worker.postMessage({ id, method, args } satisfies Request);
        return promise;
      };
    },
  });
  return {
    remote,
    worker,
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    /** Lets calls already made finish, then stops the thread; later calls are refused. */
    close() {
      closing ??= (async () => {
        failure ??= new Error('the worker was closed');
        await Promise.allSettled([...pending.values()].map(({ promise }) => promise));
        await worker.terminate();
      })();
      return closing;
    },
  };
}
