import { describe, expect, it } from 'vitest';
import { verify } from './crypto.js';
import { nativeSodiumLoaded, nativeVerify } from './native.node.js';
import { sodium } from './sodium.js';

// The group order L of Ed25519, little-endian: S + L is the classic non-canonical (malleable) signature.
const ORDER = Uint8Array.from(
  Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex'),
);

function addOrder(s: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  let carry = 0;
  for (let i = 0; i < 32; i++) {
    const sum = s[i]! + ORDER[i]! + carry;
    out[i] = sum & 0xff;
    carry = sum >> 8;
  }
  return out;
}

describe('native Ed25519 verification (the coordinator’s signature checks)', () => {
  it('loads native libsodium on this machine', () => {
    expect(nativeSodiumLoaded).toBe(true);
  });

  it('gives the WebAssembly build’s verdict on valid and on every kind of bad signature', () => {
    const cases: { name: string; signature: Uint8Array; message: Uint8Array; publicKey: Uint8Array }[] = [];
    for (let trial = 0; trial < 20; trial++) {
      const { publicKey, privateKey } = sodium.crypto_sign_keypair();
      const other = sodium.crypto_sign_keypair().publicKey;
      const message = sodium.randombytes_buf(1 + trial * 13);
      const signature = sodium.crypto_sign_detached(message, privateKey);
      const flip = (bytes: Uint8Array, at: number) => {
        const out = bytes.slice();
        out[at % out.length]! ^= 1 << (trial % 8);
        return out;
      };
      const malleable = signature.slice();
      malleable.set(addOrder(signature.subarray(32)), 32);
      cases.push(
        { name: 'valid', signature, message, publicKey },
        { name: 'message changed', signature, message: flip(message, trial), publicKey },
        { name: 'R changed', signature: flip(signature, trial), message, publicKey },
        { name: 'S changed', signature: flip(signature, 32 + trial), message, publicKey },
        { name: 'S + L (non-canonical)', signature: malleable, message, publicKey },
        { name: 'another key', signature, message, publicKey: other },
        { name: 'key changed', signature, message, publicKey: flip(publicKey, trial) },
        { name: 'short signature', signature: signature.subarray(0, 63), message, publicKey },
        { name: 'long key', signature, message, publicKey: new Uint8Array([...publicKey, 0]) },
        { name: 'zero signature', signature: new Uint8Array(64), message, publicKey },
        // The identity point (a small-order key) with the zero signature verifies in lax implementations.
        { name: 'small-order key', signature: new Uint8Array(64), message, publicKey: identityPoint() },
      );
    }
    let valid = 0;
    for (const { name, signature, message, publicKey } of cases) {
      const expected = verify(signature, message, publicKey);
      expect(nativeVerify(signature, message, publicKey), name).toBe(expected);
      if (expected) valid++;
    }
    // Only the unchanged signatures verify (a flipped key bit can still be a valid point, but not the signer).
    expect(valid).toBe(20);
  });
});

function identityPoint(): Uint8Array {
  const point = new Uint8Array(32);
  point[0] = 1;
  return point;
}
