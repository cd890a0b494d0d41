import { combine, split } from 'shamir-secret-sharing';
import { describe, expect, it } from 'vitest';
import { frame, fromBase64, toBase64, utf8 } from './bytes.js';
import { createWorkerMaskEngine } from './mask-engine.node.js';
import { DEFAULT_CHUNK_WORDS, SIMD_GROUP, addVectors, applyMasksInThread, type MaskTerm } from './mask.js';
import { keystream, libsodiumPrg } from './prg.js';
import { opensslPrg } from './prg.node.js';
import { combineShares, packShareSets, unpackShareSets } from './shares.js';
import { ADDSUB_MODULE, WordAccumulator, WordAdder, wordAdder } from './simd.js';
import { sodium } from './sodium.js';

interface WasmForTests {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => ConstructorParameters<typeof WordAdder>[0];
}

/** Σ ±PRG by the definition, one stream at a time, word by word (no fused loops, no SIMD). */
function reference(target: Uint32Array, terms: readonly MaskTerm[], startWord = 0): Uint32Array {
  const out = target.slice();
  for (const { key, sign } of terms) {
    const stream = keystream(libsodiumPrg, key, out.length, startWord / 16);
    for (let i = 0; i < out.length; i++) out[i] = (out[i]! + sign * stream[i]!) >>> 0;
  }
  return out;
}

const randomWords = (n: number) => {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i += 16384) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 16384)));
  return out;
};
const randomTerms = (count: number, plus: number): MaskTerm[] =>
  Array.from({ length: count }, (_, i) => ({ key: sodium.randombytes_buf(32), sign: i < plus ? 1 : -1 }));

describe('WebAssembly SIMD sums (simd.ts)', () => {
  it('is available here, so the protocol runs the SIMD path (the module validates)', () => {
    expect(ADDSUB_MODULE[0]).toBe(0);
    expect(wordAdder()).toBeDefined();
  });

  it('applies Σ ±PRG exactly as defined: any length, chunk, start block, group size and sign mix', () => {
    const lengths = [1, 3, 4, 5, 15, 16, 17, 1000, 16384 + 5];
    const counts = [1, 2, 3, SIMD_GROUP - 1, SIMD_GROUP, SIMD_GROUP + 1, 2 * SIMD_GROUP + 3];
    for (const length of lengths) {
      for (const count of counts) {
        for (const plus of new Set([0, 1, Math.floor(count / 2), count])) {
          const terms = randomTerms(count, plus);
          const x = randomWords(length);
          const expected = reference(x, terms);
          for (const [prg, chunk] of [
            [opensslPrg, DEFAULT_CHUNK_WORDS],
            [opensslPrg, 64],
            [libsodiumPrg, 16],
          ] as const) {
            const simd = x.slice();
            applyMasksInThread(prg, simd, terms, 0, chunk, true);
            const js = x.slice();
            applyMasksInThread(prg, js, terms, 0, chunk, false);
            expect(simd).toEqual(expected);
            expect(js).toEqual(expected);
          }
        }
      }
    }
    // Mid-stream (a worker's range) and a target inside shared memory at an offset.
    const terms = randomTerms(11, 6);
    const shared = new Uint32Array(new SharedArrayBuffer(4 * 5000), 4 * 37, 3001);
    shared.set(randomWords(3001));
    const expected = reference(shared, terms, 160);
    applyMasksInThread(opensslPrg, shared, terms, 160, 64, true);
    expect(shared.slice()).toEqual(expected);
  });

  it('the general loop (used where the straight-line variants cannot be built) sums the same', () => {
    const wasm = (globalThis as unknown as { WebAssembly: WasmForTests }).WebAssembly;
    const general = new WordAdder(new wasm.Instance(new wasm.Module(ADDSUB_MODULE)));
    const special = wordAdder()!;
    for (const adder of [general, special]) {
      adder.reserve(64, SIMD_GROUP);
      for (let plus = 0; plus <= SIMD_GROUP; plus++) {
        for (let minus = 0; plus + minus <= SIMD_GROUP; minus++) {
          const words = 1 + sodium.randombytes_uniform(64);
          const target = randomWords(words);
          const sources = Array.from({ length: plus + minus }, () => randomWords(words));
          adder.target.set(target);
          sources.forEach((source, q) => adder.source(q).set(source));
          adder.run(plus, minus, words);
          const expected = target.map((value, i) =>
            sources.reduce((sum, source, q) => (q < plus ? sum + source[i]! : sum - source[i]!) >>> 0, value),
          );
          expect(new Uint32Array(adder.target.slice(0, words).buffer)).toEqual(expected);
        }
      }
    }
  });

  it('a wrong sum would be caught: the reference sees a single flipped bit', () => {
    const terms = randomTerms(3, 2);
    const x = randomWords(100);
    const simd = x.slice();
    applyMasksInThread(opensslPrg, simd, terms);
    simd[57]! ^= 1;
    expect(simd).not.toEqual(reference(x, terms));
  });

  it('addVectors: SIMD and plain loops agree with the definition, shared or not, any length', () => {
    for (const length of [1, 2, 7, 8, 16383, 16384, 16385, 70001]) {
      const a = randomWords(length);
      const b = randomWords(length);
      const expected = a.map((v, i) => (v + b[i]!) >>> 0);
      const simd = a.slice();
      addVectors(simd, b, true);
      const js = a.slice();
      addVectors(js, b, false);
      const shared = new Uint32Array(new SharedArrayBuffer(length * 4));
      shared.set(a);
      addVectors(shared, b);
      expect(simd).toEqual(expected);
      expect(js).toEqual(expected);
      expect(shared.slice()).toEqual(expected);
    }
    expect(() => addVectors(new Uint32Array(3), new Uint32Array(4))).toThrow(RangeError);
  });

  it('WordAccumulator: a running sum in WebAssembly memory equals the sum by definition', () => {
    for (const [length, chunk] of [
      [1, 16],
      [5, 16],
      [33, 16],
      [16384, 16384],
      [50001, 16384],
      [7, 4],
    ] as const) {
      const accumulator = WordAccumulator.create(length, chunk)!;
      const expected = new Uint32Array(length);
      for (let v = 0; v < 7; v++) {
        const source = randomWords(length);
        accumulator.add(source);
        for (let i = 0; i < length; i++) expected[i] = (expected[i]! + source[i]!) >>> 0;
      }
      const out = new Uint32Array(new SharedArrayBuffer(length * 4));
      expect(accumulator.read(out).slice()).toEqual(expected);
      expect(() => accumulator.add(new Uint32Array(length + 1))).toThrow(RangeError);
    }
  });
});

/** Both results, or both errors as "Name: message". */
async function outcome(fn: () => Promise<Uint8Array> | Uint8Array): Promise<string> {
  try {
    return `ok ${sodium.to_hex(await fn())}`;
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
}
const same = async (shares: Uint8Array[]) => {
  const ours = await outcome(() => combineShares(shares));
  expect(ours).toBe(await outcome(() => combine(shares)));
  return ours;
};

describe('combineShares = shamir-secret-sharing combine, bit for bit', () => {
  it('random share sets: every threshold, secret length and subset size', async () => {
    for (let trial = 0; trial < 300; trial++) {
      const n = 2 + sodium.randombytes_uniform(254);
      const t = 2 + sodium.randombytes_uniform(n - 1);
      const secret = sodium.randombytes_buf(1 + sodium.randombytes_uniform(64));
      const shares = await split(secret, n, t);
      const k = 2 + sodium.randombytes_uniform(n - 1);
      const subset = shares.sort(() => sodium.randombytes_uniform(3) - 1).slice(0, k);
      const result = await same(subset);
      if (k >= t) expect(result).toBe(`ok ${sodium.to_hex(secret)}`);
    }
  });

  it('every pair of x coordinates (0 included) and random y, and random garbage sets up to 255 shares', async () => {
    for (let x0 = 0; x0 < 256; x0++) {
      for (let x1 = 0; x1 < 256; x1++) {
        const y = sodium.randombytes_buf(2);
        await same([Uint8Array.of(y[0]!, x0), Uint8Array.of(y[1]!, x1)]);
      }
    }
    for (let trial = 0; trial < 200; trial++) {
      const count = 2 + sodium.randombytes_uniform(254);
      const length = 2 + sodium.randombytes_uniform(40);
      const xs = [...Array(256).keys()].sort(() => sodium.randombytes_uniform(3) - 1).slice(0, count);
      await same(xs.map((x) => Uint8Array.from([...sodium.randombytes_buf(length - 1), x])));
    }
  });

  it('refuses what the library refuses, with its errors', async () => {
    const [a, b, c] = await split(sodium.randombytes_buf(32), 5, 3);
    const refusals = [
      [a!, a!], // duplicate x
      [a!, b!, Uint8Array.from([...c!.subarray(0, 32), a![32]!])], // duplicate x, other y
      [a!], // one share
      Array.from({ length: 256 }, (_, i) => Uint8Array.of(1, i)), // 256 shares
      [a!, b!.subarray(0, 20)], // ragged
      [Uint8Array.of(7), Uint8Array.of(9)], // too short
      [a!, Buffer.from(b!)], // not exactly a Uint8Array
    ];
    for (const shares of refusals) expect(await same(shares as Uint8Array[])).not.toMatch(/^ok/);
    expect(await outcome(() => combineShares('no' as unknown as Uint8Array[]))).toBe(
      await outcome(() => combine('no' as unknown as Uint8Array[])),
    );
  });

  it('packs share sets for the worker pool losslessly; the pool reconstructs what the library does', async () => {
    const sets = await Promise.all(
      Array.from({ length: 300 }, async () =>
        (await split(sodium.randombytes_buf(32), 11, 8)).slice(0, 8 + sodium.randombytes_uniform(4)),
      ),
    );
    expect(unpackShareSets(packShareSets(sets))).toEqual(sets);
    const engine = createWorkerMaskEngine({ workers: 2 });
    try {
      const secrets = await engine.combineShares!(sets);
      expect(secrets).toEqual(await Promise.all(sets.map((set) => combine(set))));
      const bad = sets.map((set) => [...set]);
      bad[250] = [bad[250]![0]!, bad[250]![0]!];
      await expect(engine.combineShares!(bad)).rejects.toThrow(/duplicate/);
    } finally {
      await engine.close();
    }
  });
});

describe('bytes: base64 and framing in JavaScript = libsodium and TextEncoder', () => {
  const URLSAFE = sodium.base64_variants.URLSAFE_NO_PADDING;
  const sodiumDecode = (text: string) => {
    try {
      return sodium.to_hex(sodium.from_base64(text, URLSAFE));
    } catch {
      return 'error'; // libsodium.js says "invalid input" or "incomplete input"
    }
  };
  const ourDecode = (text: string) => {
    try {
      return sodium.to_hex(fromBase64(text));
    } catch {
      return 'error';
    }
  };

  it('encodes every length like libsodium and decodes it back', () => {
    for (let length = 0; length < 100; length++) {
      const bytes = sodium.randombytes_buf(length);
      const text = toBase64(bytes);
      expect(text).toBe(sodium.to_base64(bytes, URLSAFE));
      expect(fromBase64(text)).toEqual(bytes);
    }
  });

  it('accepts and refuses exactly what libsodium does (padding, other alphabets, stray bits, lengths)', () => {
    const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/= \n.é';
    let refused = 0;
    for (let trial = 0; trial < 20000; trial++) {
      const length = sodium.randombytes_uniform(12);
      let text = '';
      // Mostly valid characters, so that lengths and trailing bits are what decides.
      for (let i = 0; i < length; i++)
        text += chars[sodium.randombytes_uniform(trial % 2 ? 64 : chars.length)]!;
      const expected = sodiumDecode(text);
      expect(ourDecode(text)).toBe(expected);
      if (expected.startsWith('error')) refused++;
    }
    expect(refused).toBeGreaterThan(1000);
    for (const text of ['A', 'AB', 'AAA=', 'AA==', 'QUJD', 'QUI', 'QUJ', 'QR', '-_8']) {
      expect(ourDecode(text)).toBe(sodiumDecode(text));
    }
  });

  it('frame gives the length-prefixed UTF-8 bytes for ASCII and non-ASCII strings, numbers and bytes', () => {
    const encode = (part: string | number | Uint8Array) => {
      if (typeof part === 'string') return utf8(part);
      if (typeof part === 'number') {
        const out = new Uint8Array(8);
        new DataView(out.buffer).setBigUint64(0, BigInt(part));
        return out;
      }
      return part;
    };
    const parts = ['site-001', 'héllo ✓ 𝄞', '', 42, 0, sodium.randombytes_buf(5), 'x'.repeat(300)];
    const expected = [...['domain/v1', ...parts].map(encode)].flatMap((bytes) => [
      ...[24, 16, 8, 0].map((shift) => (bytes.length >>> shift) & 0xff),
      ...bytes,
    ]);
    expect([...frame('domain/v1', ...parts)]).toEqual(expected);
  });
});

describe('neighbourhoods(…, only)', () => {
  it("gives exactly the full graph's entries for the requested sites", async () => {
    const { neighbourhoods } = await import('./params.js');
    const sites = Array.from({ length: 60 }, (_, i) => `site-${i}`);
    for (const k of [undefined, 10, 58]) {
      const sid = sodium.randombytes_buf(32);
      const full = neighbourhoods(sid, sites, k);
      const only = neighbourhoods(sid, sites, k, new Set(['site-7', 'site-33']));
      expect([...only.keys()].sort()).toEqual(['site-33', 'site-7']);
      for (const [site, list] of only) expect(list).toEqual(full.get(site));
    }
  });
});
