/**
 * Runs the training engine in a worker thread, so training never blocks the caller's event loop (the
 * site agent's, or the CLI's progress bar). Progress arrives as events; an AbortSignal cancels a job
 * between steps (the promise then rejects with an AbortError).
 */
import { siblingModule } from '../util/worker.node.js';
import { connectWorker, RemoteError } from '../util/worker-rpc.node.js';
import type { Adapter } from './adapter.js';
import type { BaseModel, EvalResult, Progress, TrainLocalOptions, TrainStats } from './engine.node.js';
import type { EncodedExamples } from './features.js';
import type { TrainerWorkerApi, WireBase } from './trainer-worker.node.js';

export interface Trainer {
  train(options: TrainLocalOptions): Promise<{ adapter: Adapter; stats: TrainStats }>;
  evaluate(options: {
    base: BaseModel;
    adapter: Adapter | null;
    examples: EncodedExamples;
    batchSize?: number;
    threads?: number;
    signal?: AbortSignal;
    onProgress?: (done: number, total: number) => void;
  }): Promise<EvalResult>;
  close(): Promise<void>;
}

type WorkerEvent = { job: number; progress?: Progress; evalProgress?: { done: number; total: number } };

export function startTrainer(): Trainer {
  const handle = connectWorker<TrainerWorkerApi>(siblingModule(import.meta.url, 'trainer-worker.node'), {});
  const sentBases = new Set<string>();
  const listeners = new Map<number, (event: WorkerEvent) => void>();
  handle.onEvent((event) => {
    const e = event as WorkerEvent;
    listeners.get(e.job)?.(e);
  });
  let nextJob = 1;
  const wireBase = (base: BaseModel): WireBase => {
    if (sentBases.has(base.hash)) return { hash: base.hash };
    sentBases.add(base.hash);
    return { config: base.config, weights: base.weights, hash: base.hash };
  };
  const job = async <T>(
    signal: AbortSignal | undefined,
    onEvent: (e: WorkerEvent) => void,
    call: (id: number) => Promise<T>,
  ): Promise<T> => {
    const id = nextJob++;
    if (signal?.aborted) throw abortError();
    listeners.set(id, onEvent);
    const onAbort = () => void handle.remote.cancel(id).catch(() => undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await call(id);
    } catch (error) {
      if (error instanceof RemoteError && error.name === 'AbortError') throw abortError();
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      listeners.delete(id);
    }
  };
  return {
    train: ({ signal, onProgress, base, ...rest }) =>
      job(
        signal,
        (e) => e.progress && onProgress?.(e.progress),
        (id) => handle.remote.train(id, { ...rest, base: wireBase(base) }),
      ),
    evaluate: ({ signal, onProgress, base, ...rest }) =>
      job(
        signal,
        (e) => e.evalProgress && onProgress?.(e.evalProgress.done, e.evalProgress.total),
        (id) => handle.remote.evaluate(id, { ...rest, base: wireBase(base) }),
      ),
    async close() {
      await handle.remote.shutdown().catch(() => undefined);
      await handle.close();
    },
  };
}

function abortError(): Error {
  const e = new Error('training cancelled');
  e.name = 'AbortError';
  return e;
}
