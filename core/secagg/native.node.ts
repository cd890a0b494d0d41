import { createRequire } from 'node:module';
import { SIGNATURE_BYTES, verify } from './crypto.js';

/** The function of libsodium's native build (the `sodium-native` package) the coordinator uses. */
interface SodiumNative {
  crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

/**
 * libsodium compiled for this machine (its npm package ships prebuilt binaries), or undefined where the
 * binary does not load: then the WebAssembly build of libsodium stands in, with the same verdicts
 * (native.test.ts). Only signature checks use it: for the mask keystream, Node's OpenSSL ChaCha20 is as
 * fast as native libsodium's (both about 2.8 GB/s per thread here), so the masks stay on OpenSSL.
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
