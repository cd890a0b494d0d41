import { afterAll, describe, expect, it } from 'vitest';
import { createWorkerMaskEngine } from './mask-engine.node.js';
import { defaultThreshold } from './params.js';
import { simulateRound } from './simulate.js';

// Sites and the coordinator both use worker threads (2 here; small jobs stay on the calling thread).
const clientEngine = createWorkerMaskEngine({ workers: 2 });
const serverEngine = createWorkerMaskEngine({ workers: 2 });
afterAll(() => Promise.all([clientEngine.close(), serverEngine.close()]));

/** Inputs spread over the whole uint32 range, so any wrong carry or sign would show. */
function randomInput(length: number): Uint32Array {
  const out = new Uint32Array(length);
  for (let i = 0; i < length; i += 16384)
    crypto.getRandomValues(out.subarray(i, Math.min(length, i + 16384)));
  return out;
}

describe('exact sums', () => {
  for (const n of [2, 3, 5, 10, 50]) {
    for (const length of [1, 1000, 1_000_000]) {
      it(`n=${n}, length=${length}: the unmasked sum equals the plain sum bit for bit`, async () => {
        // With dropouts after ShareKeys when the threshold allows, so dead sites' pairwise masks are removed too.
        const dropped = Math.min(n - defaultThreshold(n), 2);
        const sim = await simulateRound({
          n,
          params: length,
          inputs: () => randomInput(length),
          dropouts: { 'masked-input': Array.from({ length: dropped }, (_, i) => i) },
          clientEngine,
          serverEngine,
          measureTraffic: false,
        });
        expect(sim.result.included).toHaveLength(n - dropped);
        expect(sim.result.dropped).toHaveLength(dropped);
        expect(sim.exact).toBe(true);
        // The check itself can fail: a sum that is off by one word is not "exact".
        expect(sim.result.sum).not.toEqual(sim.expected.map((x, i) => (i === 0 ? x + 1 : x)));
      });
    }
  }
});
