import { combine, split } from 'shamir-secret-sharing';
import { describe, expect, it } from 'vitest';
import { sodium } from './sodium.js';

const equal = (a: Uint8Array, b: Uint8Array) => sodium.memcmp(a, b);

/** A random subset of `size` items (Fisher–Yates on a copy). */
function subset<T>(items: T[], size: number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = sodium.randombytes_uniform(i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, size);
}

describe('Shamir shares of 32-byte secrets (b_u and s_u^SK), as the protocol splits them', () => {
  // (shares, threshold) as used: complete graphs of 5, 10, 50 and 100 sites, SecAgg+ k = 100, the GF(2^8) maximum.
  for (const [n, t] of [
    [5, 4],
    [10, 7],
    [50, 34],
    [100, 67],
    [101, 68],
    [255, 171],
  ] as const) {
    it(`${t}-of-${n}: any t shares reconstruct; t − 1 shares give an unrelated value`, async () => {
      for (let trial = 0; trial < 3; trial++) {
        const secret = sodium.randombytes_buf(32);
        const shares = await split(secret, n, t);
        expect(equal(await combine(subset(shares, t)), secret)).toBe(true);
        expect(equal(await combine(subset(shares, n)), secret)).toBe(true);
        expect(equal(await combine(subset(shares, t - 1)), secret)).toBe(false);
      }
    });
  }

  it('t − 1 shares carry no information: what they interpolate to is uniform whatever the secret', async () => {
    // One-byte secrets 0x00 and 0xff, 3-of-5: the value two shares point to must be uniform over 0…255 for
    // both, i.e. independent of the secret. χ² with 255 degrees of freedom, P(> 420) < 1e-9.
    for (const value of [0x00, 0xff]) {
      const counts = new Array<number>(256).fill(0);
      const trials = 256 * 40;
      let hits = 0;
      for (let i = 0; i < trials; i++) {
        const shares = await split(Uint8Array.of(value), 5, 3);
        const guess = (await combine(subset(shares, 2)))[0]!;
        counts[guess]!++;
        if (guess === value) hits++;
      }
      const expected = trials / 256;
      const chi2 = counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
      expect(chi2).toBeLessThan(420);
      expect(hits).toBeLessThan(expected * 2);
    }
  });
});
