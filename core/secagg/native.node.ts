import { createRequire } from 'node:module';
import { SIGNATURE_BYTES, verify } from './crypto.js';
import { MASK_NONCE, WORDS_PER_BLOCK, zeroBytes, type KeystreamReader, type PrgFactory } from './prg.js';
import { opensslPrg } from './prg.node.js';

/** The functions of libsodium's native build (the `sodium-native` package) used here. */
interface SodiumNative {
  crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
  crypto_stream_chacha20_ietf_xor_ic(
    out: Uint8Array,
    input: Uint8Array,
    nonce: Uint8Array,
    counter: number,
    key: Uint8Array,
  ): void;
}

/**
 * libsodium compiled for this machine (its npm package ships prebuilt binaries), or undefined where the
 * binary does not load: then the WebAssembly build of libsodium stands in, with the same verdicts
 * (native.test.ts) and the OpenSSL keystream.
 */
const sodiumNative: SodiumNative | undefined = (() => {
  try {
    return createRequire(import.meta.url)('sodium-native') as SodiumNative;
  } catch {
    return undefined;
  }
})();

/** Whether native libsodium loaded (else `nativeVerify` is the WebAssembly build's `verify`). */
export const nativeSodiumLoaded = sodiumNative !== undefined;

/**
 * Ed25519 verification by native libsodium (about twice as fast as its WebAssembly build and as OpenSSL),
 * with `verify`'s (crypto.ts) argument checks; `verify` itself where the native binary is unavailable.
 */
export function nativeVerify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (!sodiumNative) return verify(signature, message, publicKey);
  if (signature.length !== SIGNATURE_BYTES || publicKey.length !== 32) return false;
  try {
    return sodiumNative.crypto_sign_verify_detached(signature, message, publicKey);
  } catch {
    return false;
  }
}

/**
 * The mask PRG from native libsodium: `crypto_stream_chacha20_ietf_xor_ic` over zeros, the stream
 * `libsodiumPrg` gives (prg.test.ts), written straight into the caller's memory by `nextInto` (the SIMD
 * adder's), where OpenSSL's cipher returns a new buffer per read that is then copied.
 */
const sodiumNativePrg: PrgFactory | undefined = sodiumNative && {
  name: 'libsodium-native',
  open(key, block = 0): KeystreamReader {
    if (key.length !== 32) throw new RangeError('ChaCha20 key must be 32 bytes');
    if (!Number.isInteger(block) || block < 0 || block > 0xffffffff)
      throw new RangeError('bad block counter');
    let counter = block;
    const nextInto = (out: Int32Array) => {
      const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
      sodiumNative.crypto_stream_chacha20_ietf_xor_ic(
        bytes,
        zeroBytes(bytes.length),
        MASK_NONCE,
        counter,
        key,
      );
      counter += Math.ceil(out.length / WORDS_PER_BLOCK);
    };
    return {
      next(words) {
        const out = new Int32Array(words);
        nextInto(out);
        return out;
      },
      nextInto,
    };
  },
};

/** The fastest mask PRG this process has: native libsodium, else Node's OpenSSL. */
export const nativePrg: PrgFactory = sodiumNativePrg ?? opensslPrg;
