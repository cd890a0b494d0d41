import { describe, expect, it } from 'vitest';
import { resolveParams } from './params.js';
import {
  DEFAULT_SECURITY_POLICY,
  checkSiteParams,
  leastThreshold,
  securityPolicySchema,
  type SecurityPolicy,
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

describe("a site's security policy (checkSiteParams)", () => {
  it('the defaults: t > 2n/3, k ≥ 100 and t_k > 2(k + 1)/3 for SecAgg+, at least 3 sites', () => {
    expect(DEFAULT_SECURITY_POLICY).toEqual({
      minThresholdFraction: 2 / 3,
      minNeighbours: 100,
      minNeighbourhoodThresholdFraction: 2 / 3,
      minSites: 3,
    });
    // The protocol's own defaults always pass the default policy.
    for (const n of [3, 4, 5, 6, 10, 99, 100, 101, 255, 500, 1000])
      expect(checkSiteParams(params(n))).toEqual([]);
  });

  it('least thresholds are exact at fractions that are not binary (2/3 · 6 is 3.9999… in floating point)', () => {
    expect([3, 6, 9, 10, 100, 101].map((n) => leastThreshold(n, 2 / 3))).toEqual([3, 5, 7, 7, 67, 68]);
    expect([2, 3, 4, 5, 6].map((n) => leastThreshold(n, 0.5))).toEqual([2, 2, 3, 3, 4]);
    // Never below the protocol's floor, whatever the policy says.
    expect(leastThreshold(10, 0)).toBe(6);
  });

  it('declines each weakened parameter with its reason', () => {
    expect(checkSiteParams(params(6, { vectorLength: 1, threshold: 4 }))).toEqual([
      "threshold 4 of 6 sites is below this site's policy (at least 5)",
    ]);
    expect(checkSiteParams(params(2))).toEqual([
      "2 sites in the round, this site's policy requires at least 3",
    ]);
    expect(checkSiteParams(params(500, { vectorLength: 1, neighbours: 40 }))).toEqual([
      "neighbourhoods of 40 sites are below this site's policy (at least 100)",
    ]);
    expect(
      checkSiteParams(params(500, { vectorLength: 1, neighbours: 254, neighbourhoodThreshold: 160 })),
    ).toEqual(["neighbourhood threshold 160 of 255 is below this site's policy (at least 171)"]);
  });

  it('a looser policy accepts what the default declines; the complete graph has no neighbourhood floor', () => {
    const loose: SecurityPolicy = {
      minThresholdFraction: 0.5,
      minNeighbours: 40,
      minNeighbourhoodThresholdFraction: 0.6,
      minSites: 2,
    };
    expect(checkSiteParams(params(6, { vectorLength: 1, threshold: 4 }), loose)).toEqual([]);
    expect(checkSiteParams(params(2), loose)).toEqual([]);
    expect(
      checkSiteParams(params(500, { vectorLength: 1, neighbours: 254, neighbourhoodThreshold: 160 }), loose),
    ).toEqual([]);
    expect(checkSiteParams(params(20), { ...DEFAULT_SECURITY_POLICY, minNeighbours: 254 })).toEqual([]);
  });

  it('the policy schema takes fractions in [1/2, 1) and whole site counts', () => {
    expect(securityPolicySchema.parse(DEFAULT_SECURITY_POLICY)).toEqual(DEFAULT_SECURITY_POLICY);
    for (const bad of [
      { minThresholdFraction: 0.4 },
      { minThresholdFraction: 1 },
      { minNeighbourhoodThresholdFraction: 0.49 },
      { minNeighbours: 1 },
      { minSites: 1 },
      { minSites: 2.5 },
      { extra: true },
    ]) {
      expect(securityPolicySchema.safeParse({ ...DEFAULT_SECURITY_POLICY, ...bad }).success).toBe(false);
    }
  });
});
