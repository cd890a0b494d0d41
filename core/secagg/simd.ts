/**
 * Word-vector sums modulo 2^32 with WebAssembly SIMD (`i32x4.add`/`i32x4.sub`), platform-free: it runs
 * wherever WebAssembly with the SIMD proposal does (Node ≥ 16.4, current browsers), and callers fall back
 * to plain JavaScript loops where it does not (`wordAdder()` returns undefined).
 *
 * Why: adding k keystreams into a vector costs a JavaScript loop about 0.75 ns per keystream word (V8
 * does not vectorise typed-array loops), as much as OpenSSL takes to generate that word. Copying each
 * keystream chunk into WebAssembly memory (a memcpy) and summing there four lanes at a time costs a
 * fraction of that, which is what lets mask throughput inside the protocol approach raw ChaCha20 speed.
 *
 * The module is assembled below from its instructions (no binary blob): one exported function,
 *
 *   addsub(t, s, kPlus, kMinus, bytes, stride):
 *     for i in 0, 16, …, bytes − 16:
 *       acc = v128.load(t + i)
 *       for j in 0 … kPlus − 1:              acc = i32x4.add(acc, v128.load(s + j·stride + i))
 *       for j in kPlus … kPlus + kMinus − 1: acc = i32x4.sub(acc, v128.load(s + j·stride + i))
 *       v128.store(t + i, acc)
 *
 * and its memory. Lane-wise i32 addition and subtraction wrap modulo 2^32, exactly like `(a + b) | 0`.
 */

const leb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
};
const section = (id: number, bytes: number[]) => [id, ...leb(bytes.length), ...bytes];
const name = (text: string) => [text.length, ...[...text].map((c) => c.charCodeAt(0))];

// Opcodes (WebAssembly core + SIMD).
const I32 = 0x7f;
const V128 = 0x7b;
const get = (i: number) => [0x20, i];
const set = (i: number) => [0x21, i];
const I32_CONST = 0x41;
const I32_ADD = 0x6a;
const I32_GE_U = 0x4f;
const BLOCK = [0x02, 0x40];
const LOOP = [0x03, 0x40];
const END = 0x0b;
const BR = 0x0c;
const BR_IF = 0x0d;
const V128_LOAD = [0xfd, 0x00, 4, 0]; // align 2^4, offset 0
const V128_STORE = [0xfd, 0x0b, 4, 0];
const I32X4_ADD = [0xfd, 0xae, 0x01];
const I32X4_SUB = [0xfd, 0xb1, 0x01];

// Params: 0 t, 1 s, 2 kPlus, 3 kMinus, 4 bytes, 5 stride. Locals: 6 i, 7 j, 8 p, 9 acc (v128).
const [T, S, K_PLUS, K_MINUS, BYTES, STRIDE, I, J, P, ACC] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

/** for j in 0 … count − 1: acc = op(acc, v128.load(p)); p += stride */
const streamLoop = (count: number, op: number[]) => [
  I32_CONST, 0, ...set(J),
  ...BLOCK, ...LOOP,
  ...get(J), ...get(count), I32_GE_U, BR_IF, 1,
  ...get(ACC), ...get(P), ...V128_LOAD, ...op, ...set(ACC),
  ...get(P), ...get(STRIDE), I32_ADD, ...set(P),
  ...get(J), I32_CONST, 1, I32_ADD, ...set(J),
  BR, 0,
  END, END,
]; // prettier-ignore

const body = [
  2, 3, I32, 1, V128, // locals: i, j, p: i32; acc: v128
  I32_CONST, 0, ...set(I),
  ...BLOCK, ...LOOP,
  ...get(I), ...get(BYTES), I32_GE_U, BR_IF, 1,
  ...get(T), ...get(I), I32_ADD, ...V128_LOAD, ...set(ACC),
  ...get(S), ...get(I), I32_ADD, ...set(P),
  ...streamLoop(K_PLUS, I32X4_ADD),
  ...streamLoop(K_MINUS, I32X4_SUB),
  ...get(T), ...get(I), I32_ADD, ...get(ACC), ...V128_STORE,
  ...get(I), I32_CONST, 16, I32_ADD, ...set(I),
  BR, 0,
  END, END,
  END,
]; // prettier-ignore

/**
 * accumulate(t, s, bytes): for i in 0, 16, …, bytes − 16: v128.store(t + i, i32x4.add(v128.load(t + i),
 * v128.load(s + i))) — one source, no loop over sources (the coordinator's running total).
 */
const accumulateBody = [
  1, 1, I32, // local 3: i
  ...BLOCK, ...LOOP,
  ...get(3), ...get(2), I32_GE_U, BR_IF, 1,
  ...get(0), ...get(3), I32_ADD,
  ...get(0), ...get(3), I32_ADD, ...V128_LOAD,
  ...get(1), ...get(3), I32_ADD, ...V128_LOAD,
  ...I32X4_ADD, ...V128_STORE,
  ...get(3), I32_CONST, 16, I32_ADD, ...set(3),
  BR, 0,
  END, END,
  END,
]; // prettier-ignore

/** The module's bytes (exported for tests). */
export const ADDSUB_MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  // types: (i32 × 6) → () and (i32 × 3) → ()
  ...section(1, [2, 0x60, 6, I32, I32, I32, I32, I32, I32, 0, 0x60, 3, I32, I32, I32, 0]),
  ...section(3, [2, 0, 1]), // addsub: type 0, accumulate: type 1
  ...section(5, [1, 0, 1]), // memory: 1 page to start, grown on demand
  ...section(7, [3, ...name('memory'), 2, 0, ...name('addsub'), 0, 0, ...name('accumulate'), 0, 1]),
  ...section(10, [2, ...leb(body.length), ...body, ...leb(accumulateBody.length), ...accumulateBody]),
]); // prettier-ignore

/**
 * Straight-line variants for one slot size: `f{p}_{m}(bytes)` sums p plus and m minus sources (p + m ≤
 * SIMD_SOURCES) into the target at address 0, sources at (q + 1)·stride, with the offsets as immediates
 * and no loop over sources: for each 16 bytes, 1 + p + m loads, p + m adds or subtracts and a store. Built
 * when a slot size is first used, on the adder's memory (imported). Same results as `addsub` (tested).
 */
export const SIMD_SOURCES = 8;
function specialisedModule(strideBytes: number): Uint8Array {
  const load = (offset: number) => [0xfd, 0x00, 4, ...leb(offset)];
  const store = [0xfd, 0x0b, 4, 0];
  const bodies: number[][] = [];
  const exports: number[] = [];
  for (let plus = 0; plus <= SIMD_SOURCES; plus++) {
    for (let minus = 0; plus + minus <= SIMD_SOURCES; minus++) {
      if (plus + minus === 0) continue;
      const sources: number[] = [];
      for (let q = 0; q < plus + minus; q++)
        sources.push(...get(1), ...load((q + 1) * strideBytes), ...(q < plus ? I32X4_ADD : I32X4_SUB));
      bodies.push([
        1, 1, I32, // one i32 local: i (param 0 is bytes)
        ...BLOCK, ...LOOP,
        ...get(1), ...get(0), I32_GE_U, BR_IF, 1,
        ...get(1), ...get(1), ...load(0), ...sources, ...store,
        ...get(1), I32_CONST, 16, I32_ADD, ...set(1),
        BR, 0,
        END, END,
        END,
      ]); // prettier-ignore
      exports.push(...name(`f${plus}_${minus}`), 0, bodies.length - 1);
    }
  }
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 1, I32, 0]), // type: (i32) → ()
    ...section(2, [1, ...name('e'), ...name('m'), 2, 0, 1]), // import the adder's memory
    ...section(3, [bodies.length, ...bodies.map(() => 0)]),
    ...section(7, [bodies.length, ...exports]),
    ...section(10, [bodies.length, ...bodies.flatMap((body) => [...leb(body.length), ...body])]),
  ]); // prettier-ignore
}

const PAGE = 65536;

// The few WebAssembly APIs used here (the project's TypeScript libs do not declare the global).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports?: Record<string, Record<string, unknown>>) => WasmInstance;
}

/**
 * Sums vectors in WebAssembly memory: one target slot and `slots` source slots of `slotWords` words each.
 * Callers copy a chunk of the target into `target`, copy source chunks into `source(q)`, call `run`, and
 * copy the target chunk back. One instance per thread (module state), reused across calls.
 */
export class WordAdder {
  private readonly memory: WasmMemory;
  private readonly addsub: (t: number, s: number, kp: number, km: number, b: number, st: number) => void;
  private heap: Int32Array;
  private slotWords = 0;
  private slotCount = 0;
  /** The straight-line variants for the current slot size, by p · (SIMD_SOURCES + 1) + m. */
  private special: ((bytes: number) => void)[] = [];

  constructor(
    instance: WasmInstance,
    private readonly api?: WasmApi,
  ) {
    this.memory = instance.exports.memory as WasmMemory;
    this.addsub = instance.exports.addsub as WordAdder['addsub'];
    this.heap = new Int32Array(this.memory.buffer);
  }

  /** Makes room for a target slot and `slots` source slots of `words` words (a multiple of 4). */
  reserve(words: number, slots: number): void {
    if (words % 4 !== 0) throw new RangeError('slot words must be a multiple of 4');
    if (words <= this.slotWords && slots <= this.slotCount) return;
    const stride = this.slotWords;
    this.slotWords = Math.max(words, this.slotWords);
    this.slotCount = Math.max(slots, this.slotCount);
    const bytes = this.slotWords * 4 * (this.slotCount + 1);
    const have = this.memory.buffer.byteLength;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / PAGE));
    this.heap = new Int32Array(this.memory.buffer);
    if (this.api && this.slotWords !== stride) {
      this.special = [];
      try {
        const module = new this.api.Module(specialisedModule(this.slotWords * 4));
        const { exports } = new this.api.Instance(module, { e: { m: this.memory } });
        for (let p = 0; p <= SIMD_SOURCES; p++)
          for (let m = 0; p + m <= SIMD_SOURCES; m++)
            if (p + m > 0)
              this.special[p * (SIMD_SOURCES + 1) + m] = exports[`f${p}_${m}`] as (b: number) => void;
      } catch {
        this.special = []; // the general loop does the same
      }
    }
  }

  /** The target slot (valid until the next `reserve`). */
  get target(): Int32Array {
    return this.heap.subarray(0, this.slotWords);
  }

  /** Source slot q (valid until the next `reserve`). */
  source(q: number): Int32Array {
    const start = this.slotWords * (q + 1);
    return this.heap.subarray(start, start + this.slotWords);
  }

  /**
   * target[i] += Σ_{q < kPlus} source(q)[i] − Σ_{kPlus ≤ q < kPlus + kMinus} source(q)[i] (mod 2^32) for
   * i < words (rounded up to a multiple of 4: slots are padded, callers copy back only what they use).
   */
  run(kPlus: number, kMinus: number, words: number): void {
    if (kPlus + kMinus > this.slotCount || words > this.slotWords) throw new RangeError('not reserved');
    const bytes = Math.ceil(words / 4) * 16;
    const special = this.special[kPlus * (SIMD_SOURCES + 1) + kMinus];
    if (special) return special(bytes);
    const slotBytes = this.slotWords * 4;
    this.addsub(0, slotBytes, kPlus, kMinus, bytes, slotBytes);
  }
}

let compiled: { api: WasmApi; module: object } | null | undefined;

/** The compiled module, or undefined where WebAssembly SIMD is unavailable. */
function compiledModule(): { api: WasmApi; module: object } | undefined {
  if (compiled === undefined) {
    const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    try {
      compiled = api?.validate(ADDSUB_MODULE) ? { api, module: new api.Module(ADDSUB_MODULE) } : null;
    } catch {
      compiled = null;
    }
  }
  return compiled ?? undefined;
}

let adder: WordAdder | null | undefined;

/** This thread's adder, or undefined where WebAssembly SIMD is unavailable. */
export function wordAdder(): WordAdder | undefined {
  if (adder === undefined) {
    const wasm = compiledModule();
    try {
      adder = wasm ? new WordAdder(new wasm.api.Instance(wasm.module), wasm.api) : null;
    } catch {
      adder = null;
    }
  }
  return adder ?? undefined;
}

/**
 * A running sum of word vectors kept in WebAssembly memory (its own instance): `add` copies each source
 * chunk in once and sums it in place, where `addVectors` copies the target in and out too. The
 * coordinator sums every masked input with one.
 */
export class WordAccumulator {
  private heap: Int32Array;
  private readonly slot: number;

  private constructor(
    private readonly instance: WasmInstance,
    readonly length: number,
    private readonly chunkWords: number,
  ) {
    const memory = instance.exports.memory as WasmMemory;
    const totalWords = Math.ceil(length / 4) * 4;
    const bytes = (totalWords + chunkWords) * 4;
    if (bytes > memory.buffer.byteLength) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE));
    this.heap = new Int32Array(memory.buffer);
    this.slot = totalWords;
  }

  /** A zeroed accumulator, or undefined without WebAssembly SIMD or the memory for `length` words. */
  static create(length: number, chunkWords = 16384): WordAccumulator | undefined {
    const wasm = compiledModule();
    if (!wasm || chunkWords % 4 !== 0) return undefined;
    try {
      return new WordAccumulator(new wasm.api.Instance(wasm.module), length, chunkWords);
    } catch {
      return undefined; // e.g. more than WebAssembly's 4 GiB of memory
    }
  }

  /** total += source (mod 2^32), element-wise. */
  add(source: Uint32Array): void {
    if (source.length !== this.length) throw new RangeError('length mismatch');
    const words = new Int32Array(source.buffer, source.byteOffset, source.length);
    const accumulate = this.instance.exports.accumulate as (t: number, s: number, bytes: number) => void;
    for (let offset = 0; offset < this.length; offset += this.chunkWords) {
      const end = Math.min(this.length, offset + this.chunkWords);
      this.heap.set(words.subarray(offset, end), this.slot);
      accumulate(offset * 4, this.slot * 4, Math.ceil((end - offset) / 4) * 16);
    }
  }

  /** Copies the total into `out`. */
  read(out: Uint32Array): Uint32Array {
    if (out.length !== this.length) throw new RangeError('length mismatch');
    new Int32Array(out.buffer, out.byteOffset, out.length).set(this.heap.subarray(0, this.length));
    return out;
  }
}
