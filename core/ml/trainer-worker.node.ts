/**
 * Worker-thread side of the trainer (see trainer.node.ts): runs trainLocal / evaluate off the caller's
 * event loop, streams progress events and honours cancellation between steps. Base models are sent once
 * and cached here by hash; compiled graphs stay cached across jobs.
 */
import { serveInWorker } from '../util/worker-rpc.node.js';
import type { Adapter } from './adapter.js';
import {
  evaluate,
  releaseGraphs,
  trainLocal,
  type BaseModel,
  type EvalResult,
  type TrainLocalOptions,
} from './engine.node.js';
import type { EncodedExamples } from './features.js';

export type WireBase = BaseModel | { hash: string };

export interface WorkerTrainRequest extends Omit<TrainLocalOptions, 'base' | 'signal' | 'onProgress'> {
  base: WireBase;
}

export interface WorkerEvalRequest {
  base: WireBase;
  adapter: Adapter | null;
  examples: EncodedExamples;
  batchSize?: number;
  threads?: number;
}

export interface TrainerWorkerApi {
  train(job: number, request: WorkerTrainRequest): Promise<Awaited<ReturnType<typeof trainLocal>>>;
  evaluate(job: number, request: WorkerEvalRequest): Promise<EvalResult>;
  cancel(job: number): void;
  shutdown(): Promise<void>;
}

serveInWorker<TrainerWorkerApi>((_data, emit) => {
  const bases = new Map<string, BaseModel>();
  const jobs = new Map<number, AbortController>();
  const resolveBase = (b: WireBase): BaseModel => {
    if ('weights' in b) {
      bases.set(b.hash, b);
      return b;
    }
    const hit = bases.get(b.hash);
    if (!hit) throw new Error(`base model ${b.hash} was not sent to the trainer`);
    return hit;
  };
  const run = async <T>(job: number, body: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    const controller = new AbortController();
    jobs.set(job, controller);
    try {
      return await body(controller.signal);
    } finally {
      jobs.delete(job);
    }
  };
  return {
    train: (job, request) =>
      run(job, (signal) =>
        trainLocal({
          ...request,
          base: resolveBase(request.base),
          signal,
          onProgress: (progress) => emit({ job, progress }),
        }),
      ),
    evaluate: (job, request) =>
      run(job, (signal) =>
        evaluate({
          ...request,
          base: resolveBase(request.base),
          signal,
          onProgress: (done, total) => emit({ job, evalProgress: { done, total } }),
        }),
      ),
    cancel: (job) => jobs.get(job)?.abort(),
    shutdown: () => releaseGraphs(),
  };
});
