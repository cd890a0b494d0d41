import { describe, expect, it } from 'vitest';
import { resolveParams } from './params.js';
import {
  DEFAULT_SECAGG_FLOOR,
  leastThreshold,
  paramsBelowFloor,
  thresholdMeetsFloor,
  type SecAggFloor,
} from './policy.js';

const params = (n: number, options: Parameters<typeof resolveParams>[1] = { vectorLength: 1 }) =>
  resolveParams(n, options);

describe('the protocol floor t ≥ ⌊n/2⌋ + 1 (resolveParams)', () => {
  it('refuses a global threshold of half the roster or less, accepts one more', () => {
    for (const n of [2, 3, 4, 5, 6, 7, 10, 101, 500]) {
      const floor = Math.floor(n / 2) + 1;
      const options = (threshold: number) => ({ vectorLength: 1, threshold, neighbours: 100 });
      expect(() => resolveParams(n, options(floor - 1))).toThrow(/threshold/);
      expect(resolveParams(n, options(floor)).threshold).toBe(floor);
    }
  });

  it('refuses a neighbourhood threshold of half the neighbourhood or less', () => {
    const options = (neighbourhoodThreshold: number) => ({
      vectorLength: 1,
      neighbours: 100,
      neighbourhoodThreshold,
    });
    expect(() => resolveParams(500, options(50))).toThrow(/neighbourhoodThreshold/);
    expect(() => resolveParams(500, options(51 - 1))).toThrow(/51/);
    expect(resolveParams(500, options(51)).neighbourhoodThreshold).toBe(51);
  });
});

const twoThirds = { numerator: 2, denominator: 3 };
const half = { numerator: 1, denominator: 2 };

describe("a site's floor on secure aggregation's parameters (paramsBelowFloor)", () => {
  it('the default: t > 2n/3, and k ≥ 100 with t_k > 2(k + 1)/3 for SecAgg+', () => {
    expect(DEFAULT_SECAGG_FLOOR).toEqual({ minThreshold: twoThirds, minNeighbours: 100 });
    // The protocol's own defaults always pass the default floor.
    for (const n of [2, 3, 4, 5, 6, 10, 99, 100, 101, 255, 500, 1000])
      expect(paramsBelowFloor(params(n), DEFAULT_SECAGG_FLOOR)).toBeUndefined();
  });

  it('is exact in integers: 4 of 6 fails (2/3 · 6 is 3.9999… in floating point), 5 of 6 passes', () => {
    expect(thresholdMeetsFloor(4, 6, twoThirds)).toBe(false);
    expect(thresholdMeetsFloor(5, 6, twoThirds)).toBe(true);
    expect([2, 3, 6, 9, 10, 100, 101].map((n) => leastThreshold(n, twoThirds))).toEqual([
      2, 3, 5, 7, 7, 67, 68,
    ]);
  });

  it('never goes below a strict majority, even at a fraction of one half or none', () => {
    expect([2, 3, 4, 5, 6, 7].map((n) => leastThreshold(n, half))).toEqual([2, 2, 3, 3, 4, 4]);
    expect(thresholdMeetsFloor(3, 6, half)).toBe(false);
    expect(leastThreshold(10, { numerator: 0, denominator: 1 })).toBe(6);
  });

  it('names the first weakened parameter and the least it would accept', () => {
    expect(paramsBelowFloor(params(6, { vectorLength: 1, threshold: 4 }), DEFAULT_SECAGG_FLOOR)).toBe(
      'threshold 4 of 6 sites; this site requires more than 2/3 of the roster and a strict majority (at least 5)',
    );
    expect(paramsBelowFloor(params(500, { vectorLength: 1, neighbours: 40 }), DEFAULT_SECAGG_FLOOR)).toBe(
      'SecAgg+ neighbourhoods of 40 sites; this site requires at least 100',
    );
    expect(
      paramsBelowFloor(
        params(500, { vectorLength: 1, neighbours: 254, neighbourhoodThreshold: 160 }),
        DEFAULT_SECAGG_FLOOR,
      ),
    ).toBe('neighbourhood threshold 160 of 255; this site requires at least 171');
  });

  it('a looser floor accepts what the default declines; the complete graph has no neighbourhood floor', () => {
    const loose: SecAggFloor = { minThreshold: half, minNeighbours: 40 };
    expect(paramsBelowFloor(params(6, { vectorLength: 1, threshold: 4 }), loose)).toBeUndefined();
    expect(
      paramsBelowFloor(params(500, { vectorLength: 1, neighbours: 254, neighbourhoodThreshold: 160 }), loose),
    ).toBeUndefined();
    expect(paramsBelowFloor(params(20), { ...DEFAULT_SECAGG_FLOOR, minNeighbours: 254 })).toBeUndefined();
  });
});
