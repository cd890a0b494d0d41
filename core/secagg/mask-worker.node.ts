import { serveInWorker } from '../util/worker-rpc.node.js';
import { derivePairSeeds, type PairSeedJob } from './crypto.js';
import { applyMasksInThread, type MaskTerm } from './mask.js';
import { nativePrg, nativeVerify } from './native.node.js';
import { combineShares, packShareSets, unpackShareSets } from './shares.js';

/** A mask worker: applies the terms to its range of a shared vector (see mask-engine.node.ts). */
export interface MaskWorker {
  apply(
    buffer: SharedArrayBuffer,
    byteOffset: number,
    start: number,
    end: number,
    keys: Uint8Array,
    signs: Int8Array,
    chunkWords: number,
  ): number;
  /** Shamir-reconstructs each set of shares (`packShareSets` in, the secrets as one-share sets out). */
  combine(packed: Uint8Array): Uint8Array;
  pairSeeds(session: Uint8Array, jobs: PairSeedJob[]): Uint8Array[][];
  /** `nativeVerify` (libsodium Ed25519) of each job; a job names its message by index into `messages`. */
  verify(
    messages: Uint8Array[],
    jobs: { signature: Uint8Array; publicKey: Uint8Array; message: number }[],
  ): boolean[];
}

serveInWorker<MaskWorker>(() => ({
  apply(buffer, byteOffset, start, end, keys, signs, chunkWords) {
    const target = new Uint32Array(buffer, byteOffset + start * 4, end - start);
    const terms: MaskTerm[] = [];
    for (let i = 0; i < signs.length; i++) {
      terms.push({ key: keys.subarray(i * 32, i * 32 + 32), sign: signs[i]! > 0 ? 1 : -1 });
    }
    applyMasksInThread(nativePrg, target, terms, start, chunkWords);
    return end - start;
  },
  combine(packed) {
    return packShareSets(unpackShareSets(packed).map((set) => [combineShares(set)]));
  },
  pairSeeds(session, jobs) {
    return derivePairSeeds(session, jobs);
  },
  verify(messages, jobs) {
    return jobs.map(({ signature, message, publicKey }) =>
      nativeVerify(signature, messages[message]!, publicKey),
    );
  },
}));
