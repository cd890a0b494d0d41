import type { PairSeedJob } from './crypto.js';
import type { PrgFactory, KeystreamReader } from './prg.js';
import { WORDS_PER_BLOCK } from './prg.js';

/** One keystream to add (+1) or subtract (−1), modulo 2^32, into a vector. */
export interface MaskTerm {
  key: Uint8Array;
  sign: 1 | -1;
}

/** Work counters of an engine, for throughput figures. */
export interface MaskStats {
  /** Keystream bytes generated and applied. */
  keystreamBytes: number;
  /** Wall time spent inside `apply`, in milliseconds. */
  ms: number;
}

/**
 * Applies masks to vectors: `target[i] += Σ sign·PRG(key)[i] (mod 2^32)` for every term. Clients use it to
 * mask their input, the coordinator to remove the self masks and the dead sites' pairwise masks. The
 * in-thread engine below is platform-free; `mask-engine.node.ts` spreads the work over worker threads.
 */
export interface MaskEngine {
  readonly name: string;
  readonly stats: MaskStats;
  /** A zeroed vector the engine can work on without copying (shared memory for worker engines). */
  allocate(length: number): Uint32Array;
  apply(target: Uint32Array, terms: readonly MaskTerm[]): Promise<void>;
  /**
   * Optional: Shamir-reconstructs many secrets (the coordinator's other bulk job at unmasking), e.g. spread
   * over worker threads. Without it the coordinator combines on its own thread.
   */
  combineShares?(sets: readonly Uint8Array[][]): Promise<Uint8Array[]>;
  /** Optional: `derivePairSeeds` (crypto.ts), e.g. spread over worker threads. */
  derivePairSeeds?(session: Uint8Array, jobs: readonly PairSeedJob[]): Promise<Uint8Array[][]>;
  close(): Promise<void>;
}

/** Words per chunk: 64 KiB of keystream per stream per step, so a chunk of the target stays in cache. */
export const DEFAULT_CHUNK_WORDS = 16384;

// Fused adds: one pass over the target per group of up to four streams. Every operand is an int32 and
// the sum of five of them is exact in a double, so `| 0` reduces it modulo 2^32 correctly.
function add1(t: Int32Array, o: number, n: number, a: Int32Array): void {
  for (let i = 0; i < n; i++) t[o + i] = (t[o + i]! + a[i]!) | 0;
}
function add2(t: Int32Array, o: number, n: number, a: Int32Array, b: Int32Array): void {
  for (let i = 0; i < n; i++) t[o + i] = (t[o + i]! + a[i]! + b[i]!) | 0;
}
function add4(
  t: Int32Array,
  o: number,
  n: number,
  a: Int32Array,
  b: Int32Array,
  c: Int32Array,
  d: Int32Array,
): void {
  for (let i = 0; i < n; i++) t[o + i] = (t[o + i]! + a[i]! + b[i]! + c[i]! + d[i]!) | 0;
}
function sub1(t: Int32Array, o: number, n: number, a: Int32Array): void {
  for (let i = 0; i < n; i++) t[o + i] = (t[o + i]! - a[i]!) | 0;
}
function sub2(t: Int32Array, o: number, n: number, a: Int32Array, b: Int32Array): void {
  for (let i = 0; i < n; i++) t[o + i] = (t[o + i]! - a[i]! - b[i]!) | 0;
}
function sub4(
  t: Int32Array,
  o: number,
  n: number,
  a: Int32Array,
  b: Int32Array,
  c: Int32Array,
  d: Int32Array,
): void {
  for (let i = 0; i < n; i++) t[o + i] = (t[o + i]! - a[i]! - b[i]! - c[i]! - d[i]!) | 0;
}

function applyGroup(
  target: Int32Array,
  offset: number,
  words: number,
  readers: KeystreamReader[],
  sign: 1 | -1,
): void {
  let i = 0;
  for (; i + 4 <= readers.length; i += 4) {
    const a = readers[i]!.next(words);
    const b = readers[i + 1]!.next(words);
    const c = readers[i + 2]!.next(words);
    const d = readers[i + 3]!.next(words);
    if (sign > 0) add4(target, offset, words, a, b, c, d);
    else sub4(target, offset, words, a, b, c, d);
  }
  if (i + 2 <= readers.length) {
    const a = readers[i]!.next(words);
    const b = readers[i + 1]!.next(words);
    if (sign > 0) add2(target, offset, words, a, b);
    else sub2(target, offset, words, a, b);
    i += 2;
  }
  if (i < readers.length) {
    const a = readers[i]!.next(words);
    if (sign > 0) add1(target, offset, words, a);
    else sub1(target, offset, words, a);
  }
}

/**
 * Adds the terms' keystreams, starting at stream word `startWord` (a multiple of 16), into `target`.
 * Streaming: the loop runs over chunks of the target and, inside, over the streams, so the extra memory is
 * one chunk per stream being combined (never a whole keystream) and the target chunk stays in cache.
 */
export function applyMasksInThread(
  prg: PrgFactory,
  target: Uint32Array,
  terms: readonly MaskTerm[],
  startWord = 0,
  chunkWords = DEFAULT_CHUNK_WORDS,
): void {
  if (startWord % WORDS_PER_BLOCK !== 0) throw new RangeError('startWord must be a multiple of 16');
  if (chunkWords % WORDS_PER_BLOCK !== 0 || chunkWords <= 0)
    throw new RangeError('chunkWords must be a multiple of 16');
  if (terms.length === 0 || target.length === 0) return;
  const block = startWord / WORDS_PER_BLOCK;
  const plus = terms.filter((t) => t.sign > 0).map((t) => prg.open(t.key, block));
  const minus = terms.filter((t) => t.sign < 0).map((t) => prg.open(t.key, block));
  const view = new Int32Array(target.buffer, target.byteOffset, target.length);
  for (let offset = 0; offset < view.length; offset += chunkWords) {
    const words = Math.min(chunkWords, view.length - offset);
    applyGroup(view, offset, words, plus, 1);
    applyGroup(view, offset, words, minus, -1);
  }
}

/** `target += source (mod 2^32)`, element-wise. */
export function addVectors(target: Uint32Array, source: Uint32Array): void {
  if (target.length !== source.length) throw new RangeError('length mismatch');
  const t = new Int32Array(target.buffer, target.byteOffset, target.length);
  const s = new Int32Array(source.buffer, source.byteOffset, source.length);
  add1(t, 0, t.length, s);
}

/** The platform-free engine: everything on the calling thread. */
export class InThreadMaskEngine implements MaskEngine {
  readonly name: string;
  readonly stats: MaskStats = { keystreamBytes: 0, ms: 0 };

  constructor(
    readonly prg: PrgFactory,
    private readonly chunkWords = DEFAULT_CHUNK_WORDS,
  ) {
    this.name = `in-thread/${prg.name}`;
  }

  allocate(length: number): Uint32Array {
    return new Uint32Array(length);
  }

  async apply(target: Uint32Array, terms: readonly MaskTerm[]): Promise<void> {
    const started = performance.now();
    applyMasksInThread(this.prg, target, terms, 0, this.chunkWords);
    this.stats.ms += performance.now() - started;
    this.stats.keystreamBytes += target.length * 4 * terms.length;
  }

  async close(): Promise<void> {}
}
