import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { applyMasksInThread, InThreadMaskEngine, type MaskTerm } from './mask.js';
import { createWorkerMaskEngine, nativeMaskEngine } from './mask-engine.node.js';
import { keystream, libsodiumPrg } from './prg.js';
import { nativePrg } from './native.node.js';
import { opensslPrg } from './prg.node.js';
import { sodium } from './sodium.js';

const hex = (words: Uint32Array) =>
  Buffer.from(words.buffer, words.byteOffset, words.byteLength).toString('hex');
const key32 = () => new Uint8Array(randomBytes(32));

describe('ChaCha20-IETF keystream: Node (OpenSSL) and native libsodium equal libsodium (WASM)', () => {
  it('matches the RFC 8439 A.1 test vectors (zero key and nonce, blocks 0 and 1)', () => {
    const zero = new Uint8Array(32);
    const block0 =
      '76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7' +
      'da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586';
    const block1 =
      '9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed' +
      '29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f';
    for (const prg of [opensslPrg, nativePrg, libsodiumPrg]) {
      expect(hex(keystream(prg, zero, 16, 0)), prg.name).toBe(block0);
      expect(hex(keystream(prg, zero, 16, 1)), prg.name).toBe(block1);
      expect(hex(keystream(prg, zero, 32, 0)), prg.name).toBe(block0 + block1);
    }
  });

  it("equals libsodium's crypto_stream_chacha20_ietf for random keys, lengths and start blocks", () => {
    for (let trial = 0; trial < 20; trial++) {
      const key = key32();
      const words = 1 + ((trial * 7919) % 5000);
      const block = trial === 0 ? 0 : (trial * 104729) % 100_000;
      const nonce = new Uint8Array(12);
      const reference = sodium.crypto_stream_chacha20_ietf_xor_ic(
        new Uint8Array(words * 4),
        nonce,
        block,
        key,
      );
      for (const prg of [opensslPrg, nativePrg])
        expect(hex(keystream(prg, key, words, block)), prg.name).toBe(Buffer.from(reference).toString('hex'));
    }
  });

  it('gives the same stream read in chunks as in one piece, and a mid-stream start equals the tail', () => {
    const key = key32();
    const whole = keystream(opensslPrg, key, 4096);
    for (const prg of [opensslPrg, nativePrg, libsodiumPrg]) {
      const reader = prg.open(key);
      const parts = [16, 1024, 48, 3008].map((n) => new Uint32Array(reader.next(n).slice().buffer));
      const joined = new Uint32Array(4096);
      let offset = 0;
      for (const part of parts) {
        joined.set(part, offset);
        offset += part.length;
      }
      expect(hex(joined)).toBe(hex(whole));
      expect(hex(keystream(prg, key, 1024, 3072 / 16))).toBe(hex(whole.subarray(3072)));
    }
  });

  it('writes the same stream in place (nextInto) as it returns (next), into views at any offset', () => {
    expect(nativePrg.name).toBe('libsodium-native');
    const key = key32();
    const whole = keystream(libsodiumPrg, key, 4096);
    const reader = nativePrg.open(key);
    const memory = new Int32Array(4096 + 7);
    let offset = 0;
    for (const n of [16, 1024, 48, 3008]) {
      reader.nextInto!(memory.subarray(7 + offset, 7 + offset + n));
      offset += n;
    }
    expect(hex(new Uint32Array(memory.buffer, 28, 4096))).toBe(hex(whole));
    expect(memory.subarray(0, 7).every((word) => word === 0)).toBe(true);
  });

  it('differs for different keys', () => {
    expect(hex(keystream(opensslPrg, key32(), 64))).not.toBe(hex(keystream(opensslPrg, key32(), 64)));
  });
});

/** The definition, word by word: target + Σ sign·stream (mod 2^32). */
function reference(target: Uint32Array, terms: MaskTerm[]): Uint32Array {
  const out = target.slice();
  for (const { key, sign } of terms) {
    const ks = keystream(libsodiumPrg, key, target.length);
    for (let i = 0; i < out.length; i++) out[i] = out[i]! + sign * ks[i]!;
  }
  return out;
}

describe('mask engines', () => {
  const workers = createWorkerMaskEngine({ workers: 2, minWorkWords: 0 });
  afterAll(() => workers.close());

  it('apply Σ ±PRG exactly as defined, for every group size and sign mix, in thread and in workers', async () => {
    for (const [length, count] of [
      [1, 1],
      [17, 3],
      [5000, 7],
      [40_000, 11],
    ] as const) {
      const terms: MaskTerm[] = Array.from({ length: count }, (_, i) => ({
        key: key32(),
        sign: i % 3 === 1 ? -1 : 1,
      }));
      const start = new Uint32Array(randomBytes(length * 4).buffer);
      const expected = reference(start, terms);
      for (const engine of [new InThreadMaskEngine(libsodiumPrg, 64), nativeMaskEngine(), workers]) {
        const target = engine.allocate(length);
        target.set(start);
        await engine.apply(target, terms);
        expect(hex(target), `${engine.name} ${length}×${count}`).toBe(hex(expected));
      }
    }
  });

  it('streams: never asks a PRG for more than one chunk at a time, whatever the vector length', () => {
    let largest = 0;
    let reads = 0;
    const spy = {
      name: 'spy',
      open(key: Uint8Array, block?: number) {
        const reader = opensslPrg.open(key, block);
        return {
          next(words: number) {
            largest = Math.max(largest, words);
            reads++;
            return reader.next(words);
          },
        };
      },
    };
    const terms: MaskTerm[] = Array.from({ length: 5 }, (_, i) => ({ key: key32(), sign: i % 2 ? 1 : -1 }));
    const target = new Uint32Array(100_000);
    applyMasksInThread(spy, target, terms, 0, 1024);
    expect(largest).toBe(1024);
    expect(reads).toBe(5 * Math.ceil(100_000 / 1024));
    expect(hex(target)).toBe(hex(reference(new Uint32Array(100_000), terms)));
  });

  it('starts mid-stream at a block-aligned word offset', () => {
    const terms: MaskTerm[] = [{ key: key32(), sign: 1 }];
    const full = new Uint32Array(4096);
    applyMasksInThread(opensslPrg, full, terms);
    const tail = new Uint32Array(1024);
    applyMasksInThread(opensslPrg, tail, terms, 3072);
    expect(hex(tail)).toBe(hex(full.subarray(3072)));
    expect(() => applyMasksInThread(opensslPrg, tail, terms, 3)).toThrow(/multiple of 16/);
  });

  it('reconstructs Shamir secrets in workers exactly as on this thread', async () => {
    const { split } = await import('shamir-secret-sharing');
    const secrets = Array.from({ length: 40 }, () => new Uint8Array(randomBytes(32)));
    const sets = await Promise.all(secrets.map(async (secret) => (await split(secret, 10, 7)).slice(2, 9)));
    expect(await workers.combineShares!(sets)).toEqual(secrets);
  });

  it("derives dead sites' pair seeds in workers exactly as on this thread", async () => {
    const { derivePairSeeds, x25519KeyPair } = await import('./crypto.js');
    const session = new Uint8Array(randomBytes(32));
    const jobs = Array.from({ length: 6 }, (_, j) => ({
      site: `dead-${j}`,
      secretKey: x25519KeyPair().secretKey,
      peers: Array.from({ length: 20 }, (_, i) => ({
        site: `alive-${i}`,
        publicKey: x25519KeyPair().publicKey,
      })),
    }));
    expect(await workers.derivePairSeeds!(session, jobs)).toEqual(derivePairSeeds(session, jobs));
  });

  it('copes with a vector that is not in shared memory', async () => {
    const terms: MaskTerm[] = [{ key: key32(), sign: -1 }];
    const target = new Uint32Array(50_000);
    await workers.apply(target, terms);
    expect(hex(target)).toBe(hex(reference(new Uint32Array(50_000), terms)));
  });
});
