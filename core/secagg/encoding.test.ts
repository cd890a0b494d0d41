import { describe, expect, it } from 'vitest';
import {
  chooseBits,
  clipL2,
  decodeSum,
  encodeUpdate,
  encodedLength,
  maxCounter,
  quantizationErrorBound,
  seededRng,
  type EncodingSpec,
} from './encoding.js';
import { nativeMaskEngine } from './mask-engine.node.js';
import { simulateRound } from './simulate.js';

/** Plain modular sum, as secure aggregation computes it. */
function sumWords(vectors: Uint32Array[]): Uint32Array {
  const out = new Uint32Array(vectors[0]!.length);
  for (const v of vectors) for (let i = 0; i < out.length; i++) out[i] = out[i]! + v[i]!;
  return out;
}

/** Normal(0, 1) from a seeded uniform generator (Box–Muller). */
function gaussian(rng: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

describe('chooseBits', () => {
  it('gives the largest B with B + ⌈log2 nMax⌉ ≤ 31', () => {
    expect([1, 2, 3, 10, 50, 100, 500, 1000].map(chooseBits)).toEqual([31, 30, 29, 27, 25, 24, 22, 21]);
    for (let n = 1; n <= 5000; n++) {
      const b = chooseBits(n);
      expect(b + Math.ceil(Math.log2(n))).toBeLessThanOrEqual(31);
      expect(b + 1 + Math.ceil(Math.log2(n))).toBeGreaterThan(31);
    }
    expect(() => chooseBits(0)).toThrow(RangeError);
  });
});

describe('clipL2', () => {
  it('scales to norm C only when the norm exceeds C', () => {
    const { clipped, norm } = clipL2([3, 4], 1);
    expect(norm).toBe(5);
    expect(Math.hypot(...clipped)).toBeCloseTo(1, 12);
    expect([...clipL2([0.3, 0.4], 1).clipped]).toEqual([0.3, 0.4]);
    expect(() => clipL2([NaN], 1)).toThrow(RangeError);
  });
});

describe('encode → sum → decode', () => {
  const nMax = 50;
  const spec: EncodingSpec = { clip: 2, bits: chooseBits(nMax), maxWeight: 1000, nMax, counters: 2 };

  it('cannot overflow: nMax sites at the extremes decode to the exact integer sums', () => {
    for (const sign of [1, -1]) {
      const vectors = Array.from({ length: nMax }, () =>
        // All mass on one coordinate: after clipping it sits at ±C, the largest |q| allowed.
        encodeUpdate(
          { update: [sign * 1e6, 0, -sign * 1e-9], weight: spec.maxWeight, counters: [maxCounter(nMax), 0] },
          spec,
          seededRng(1),
        ),
      );
      const max = 2 ** (spec.bits - 1) - 1;
      const ints = new Int32Array(sumWords(vectors).buffer);
      expect(ints[0]).toBe(sign * nMax * max);
      const decoded = decodeSum(sumWords(vectors), 3, spec);
      expect(decoded.totalWeight).toBe(nMax * spec.maxWeight);
      expect(decoded.counters).toEqual([nMax * maxCounter(nMax), 0]);
      expect(decoded.mean[0]).toBeCloseTo(sign * spec.clip, 6);
    }
  });

  it('stays within the documented error bound (and the bound is not vacuous)', () => {
    const rng = seededRng(42);
    const sites = 20;
    const d = 2000;
    const updates = Array.from({ length: sites }, (_, u) =>
      Float64Array.from({ length: d }, () => gaussian(rng) * (u % 2 ? 0.01 : 1)),
    );
    const weights = Array.from({ length: sites }, (_, u) => 1 + ((u * 137) % spec.maxWeight));
    const encoded = updates.map((update, u) =>
      encodeUpdate({ update, weight: weights[u]!, counters: [u, 2 * u] }, spec, rng),
    );
    const decoded = decodeSum(sumWords(encoded), d, spec);
    const totalWeight = weights.reduce((a, b) => a + b, 0);
    expect(decoded.totalWeight).toBe(totalWeight);
    expect(decoded.counters).toEqual([(sites * (sites - 1)) / 2, sites * (sites - 1)]);

    const trueMean = new Float64Array(d);
    updates.forEach((update, u) => {
      const { clipped } = clipL2(update, spec.clip);
      for (let i = 0; i < d; i++) trueMean[i]! += (weights[u]! * clipped[i]!) / totalWeight;
    });
    const bound = quantizationErrorBound(spec, sites, totalWeight);
    let worst = 0;
    let meanAbs = 0;
    for (let i = 0; i < d; i++) {
      const error = Math.abs(decoded.mean[i]! - trueMean[i]!);
      worst = Math.max(worst, error);
      meanAbs += error / d;
    }
    expect(worst).toBeLessThan(bound);
    // Unbiased rounding: typical errors are ~√N/N of the worst case, far inside it.
    expect(meanAbs).toBeLessThan(bound / 2);
    // Without stochastic rounding's error (e.g. if the scale were wrong by 1 %), the check would fail.
    const wrongScale = decoded.mean.map((m) => m * 1.01);
    expect(Math.max(...wrongScale.map((m, i) => Math.abs(m - trueMean[i]!)))).toBeGreaterThan(bound);
  });

  it('rounds without bias', () => {
    const tiny: EncodingSpec = { clip: 1, bits: 3, maxWeight: 1, nMax: 1, counters: 0 };
    // One coordinate worth 0.3 quantized units (scale = (2^2 − 1)/1 = 3): rounds to 0 or 1, mean 0.3.
    const rng = seededRng(7);
    let total = 0;
    const draws = 100_000;
    for (let i = 0; i < draws; i++) total += encodeUpdate({ update: [0.1], weight: 1 }, tiny, rng)[0]!;
    expect(Math.abs(total / draws - 0.3)).toBeLessThan(5 * Math.sqrt(0.21 / draws));
  });

  it('refuses specs and inputs that could overflow', () => {
    expect(() =>
      encodeUpdate({ update: [1], weight: 1, counters: [0, 0] }, { ...spec, bits: spec.bits + 1 }),
    ).toThrow(/bits/);
    expect(() => encodeUpdate({ update: [1], weight: spec.maxWeight + 1, counters: [0, 0] }, spec)).toThrow(
      /weight/,
    );
    expect(() => encodeUpdate({ update: [1], weight: 1, counters: [0] }, spec)).toThrow(/counters/);
  });

  it('saturates counters at the cap instead of refusing them (no value stops a site from sending)', () => {
    const cap = maxCounter(nMax);
    const counters = (values: number[]) =>
      Array.from(encodeUpdate({ update: [1], weight: 1, counters: values }, spec).subarray(2));
    expect(counters([cap + 1, cap])).toEqual([cap, cap]);
    expect(counters([Infinity, 2 ** 60])).toEqual([cap, cap]);
    // A diverged loss (NaN) counts as the cap; a negative or fractional figure as the nearest allowed one.
    expect(counters([NaN, -5])).toEqual([cap, 0]);
    expect(counters([2.4, 2.6])).toEqual([2, 3]);
  });

  it('100 sites whose training-loss counter is above its cap still send their masked inputs; the sum saturates', async () => {
    const sites = 100;
    const wide: EncodingSpec = {
      clip: 1,
      bits: chooseBits(sites),
      maxWeight: 1000,
      nMax: sites,
      counters: 2,
    };
    const cap = maxCounter(sites);
    const engine = nativeMaskEngine();
    const sim = await simulateRound({
      n: sites,
      params: encodedLength(4, wide),
      // Each site: 10,000 training examples at a loss of 3.0 gives 30,000,000 milli-units, above the cap.
      inputs: (_site, u) =>
        encodeUpdate({ update: [0.1, 0, 0, 0], weight: 1000, counters: [30_000_000, u] }, wide, seededRng(u)),
      // SecAgg+ with small neighbourhoods keeps the round cheap; the encoding only depends on nMax.
      neighbours: 10,
      clientEngine: engine,
      serverEngine: engine,
      measureTraffic: false,
    });
    expect(sim.exact).toBe(true);
    expect(sim.result.included).toHaveLength(sites);
    const decoded = decodeSum(sim.result.sum, 4, wide);
    expect(decoded.counters).toEqual([sites * cap, (sites * (sites - 1)) / 2]);
    expect(decoded.totalWeight).toBe(sites * 1000);
  });

  it('decodes the secure-aggregation sum of real sites within the bound', async () => {
    const rng = seededRng(3);
    const sites = 7;
    const d = 500;
    const updates = Array.from({ length: sites }, () =>
      Float64Array.from({ length: d }, () => gaussian(rng) * 0.1),
    );
    const weights = updates.map((_, u) => 10 * (u + 1));
    const engine = nativeMaskEngine();
    const sim = await simulateRound({
      n: sites,
      params: encodedLength(d, spec),
      inputs: (_site, u) =>
        encodeUpdate({ update: updates[u]!, weight: weights[u]!, counters: [u, 1] }, spec, rng),
      dropouts: { 'masked-input': [6] },
      clientEngine: engine,
      serverEngine: engine,
    });
    expect(sim.exact).toBe(true);
    const decoded = decodeSum(sim.result.sum, d, spec);
    const included = [0, 1, 2, 3, 4, 5];
    const totalWeight = included.reduce((s, u) => s + weights[u]!, 0);
    expect(decoded.totalWeight).toBe(totalWeight);
    expect(decoded.counters).toEqual([15, 6]);
    const bound = quantizationErrorBound(spec, included.length, totalWeight);
    for (let i = 0; i < d; i++) {
      let mean = 0;
      for (const u of included)
        mean += (weights[u]! * clipL2(updates[u]!, spec.clip).clipped[i]!) / totalWeight;
      expect(Math.abs(decoded.mean[i]! - mean)).toBeLessThan(bound);
    }
  });
});
