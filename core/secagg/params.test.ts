import { describe, expect, it } from 'vitest';
import { nativeMaskEngine } from './mask-engine.node.js';
import { defaultThreshold, neighbourhoods, resolveParams } from './params.js';
import { simulateRound } from './simulate.js';
import { sodium } from './sodium.js';

const sites = (n: number) => Array.from({ length: n }, (_, i) => `s${String(i).padStart(3, '0')}`);

describe('thresholds and graphs', () => {
  it('t = max(2, ⌊2n/3⌋ + 1)', () => {
    expect([2, 3, 5, 10, 50, 100, 500].map(defaultThreshold)).toEqual([2, 3, 4, 7, 34, 67, 334]);
  });

  it('complete graph up to 100 sites, SecAgg+ with k = 100 (68 of 101) above; options validated', () => {
    expect(resolveParams(100, { vectorLength: 1 })).toMatchObject({
      neighbours: undefined,
      threshold: 67,
      neighbourhoodThreshold: 67,
    });
    expect(resolveParams(500, { vectorLength: 1 })).toMatchObject({
      neighbours: 100,
      threshold: 334,
      neighbourhoodThreshold: 68,
    });
    expect(resolveParams(200, { vectorLength: 1, neighbours: 'complete' })).toMatchObject({
      neighbours: undefined,
    });
    expect(resolveParams(20, { vectorLength: 1, neighbours: 30 })).toMatchObject({ neighbours: undefined });
    expect(() => resolveParams(300, { vectorLength: 1, neighbours: 'complete' })).toThrow(/at most 255/);
    expect(() => resolveParams(50, { vectorLength: 1, neighbours: 7 })).toThrow(/even/);
    expect(() => resolveParams(10, { vectorLength: 1, threshold: 1 })).toThrow(/threshold/);
    expect(() => resolveParams(10, { vectorLength: 0 })).toThrow(/vectorLength/);
  });

  it('the SecAgg+ graph is k-regular, symmetric, derived from its seed only, and different per seed', () => {
    const u1 = sites(60);
    const sid = sodium.randombytes_buf(32);
    const graph = neighbourhoods(sid, u1, 10);
    for (const [site, list] of graph) {
      expect(new Set(list).size).toBe(10);
      expect(list).not.toContain(site);
      for (const other of list) expect(graph.get(other)).toContain(site);
    }
    expect(neighbourhoods(sid, [...u1].reverse(), 10)).toEqual(graph);
    expect(neighbourhoods(sodium.randombytes_buf(32), u1, 10)).not.toEqual(graph);
  });

  it('over many sessions every pair is adjacent about k/(n−1) of the time (the ring order is uniform)', () => {
    const n = 12;
    const k = 4;
    const u1 = sites(n);
    const counts = new Map<string, number>();
    const sessions = 3000;
    for (let s = 0; s < sessions; s++) {
      for (const [site, list] of neighbourhoods(sodium.randombytes_buf(32), u1, k)) {
        for (const other of list)
          if (site < other) counts.set(`${site}|${other}`, (counts.get(`${site}|${other}`) ?? 0) + 1);
      }
    }
    const p = k / (n - 1);
    const sd = Math.sqrt(sessions * p * (1 - p));
    expect(counts.size).toBe((n * (n - 1)) / 2);
    for (const c of counts.values()) expect(Math.abs(c - sessions * p)).toBeLessThan(6 * sd);
  });

  it('a SecAgg+ round is exact, and each site masks and shares only within its neighbourhood', async () => {
    const engine = nativeMaskEngine();
    let shareCount = 0;
    const sim = await simulateRound({
      n: 40,
      neighbours: 10,
      params: 1000,
      dropouts: { 'masked-input': [5] },
      clientEngine: engine,
      serverEngine: engine,
      observe: (_site, message) => {
        if (message.type === 'share-keys') {
          expect(message.shares).toHaveLength(10);
          shareCount++;
        }
      },
    });
    expect(shareCount).toBe(40);
    expect(sim.exact).toBe(true);
    expect(sim.result.included).toHaveLength(39);
  });
});
