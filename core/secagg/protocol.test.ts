import { afterAll, describe, expect, it } from 'vitest';
import { createWorkerMaskEngine } from './mask-engine.node.js';
import { defaultThreshold } from './params.js';
import { replayCoordinator, simulateRound, type SimulateOptions } from './simulate.js';

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

describe('the coordinator timed alone (cohort bench secagg)', () => {
  it('replays a recorded round into a fresh coordinator and gets the same sets and the same exact sum', async () => {
    const options: SimulateOptions = {
      n: 12,
      params: 5000,
      batchSigned: true,
      dropouts: { 'share-keys': [1], 'masked-input': [3, 7] },
      serverEngine,
      measureTraffic: false,
    };
    const sim = await simulateRound({ ...options, clientEngine, record: true });
    expect(sim.received?.map(({ stage, batched }) => `${stage}${batched ? ' (batch)' : ''}`)).toEqual([
      'advertise (batch)',
      'share-keys',
      'masked-input',
      'consistency (batch)',
      'unmask',
    ]);
    const replay = await replayCoordinator({ ...options, identities: sim.identities }, sim);
    expect(replay.exact).toBe(true);
    expect(replay.result.sum).toEqual(sim.result.sum);
    expect(replay.result.sets).toEqual(sim.result.sets);
    expect(replay.result.dropped).toEqual(['site-002', 'site-004', 'site-008']);
    expect(Object.values(replay.serverStageMs).every((ms) => ms > 0)).toBe(true);
    // A tampered recording is refused as the live coordinator would refuse it.
    const unmask = sim.received!.find(({ stage }) => stage === 'unmask')!;
    unmask.messages = unmask.messages.map(({ from, message }) => ({
      from,
      message: { ...(message as object), sessionId: 'x'.repeat(43) },
    }));
    await expect(replayCoordinator({ ...options, identities: sim.identities }, sim)).rejects.toThrow(
      /another session/,
    );
  });

  it('replays a SecAgg+ round, the graph commit-reveal stage included', async () => {
    const options: SimulateOptions = {
      n: 12,
      neighbours: 4,
      params: 500,
      serverEngine,
      measureTraffic: false,
    };
    const sim = await simulateRound({ ...options, clientEngine, record: true });
    expect(sim.received?.map(({ stage }) => stage)).toEqual([
      'advertise',
      'reveal',
      'share-keys',
      'masked-input',
      'consistency',
      'unmask',
    ]);
    const replay = await replayCoordinator({ ...options, identities: sim.identities }, sim);
    expect(replay.exact).toBe(true);
    expect(Object.keys(replay.serverStageMs)).toContain('reveal');
    expect(replay.result.sets).toEqual(sim.result.sets);
  });

  it('needs a recorded round', async () => {
    const sim = await simulateRound({ n: 3, params: 10, clientEngine, serverEngine, measureTraffic: false });
    await expect(replayCoordinator({ params: 10 }, sim)).rejects.toThrow(/record: true/);
  });
});
