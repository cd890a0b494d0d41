import { describe, expect, it } from 'vitest';
import { maxCounter, quantizationErrorBound, seededRng } from '../secagg/encoding.js';
import {
  aggregatePlain,
  decodeAggregate,
  encodeContribution,
  roundEncodingSpec,
  roundMetrics,
  type SiteContribution,
} from './round-vector.js';

function contribution(seed: number, dimension: number, weight: number): SiteContribution {
  const rng = seededRng(seed);
  return {
    delta: Float32Array.from({ length: dimension }, () => (rng() - 0.5) * 0.02),
    weight,
    counters: {
      valClosedN: 40 + seed,
      valClosedCorrect: 30,
      valOpenN: 20,
      valOpenCorrect: 5 + seed,
      valLossMilli: 61_000,
      trainLossMilli: 90_000 + seed,
    },
  };
}

describe('round vector', () => {
  it('secure decoding equals plain aggregation up to the documented quantization bound, counters exactly', () => {
    const sites = [contribution(1, 500, 120), contribution(2, 500, 300), contribution(3, 500, 45)];
    const spec = roundEncodingSpec(1, sites.length);
    const encoded = sites.map((site, i) => encodeContribution(site, spec, seededRng(100 + i)));
    const sum = new Uint32Array(encoded[0]!.length);
    for (const vector of encoded) for (let i = 0; i < sum.length; i++) sum[i] = (sum[i]! + vector[i]!) >>> 0;
    const secure = decodeAggregate(sum, 500, spec);
    const plain = aggregatePlain(sites, 1);
    expect(secure.totalWeight).toBe(465);
    expect(secure.counters).toEqual(plain.counters);
    expect(secure.counters.valClosedN).toBe(41 + 42 + 43);
    const bound = quantizationErrorBound(spec, sites.length, secure.totalWeight);
    let worst = 0;
    for (let i = 0; i < 500; i++)
      worst = Math.max(worst, Math.abs(secure.meanDelta[i]! - plain.meanDelta[i]!));
    // float32 storage of the mean adds at most one ulp of values around 0.01.
    expect(worst).toBeLessThan(bound + 1e-9);
    expect(worst).toBeGreaterThan(0);
  });

  it('at 100 sites a training loss above the counter cap saturates instead of stopping the site', () => {
    const spec = roundEncodingSpec(1, 100);
    const site = contribution(1, 8, 10_000);
    site.counters.trainLossMilli = 3_000 * 10_000; // loss 3.0 over 10,000 examples: above the cap
    const encoded = encodeContribution(site, spec, seededRng(1));
    const decoded = decodeAggregate(encoded, 8, spec);
    expect(decoded.counters.trainLossMilli).toBe(maxCounter(100));
    expect(decoded.counters.valClosedN).toBe(41);
  });

  it('turns counters into federation-wide metrics', () => {
    const metrics = roundMetrics(aggregatePlain([contribution(0, 3, 10), contribution(0, 3, 30)], 1));
    expect(metrics.closedAcc).toBeCloseTo(60 / 80);
    expect(metrics.openAcc).toBeCloseTo(10 / 40);
    expect(metrics.overallAcc).toBeCloseTo(70 / 120);
    expect(metrics.valLoss).toBeCloseTo(122 / 120);
    expect(metrics.trainLoss).toBeCloseTo(180 / 40);
  });
});
