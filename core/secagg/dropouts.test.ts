import { describe, expect, it } from 'vitest';
import { SecAggError } from './errors.js';
import { nativeMaskEngine } from './mask-engine.node.js';
import { DROP_STAGES, simulateRound, stagesFor, type DropStage } from './simulate.js';

const engine = nativeMaskEngine();
const n = 10;
const t = 7; // max(2, ⌊2·10/3⌋ + 1)
const base = { n, params: 257, clientEngine: engine, serverEngine: engine, measureTraffic: false };

/** Sites that drop at or before the masked input are not in the sum; later ones are (their y arrived). */
const inSum = (stage: DropStage) => DROP_STAGES.indexOf(stage) > DROP_STAGES.indexOf('masked-input');

describe('dropouts at every stage (n = 10, t = 7)', () => {
  for (const stage of stagesFor(undefined)) {
    it(`recovers the exact sum with n − t = 3 sites dropping before ${stage}`, async () => {
      const sim = await simulateRound({ ...base, dropouts: { [stage]: [0, 4, 9] } });
      expect(sim.exact).toBe(true);
      expect(sim.result.included).toHaveLength(inSum(stage) ? n : n - 3);
    });

    it(`aborts cleanly with n − t + 1 = 4 sites dropping before ${stage}`, async () => {
      const run = simulateRound({ ...base, dropouts: { [stage]: [1, 2, 3, 8] } });
      await expect(run).rejects.toBeInstanceOf(SecAggError);
      await expect(run).rejects.toMatchObject({ code: 'below-threshold' });
    });
  }

  it('recovers with n − t dropouts spread over stages, and aborts with one more', async () => {
    const spread = { 'share-keys': [0], 'masked-input': [1], unmask: [2] };
    const sim = await simulateRound({ ...base, dropouts: spread });
    expect(sim.exact).toBe(true);
    expect(sim.result.included).toHaveLength(8);
    expect(sim.result.sets.u5).toHaveLength(t);
    await expect(simulateRound({ ...base, dropouts: { ...spread, advertise: [3] } })).rejects.toMatchObject({
      code: 'below-threshold',
    });
  });

  it('honours a custom threshold (down to the floor ⌊n/2⌋ + 1 = 6)', async () => {
    const sim = await simulateRound({
      ...base,
      threshold: 6,
      dropouts: { 'masked-input': [0, 1, 2, 3] },
    });
    expect(sim.exact).toBe(true);
    expect(sim.result.included).toHaveLength(6);
    await expect(
      simulateRound({ ...base, threshold: 6, dropouts: { 'masked-input': [0, 1, 2, 3, 4] } }),
    ).rejects.toMatchObject({ code: 'below-threshold' });
  });
});

describe('dropouts with SecAgg+ neighbourhoods (n = 30, k = 8: 7 of 9 shares per neighbourhood)', () => {
  const plus = { ...base, n: 30, neighbours: 8 };
  /** The first site's neighbours, known once the coordinator has fixed U1 and session_id. */
  const neighboursOfFirst =
    (count: number, at: DropStage) => (stage: DropStage, server: { neighboursOf(s: string): string[] }) =>
      stage === at ? server.neighboursOf('site-001').slice(0, count) : [];

  it('aborts when a site of U1 does not reveal its graph seed (the graph needs all of them)', async () => {
    const run = simulateRound({ ...plus, dropouts: { reveal: [4] } });
    await expect(run).rejects.toMatchObject({ code: 'missing-reveal', message: /site-005/ });
    // Silent before its advert, a site is simply not in U1.
    const sim = await simulateRound({ ...plus, dropouts: { advertise: [4] } });
    expect(sim.exact).toBe(true);
    expect(sim.result.sets.u1).toHaveLength(29);
  });

  it('aborts cleanly when U1 is smaller than one neighbourhood threshold', async () => {
    // t = 6 of 10, k = 8 (7 of 9): the six sites left make U1 ≥ t, but one neighbourhood of six < 7.
    const run = simulateRound({
      ...base,
      threshold: 6,
      neighbours: 8,
      dropouts: { advertise: [0, 1, 2, 3] },
    });
    await expect(run).rejects.toMatchObject({ code: 'below-threshold' });
  });

  for (const stage of ['masked-input', 'unmask'] as const) {
    it(`recovers when a neighbourhood loses 2 members before ${stage}`, async () => {
      const sim = await simulateRound({ ...plus, dropouts: neighboursOfFirst(2, stage) });
      expect(sim.exact).toBe(true);
      expect(sim.result.included).toHaveLength(stage === 'masked-input' ? 28 : 30);
    });

    it(`aborts cleanly when a neighbourhood loses 3 members before ${stage}`, async () => {
      const run = simulateRound({ ...plus, onClientError: 'drop', dropouts: neighboursOfFirst(3, stage) });
      await expect(run).rejects.toMatchObject({ code: 'below-threshold' });
    });
  }

  it('recovers from 10 % dropouts spread so that no neighbourhood loses more than 2', async () => {
    const spread = (stage: DropStage, server: { neighboursOf(s: string): string[] }) => {
      if (stage !== 'masked-input') return [];
      const sites = Array.from({ length: 30 }, (_, i) => `site-${String(i + 1).padStart(3, '0')}`);
      const hood = (v: string) => new Set([v, ...server.neighboursOf(v)]);
      const chosen: string[] = [];
      for (const candidate of sites) {
        if (chosen.length === 3) break;
        const next = [...chosen, candidate];
        if (sites.every((v) => next.filter((d) => hood(v).has(d)).length <= 2)) chosen.push(candidate);
      }
      return chosen;
    };
    const sim = await simulateRound({ ...plus, dropouts: spread });
    expect(sim.exact).toBe(true);
    expect(sim.result.included).toHaveLength(27);
  });
});
