import { availableParallelism } from 'node:os';
import { RemoteError, connectWorker, type WorkerHandle } from '../util/worker-rpc.node.js';
import { derivePairSeeds } from './crypto.js';
import { SecAggError, type SecAggErrorCode } from './errors.js';
import { siblingModule } from '../util/worker.node.js';
import {
  DEFAULT_CHUNK_WORDS,
  InThreadMaskEngine,
  applyMasksInThread,
  type MaskEngine,
  type MaskStats,
  type MaskTerm,
} from './mask.js';
import type { MaskWorker } from './mask-worker.node.js';
import { WORDS_PER_BLOCK } from './prg.js';
import { nativePrg, nativeVerify } from './native.node.js';
import { combineAll, packShareSets, unpackShareSets } from './shares.js';

/** The in-thread engine on native ChaCha20 (libsodium's, else OpenSSL's): what a site masks its input with. */
export function nativeMaskEngine(chunkWords = DEFAULT_CHUNK_WORDS): MaskEngine {
  return new InThreadMaskEngine(nativePrg, chunkWords);
}

export interface WorkerMaskEngineOptions {
  /** Worker threads (default: the machine's available parallelism). */
  workers?: number;
  chunkWords?: number;
  /**
   * Below this many keystream words in total (vector length × terms) the work stays on the calling thread:
   * starting and messaging workers would cost more than it saves.
   */
  minWorkWords?: number;
}

/**
 * Spreads mask work over worker threads: the vector is cut into one contiguous range per worker (aligned
 * to ChaCha20 blocks, so each worker opens every keystream at its range's block counter) and each worker
 * applies all terms to its range of a SharedArrayBuffer. The calling thread only waits, so a coordinator's
 * event loop stays responsive while it unmasks.
 */
export function createWorkerMaskEngine(options: WorkerMaskEngineOptions = {}): MaskEngine {
  const count = Math.max(1, options.workers ?? availableParallelism());
  const chunkWords = options.chunkWords ?? DEFAULT_CHUNK_WORDS;
  const minWorkWords = options.minWorkWords ?? 1 << 20;
  const stats: MaskStats = { keystreamBytes: 0, ms: 0 };
  let handles: WorkerHandle<MaskWorker>[] | undefined;

  const start = () => {
    handles ??= Array.from({ length: count }, () =>
      connectWorker<MaskWorker>(siblingModule(import.meta.url, 'mask-worker.node'), null),
    );
    return handles;
  };

  return {
    name: `workers(${count})/${nativePrg.name}`,
    stats,
    allocate(length) {
      return new Uint32Array(new SharedArrayBuffer(length * 4));
    },
    async apply(target: Uint32Array, terms: readonly MaskTerm[]) {
      const started = performance.now();
      try {
        if (terms.length === 0 || target.length === 0) return;
        if (target.length * terms.length < minWorkWords || target.length < count * WORDS_PER_BLOCK * 64) {
          applyMasksInThread(nativePrg, target, terms, 0, chunkWords);
          return;
        }
        const shared = target.buffer instanceof SharedArrayBuffer;
        const work = shared ? target : new Uint32Array(new SharedArrayBuffer(target.byteLength));
        if (!shared) work.set(target);
        const keys = new Uint8Array(terms.length * 32);
        const signs = new Int8Array(terms.length);
        terms.forEach((term, i) => {
          keys.set(term.key, i * 32);
          signs[i] = term.sign;
        });
        const workers = start();
        const per = Math.ceil(work.length / workers.length / WORDS_PER_BLOCK) * WORDS_PER_BLOCK;
        await Promise.all(
          workers.map((handle, i) => {
            const from = Math.min(work.length, i * per);
            const to = Math.min(work.length, from + per);
            if (from >= to) return Promise.resolve(0);
            return handle.remote.apply(
              work.buffer as SharedArrayBuffer,
              work.byteOffset,
              from,
              to,
              keys,
              signs,
              chunkWords,
            );
          }),
        );
        if (!shared) target.set(work);
      } finally {
        stats.ms += performance.now() - started;
        stats.keystreamBytes += target.length * 4 * terms.length;
      }
    },
    async combineShares(sets) {
      // Below a few dozen sets the messaging costs more than it saves.
      // Each reconstruction takes tens of microseconds: below a few hundred sets, messaging costs more.
      if (sets.length < 256 || count < 2) return combineAll(sets);
      const workers = start();
      const per = Math.ceil(sets.length / workers.length);
      // One packed buffer each way instead of one cloned object per share.
      const parts = await Promise.all(
        workers.map((handle, i) => handle.remote.combine(packShareSets(sets.slice(i * per, (i + 1) * per)))),
      );
      return parts.flatMap((packed) => unpackShareSets(packed).map((set) => set[0]!));
    },
    async verifySignatures(jobs) {
      // ~0.05 ms per signature (native libsodium): worth a round trip from a few dozen on.
      if (jobs.length < 32 || count < 2)
        return jobs.map(({ signature, message, publicKey }) => nativeVerify(signature, message, publicKey));
      const workers = start();
      const per = Math.ceil(jobs.length / workers.length);
      // Consistency signatures all sign the same bytes: send each distinct message once per worker.
      const parts = await Promise.all(
        workers.map((handle, i) => {
          const slice = jobs.slice(i * per, (i + 1) * per);
          const messages: Uint8Array[] = [];
          const index = new Map<Uint8Array, number>();
          const compact = slice.map(({ signature, message, publicKey }) => {
            let m = index.get(message);
            if (m === undefined) index.set(message, (m = messages.push(message) - 1));
            return { signature, publicKey, message: m };
          });
          return handle.remote.verify(messages, compact);
        }),
      );
      return parts.flat();
    },
    async derivePairSeeds(session, jobs) {
      const pairs = jobs.reduce((sum, job) => sum + job.peers.length, 0);
      if (pairs < 64 || count < 2) return derivePairSeeds(session, jobs);
      const workers = start();
      const per = Math.ceil(jobs.length / workers.length);
      try {
        const parts = await Promise.all(
          workers.map((handle, i) => handle.remote.pairSeeds(session, jobs.slice(i * per, (i + 1) * per))),
        );
        return parts.flat();
      } catch (error) {
        // Keep the protocol's typed errors typed across the thread boundary.
        if (error instanceof RemoteError && error.name === 'SecAggError' && error.code) {
          throw new SecAggError(error.code as SecAggErrorCode, error.message.replace(/^[a-z-]+: /, ''));
        }
        throw error;
      }
    },
    async close() {
      const running = handles ?? [];
      handles = undefined;
      await Promise.all(running.map((handle) => handle.close()));
    },
  };
}
