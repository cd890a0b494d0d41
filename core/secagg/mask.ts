import type { PairSeedJob } from './crypto.js';
import type { PrgFactory, KeystreamReader } from './prg.js';
import { WORDS_PER_BLOCK } from './prg.js';
import { SIMD_SOURCES, wordAdder, type WordAdder } from './simd.js';

/** One keystream to add (+1) or subtract (−1), modulo 2^32, into a vector. */
export interface MaskTerm {
  key: Uint8Array;
  sign: 1 | -1;
}

/** One signature to check: `verify(signature, message, publicKey)`. */
export interface SignatureJob {
  signature: Uint8Array;
  message: Uint8Array;
  publicKey: Uint8Array;
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
  /**
   * Optional: Ed25519 checks (`verify` in crypto.ts, libsodium) of many signatures, e.g. spread over worker
   * threads; the coordinator's `receiveAll` uses it for the adverts and consistency signatures of a stage.
   */
  verifySignatures?(jobs: readonly SignatureJob[]): Promise<boolean[]>;
  /** Optional: `derivePairSeeds` (crypto.ts), e.g. spread over worker threads. */
  derivePairSeeds?(session: Uint8Array, jobs: readonly PairSeedJob[]): Promise<Uint8Array[][]>;
  close(): Promise<void>;
}

/** Words per chunk: 64 KiB of keystream per stream per step, so a chunk of the target stays in cache. */
export const DEFAULT_CHUNK_WORDS = 16384;

/**
 * Streams summed per pass of the SIMD adder: keystream chunks are copied into its memory and summed into
 * the target chunk 8 at a time (9 × 64 KiB of scratch per thread, which stays in L2).
 */
export const SIMD_GROUP = SIMD_SOURCES;

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
 * With `simd` (default) and WebAssembly SIMD available, the sums run in `simd.ts`'s adder; otherwise in
 * the fused JavaScript loops above. Both compute the same words (tested).
 */
export function applyMasksInThread(
  prg: PrgFactory,
  target: Uint32Array,
  terms: readonly MaskTerm[],
  startWord = 0,
  chunkWords = DEFAULT_CHUNK_WORDS,
  simd = true,
): void {
  if (startWord % WORDS_PER_BLOCK !== 0) throw new RangeError('startWord must be a multiple of 16');
  if (chunkWords % WORDS_PER_BLOCK !== 0 || chunkWords <= 0)
    throw new RangeError('chunkWords must be a multiple of 16');
  if (terms.length === 0 || target.length === 0) return;
  const block = startWord / WORDS_PER_BLOCK;
  const plus = terms.filter((t) => t.sign > 0).map((t) => prg.open(t.key, block));
  const minus = terms.filter((t) => t.sign < 0).map((t) => prg.open(t.key, block));
  const view = new Int32Array(target.buffer, target.byteOffset, target.length);
  const adder = simd ? wordAdder() : undefined;
  if (adder) {
    applyWithAdder(adder, view, plus, minus, chunkWords);
    return;
  }
  for (let offset = 0; offset < view.length; offset += chunkWords) {
    const words = Math.min(chunkWords, view.length - offset);
    applyGroup(view, offset, words, plus, 1);
    applyGroup(view, offset, words, minus, -1);
  }
}

/**
 * Per chunk of the target: copy it into the adder, then for each group of up to `SIMD_GROUP` streams copy
 * their next keystream chunk in and sum (plus streams added, minus streams subtracted), then copy back.
 */
function applyWithAdder(
  adder: WordAdder,
  view: Int32Array,
  plus: KeystreamReader[],
  minus: KeystreamReader[],
  chunkWords: number,
): void {
  adder.reserve(chunkWords, SIMD_GROUP);
  const readers = [...plus, ...minus];
  for (let offset = 0; offset < view.length; offset += chunkWords) {
    const words = Math.min(chunkWords, view.length - offset);
    const target = adder.target;
    target.set(view.subarray(offset, offset + words));
    for (let first = 0; first < readers.length; first += SIMD_GROUP) {
      const last = Math.min(readers.length, first + SIMD_GROUP);
      for (let r = first; r < last; r++) {
        const reader = readers[r]!;
        const source = adder.source(r - first);
        if (reader.nextInto) reader.nextInto(source.subarray(0, words));
        else source.set(reader.next(words));
      }
      // Readers [first, last) are plus readers up to index plus.length, minus readers after.
      const kPlus = Math.max(0, Math.min(last, plus.length) - first);
      adder.run(kPlus, last - first - kPlus, words);
    }
    view.set(target.subarray(0, words), offset);
  }
}

/** `target += source (mod 2^32)`, element-wise (SIMD where available, unless `simd` is false). */
export function addVectors(target: Uint32Array, source: Uint32Array, simd = true): void {
  if (target.length !== source.length) throw new RangeError('length mismatch');
  const t = new Int32Array(target.buffer, target.byteOffset, target.length);
  const s = new Int32Array(source.buffer, source.byteOffset, source.length);
  const adder = simd ? wordAdder() : undefined;
  if (!adder) {
    add1(t, 0, t.length, s);
    return;
  }
  adder.reserve(DEFAULT_CHUNK_WORDS, SIMD_GROUP);
  for (let offset = 0; offset < t.length; offset += DEFAULT_CHUNK_WORDS) {
    const end = Math.min(t.length, offset + DEFAULT_CHUNK_WORDS);
    const target = adder.target;
    target.set(t.subarray(offset, end));
    adder.source(0).set(s.subarray(offset, end));
    adder.run(1, 0, end - offset);
    t.set(target.subarray(0, end - offset), offset);
  }
}

/** The platform-free engine: everything on the calling thread. */
export class InThreadMaskEngine implements MaskEngine {
  readonly name: string;
  readonly stats: MaskStats = { keystreamBytes: 0, ms: 0 };

  constructor(
    readonly prg: PrgFactory,
    private readonly chunkWords = DEFAULT_CHUNK_WORDS,
    private readonly simd = true,
  ) {
    this.name = `in-thread/${prg.name}${simd && wordAdder() ? '+simd' : ''}`;
  }

  allocate(length: number): Uint32Array {
    return new Uint32Array(length);
  }

  async apply(target: Uint32Array, terms: readonly MaskTerm[]): Promise<void> {
    const started = performance.now();
    applyMasksInThread(this.prg, target, terms, 0, this.chunkWords, this.simd);
    this.stats.ms += performance.now() - started;
    this.stats.keystreamBytes += target.length * 4 * terms.length;
  }

  async close(): Promise<void> {}
}
