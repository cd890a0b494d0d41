import { describe, expect, it } from 'vitest';
import { generateIdentity, keyFingerprint, signDomain, verifyDomain } from './identity.js';
import { domainMessage, fromBase64, toBase64 } from './sodium.js';

describe('base64url', () => {
  it('round-trips every length and matches Node', () => {
    for (let n = 0; n < 70; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
      const encoded = toBase64(bytes);
      expect(encoded).toBe(Buffer.from(bytes).toString('base64url'));
      expect(fromBase64(encoded)).toEqual(bytes);
    }
  });

  it('rejects characters outside the URL-safe alphabet', () => {
    expect(() => fromBase64('ab+/')).toThrow(/base64/);
    expect(() => fromBase64('abcde')).toThrow(/base64/);
  });
});

describe('domain-separated signatures', () => {
  it('length-prefixes parts so different splits never collide', () => {
    expect(domainMessage('d', 'ab', 'c')).not.toEqual(domainMessage('d', 'a', 'bc'));
  });

  it('verifies only the exact domain, parts and key', async () => {
    const alice = await generateIdentity();
    const mallory = await generateIdentity();
    const signature = await signDomain(alice.secretKey, 'cohort/test/v1', 'site-1', new Uint8Array([1, 2]));
    expect(
      await verifyDomain(alice.publicKey, signature, 'cohort/test/v1', 'site-1', new Uint8Array([1, 2])),
    ).toBe(true);
    expect(
      await verifyDomain(alice.publicKey, signature, 'cohort/other/v1', 'site-1', new Uint8Array([1, 2])),
    ).toBe(false);
    expect(
      await verifyDomain(alice.publicKey, signature, 'cohort/test/v1', 'site-2', new Uint8Array([1, 2])),
    ).toBe(false);
    expect(
      await verifyDomain(mallory.publicKey, signature, 'cohort/test/v1', 'site-1', new Uint8Array([1, 2])),
    ).toBe(false);
    expect(await verifyDomain(alice.publicKey, 'not-a-signature', 'cohort/test/v1', 'site-1')).toBe(false);
  });

  it('formats fingerprints as eight groups of four hex digits', async () => {
    const { publicKey } = await generateIdentity();
    expect(await keyFingerprint(publicKey)).toMatch(/^([0-9a-f]{4} ){7}[0-9a-f]{4}$/);
  });
});
