import { createCipheriv } from 'node:crypto';
import { MASK_NONCE, zeroBytes, type KeystreamReader, type PrgFactory } from './prg.js';

/**
 * ChaCha20-IETF through Node's OpenSSL (native, several times faster than the WASM build of libsodium).
 * OpenSSL's "chacha20" takes a 16-byte IV = 4-byte little-endian block counter ‖ 12-byte nonce, which is
 * exactly RFC 8439's state layout, so its keystream equals libsodium's `crypto_stream_chacha20_ietf`
 * (proved by the known-answer test in prg.test.ts).
 */
export const opensslPrg: PrgFactory = {
  name: 'openssl-native',
  open(key, block = 0): KeystreamReader {
    if (key.length !== 32) throw new RangeError('ChaCha20 key must be 32 bytes');
    if (!Number.isInteger(block) || block < 0 || block > 0xffffffff)
      throw new RangeError('bad block counter');
    const iv = new Uint8Array(16);
    new DataView(iv.buffer).setUint32(0, block, true);
    iv.set(MASK_NONCE, 4);
    const cipher = createCipheriv('chacha20', key, iv);
    return {
      next(words) {
        const bytes = words * 4;
        const zeros = zeroBytes(bytes);
        const out = cipher.update(zeros);
        // Small outputs can come from Node's shared Buffer pool at any byte offset; Int32Array needs 4.
        if (out.byteOffset % 4 !== 0)
          return new Int32Array(Uint8Array.prototype.slice.call(out).buffer, 0, words);
        return new Int32Array(out.buffer, out.byteOffset, words);
      },
    };
  },
};
