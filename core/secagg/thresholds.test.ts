import { describe, expect, it } from 'vitest';
import { resolveParams } from './params.js';
import { DEFAULT_SECAGG_FLOOR, paramsBelowFloor } from './policy.js';

// The probabilities behind README.md "Choosing k" and "30 % dropouts", recomputed: binomial and
// hypergeometric tails in log space, union bounds over the 500 neighbourhoods of a 500-site federation.
const SITES = 500;
const logFactorial = (() => {
  const table = [0];
  for (let i = 1; i <= 1000; i++) table.push(table[i - 1]! + Math.log(i));
  return (n: number) => table[n]!;
})();
const logChoose = (n: number, k: number) => logFactorial(n) - logFactorial(k) - logFactorial(n - k);
const binomial = (n: number, k: number, p: number) =>
  Math.exp(logChoose(n, k) + k * Math.log(p) + (n - k) * Math.log(1 - p));
/** P(Bin(n, p) ≥ t) */
const atLeast = (n: number, t: number, p: number) => {
  let sum = 0;
  for (let k = Math.max(0, t); k <= n; k++) sum += binomial(n, k, p);
  return sum;
};
/** P(Bin(n, p) < t), summed directly (1 − atLeast would lose the small values). */
const below = (n: number, t: number, p: number) => {
  let sum = 0;
  for (let k = 0; k < Math.min(t, n + 1); k++) sum += binomial(n, k, p);
  return sum;
};
/** P(X < t) for X the alive members of an n-member neighbourhood when exactly `alive` of SITES are alive. */
const hypergeometricBelow = (n: number, alive: number, t: number) => {
  let sum = 0;
  for (let x = Math.max(0, n - (SITES - alive)); x < Math.min(t, n + 1); x++)
    sum += Math.exp(logChoose(alive, x) + logChoose(SITES - alive, n - x) - logChoose(SITES, n));
  return sum;
};
const union = (p: number) => Math.min(1, SITES * p);
/** The largest corrupt fraction for which no neighbourhood has ≥ c corrupt members (union bound < limit). */
const tolerated = (n: number, c: number, limit = 1e-6) => {
  let [lo, hi] = [0, 1];
  for (let i = 0; i < 50; i++) {
    const mid = (lo + hi) / 2;
    if (union(atLeast(n, c, mid)) < limit) lo = mid;
    else hi = mid;
  }
  return lo;
};
/** Same order of magnitude (the README rounds to one significant digit). */
const about = (value: number, expected: number) => {
  expect(value).toBeGreaterThan(expected / 2);
  expect(value).toBeLessThan(expected * 2);
};

describe("README's table of parameters safe under grinding (commit-reveal graph, forced aborts)", () => {
  const rows = [
    { k: 100, t: 68, split: 35, round: 0.118, aborts: 0.092, drop10: 5e-8, policy: true },
    { k: 100, t: 76, split: 51, round: 0.231, aborts: 0.193, drop10: 2e-3, policy: true },
    { k: 254, t: 171, split: 87, round: 0.184, aborts: 0.162, drop10: 2e-21, policy: true },
    { k: 254, t: 191, split: 127, round: 0.318, aborts: 0.289, drop10: 6e-10, policy: true },
    { k: 254, t: 160, split: 65, round: 0.119, aborts: 0.101, drop10: 4e-29, policy: false },
    { k: 254, t: 155, split: 55, round: 0.092, aborts: 0.076, drop10: 6e-33, policy: false },
  ];
  for (const row of rows) {
    it(`k = ${row.k}, t_k = ${row.t}`, () => {
      const n = row.k + 1;
      expect(2 * row.t - n).toBe(row.split);
      expect(tolerated(n, row.split)).toBeCloseTo(row.round, 3);
      // 1,000 forced aborts, each a fresh fair graph: 1e-9 per round keeps the attacker below 1e-6.
      expect(tolerated(n, row.split, 1e-9)).toBeCloseTo(row.aborts, 3);
      about(union(below(n, row.t, 0.9)), row.drop10);
      const params = resolveParams(SITES, {
        vectorLength: 1,
        neighbours: row.k,
        neighbourhoodThreshold: row.t,
      });
      expect(paramsBelowFloor(params, DEFAULT_SECAGG_FLOOR) === undefined).toBe(row.policy);
    });
  }

  it('the grinding of issue 12: one session_id-seeded graph at k = 100, 18 % corrupt, has a split-view neighbourhood with probability up to 0.024', () => {
    about(union(atLeast(101, 35, 0.18)), 0.024);
  });
});

describe("README's SecAgg+ parameter table", () => {
  const rows = [
    { k: 100, t: 68, drop10: 5e-8, drop30: 1, exact30: 1, corrupt: 2e-9, split: 35, gamma: 0.118 },
    { k: 254, t: 171, drop10: 2e-21, drop30: 1, exact30: 1, corrupt: 2e-25, split: 87, gamma: 0.184 },
    { k: 254, t: 160, drop10: 4e-29, drop30: 1, exact30: 0.05, corrupt: 4e-19, split: 65, gamma: 0.119 },
    { k: 254, t: 155, drop10: 6e-33, drop30: 0.34, exact30: 6e-4, corrupt: 2e-16, split: 55, gamma: 0.092 },
  ];
  for (const row of rows) {
    it(`k = ${row.k}, t_k = ${row.t}`, () => {
      const n = row.k + 1;
      about(union(below(n, row.t, 0.9)), row.drop10);
      about(union(below(n, row.t, 0.7)), row.drop30);
      about(union(hypergeometricBelow(n, 350, row.t)), row.exact30);
      about(union(atLeast(n, row.t, 1 / 3)), row.corrupt);
      expect(2 * row.t - n).toBe(row.split);
      expect(tolerated(n, row.split)).toBeCloseTo(row.gamma, 3);
    });
  }
});
