import { describe, expect, it } from 'vitest';
import { InThreadMaskEngine } from './mask.js';
import type { PrgFactory } from './prg.js';
import { opensslPrg } from './prg.node.js';
import { makeIdentities, simulateRound } from './simulate.js';

/** χ² of one byte lane of `words` against uniform (255 degrees of freedom). */
function chiSquare(words: Uint32Array, shift: number): number {
  const counts = new Array<number>(256).fill(0);
  for (const w of words) counts[(w >>> shift) & 0xff]!++;
  const expected = words.length / 256;
  return counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
}
/** P(χ²₂₅₅ > 420) < 1e-9. */
const CHI2_LIMIT = 420;

/** How often each bit position is set, in standard deviations from one half (worst position). */
function worstBitBias(words: Uint32Array): number {
  let worst = 0;
  for (let bit = 0; bit < 32; bit++) {
    let ones = 0;
    for (const w of words) ones += (w >>> bit) & 1;
    worst = Math.max(worst, Math.abs(ones - words.length / 2) / Math.sqrt(words.length / 4));
  }
  return worst;
}

describe('masked inputs look uniform', () => {
  it('every masked vector passes χ² on each byte lane and a per-bit balance test, for all-zero inputs', async () => {
    const length = 65_536;
    const seen: Uint32Array[] = [];
    const sim = await simulateRound({
      n: 4,
      params: length,
      inputs: () => new Uint32Array(length),
      clientEngine: new InThreadMaskEngine(opensslPrg),
      observe: (_site, message) => {
        if (message.type === 'masked-input') seen.push(message.vector.slice());
      },
    });
    expect(sim.exact).toBe(true);
    expect(seen).toHaveLength(4);
    for (const y of seen) {
      for (const shift of [0, 8, 16, 24]) expect(chiSquare(y, shift)).toBeLessThan(CHI2_LIMIT);
      expect(worstBitBias(y)).toBeLessThan(6.5);
    }
    // The tests can fail: the unmasked input does, and so does a masked vector with one stuck bit.
    expect(chiSquare(new Uint32Array(length), 0)).toBeGreaterThan(CHI2_LIMIT);
    expect(worstBitBias(seen[0]!.map((w) => w & 0xfffffffe))).toBeGreaterThan(6.5);
  });
});

/** A PRG that records every key it is asked for (hex), then defers to OpenSSL. */
function recordingPrg(log: string[]): PrgFactory {
  return {
    name: 'recording',
    open(key, block) {
      log.push(Buffer.from(key).toString('hex'));
      return opensslPrg.open(key, block);
    },
  };
}

describe('mask seeds never repeat', () => {
  it('across rounds, pairs and streams: each self seed is used once, each pair seed by exactly its two sites', async () => {
    const n = 6;
    const identities = makeIdentities(n);
    const rounds: string[][] = [];
    for (const round of [1, 2]) {
      const log: string[] = [];
      const sim = await simulateRound({
        identities,
        params: 100,
        session: { round },
        clientEngine: new InThreadMaskEngine(recordingPrg(log)),
      });
      expect(sim.exact).toBe(true);
      const uses = new Map<string, number>();
      for (const key of log) uses.set(key, (uses.get(key) ?? 0) + 1);
      // n self seeds used once + n(n−1)/2 pair seeds used twice (once by each end): one stream per key per
      // site, so no two vectors, tensors or pairs ever share keystream.
      expect([...uses.values()].filter((c) => c === 1)).toHaveLength(n);
      expect([...uses.values()].filter((c) => c === 2)).toHaveLength((n * (n - 1)) / 2);
      expect(uses.size).toBe(n + (n * (n - 1)) / 2);
      rounds.push([...uses.keys()]);
    }
    const first = new Set(rounds[0]);
    expect(rounds[1]!.filter((key) => first.has(key))).toEqual([]);
  });
});
