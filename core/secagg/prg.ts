import { sodium } from './sodium.js';

/**
 * The mask PRG: ChaCha20-IETF (RFC 8439) keyed by a 32-byte seed, nonce = 12 zero bytes, block counter
 * from 0. A zero nonce is safe because every key is used for exactly one stream: each seed is derived
 * per round, per pair (or per site for self masks), and the whole update is one concatenated vector, so
 * no two tensors or rounds ever share a (key, position).
 */
export const MASK_NONCE = new Uint8Array(12);
/** Keystream words per ChaCha20 block; stream offsets given to `open` are in blocks. */
export const WORDS_PER_BLOCK = 16;

let zeroPool = new Uint8Array(0);

/**
 * `bytes` zero bytes, from one buffer shared by every reader (readers only read it, synchronously), so
 * thousands of open streams cost one chunk of zeros, not one each.
 */
export function zeroBytes(bytes: number): Uint8Array {
  if (zeroPool.length < bytes) zeroPool = new Uint8Array(bytes);
  return zeroPool.subarray(0, bytes);
}

/** Reads a keystream sequentially. */
export interface KeystreamReader {
  /**
   * The next `words` 32-bit words of keystream (little-endian), as an Int32Array view that stays valid
   * until the next call. `words` must be a multiple of 16 except on the last call.
   */
  next(words: number): Int32Array;
  /**
   * Optional: the next `out.length` words written into `out` (the same stream as `next`), for PRGs that
   * can write into memory they did not allocate; it saves an allocation and a copy per read.
   */
  nextInto?(out: Int32Array): void;
}

/** Where keystreams come from: libsodium (platform-free, WASM) or Node's OpenSSL (`prg.node.ts`). */
export interface PrgFactory {
  readonly name: string;
  /** The keystream of `key` starting at 64-byte block `block` (so workers can start mid-stream). */
  open(key: Uint8Array, block?: number): KeystreamReader;
}

/** The reference implementation: libsodium's `crypto_stream_chacha20_ietf_xor_ic` over zeros. */
export const libsodiumPrg: PrgFactory = {
  name: 'libsodium-wasm',
  open(key, block = 0) {
    if (key.length !== 32) throw new RangeError('ChaCha20 key must be 32 bytes');
    let counter = block;
    return {
      next(words) {
        const bytes = words * 4;
        const zeros = zeroBytes(bytes);
        const out = sodium.crypto_stream_chacha20_ietf_xor_ic(
          zeros.subarray(0, bytes),
          MASK_NONCE,
          counter,
          key,
        );
        counter += Math.ceil(bytes / 64);
        return new Int32Array(out.buffer, out.byteOffset, words);
      },
    };
  },
};

/** The keystream `key` produces over `words` words, all at once (tests and small vectors). */
export function keystream(prg: PrgFactory, key: Uint8Array, words: number, block = 0): Uint32Array {
  const out = new Uint32Array(words);
  out.set(new Uint32Array(prg.open(key, block).next(words).slice().buffer));
  return out;
}
