import { describe, expect, it } from 'vitest';
import {
  formatPercentSpread,
  formatPointsSpread,
  spread,
  summariseSeeds,
  summaryLines,
  type Accuracies,
  type SeedRun,
} from './demo-summary.js';

const acc = (closed: number | null, open: number | null, overall: number | null): Accuracies => ({
  closed_acc: closed,
  open_acc: open,
  overall_acc: overall,
});

describe('spread', () => {
  it('gives the mean and the sample standard deviation of the figures present', () => {
    const s = spread([0.5, 0.6, null, 0.7, undefined]);
    expect(s.n).toBe(3);
    expect(s.mean).toBeCloseTo(0.6, 12);
    expect(s.sd).toBeCloseTo(0.1, 12); // (0.01 + 0 + 0.01) / 2 = 0.01
  });

  it('has no standard deviation for one figure and no mean for none', () => {
    expect(spread([0.42])).toEqual({ mean: 0.42, sd: null, n: 1 });
    expect(spread([null, Number.NaN])).toEqual({ mean: null, sd: null, n: 0 });
  });
});

describe('summariseSeeds', () => {
  const runs: SeedRun[] = [
    {
      seed: 7,
      federated: acc(0.55, 0.1, 0.3),
      baselines: {
        local_only: [
          { site: 'A', ...acc(0.5, 0.05, 0.25) },
          { site: 'B', ...acc(0.53, 0.02, 0.26) },
        ],
        centralized: acc(0.56, 0.12, 0.32),
      },
    },
    {
      seed: 8,
      federated: acc(0.51, 0.08, 0.28),
      baselines: {
        local_only: [
          { site: 'A', ...acc(0.54, 0.04, 0.27) },
          { site: 'B', ...acc(0.49, 0.03, 0.24) },
        ],
        centralized: acc(0.52, null, 0.3),
      },
    },
  ];

  it('averages every model per answer type, site by site', () => {
    const summary = summariseSeeds(runs);
    expect(summary.seeds).toEqual([7, 8]);
    expect(summary.federated.closed_acc.mean).toBeCloseTo(0.53, 12);
    expect(summary.federated.closed_acc.sd).toBeCloseTo(Math.sqrt(0.0008), 12);
    expect(summary.local_only!.map((l) => l.site)).toEqual(['A', 'B']);
    expect(summary.local_only![0]!.closed_acc.mean).toBeCloseTo(0.52, 12);
    expect(summary.local_only![1]!.overall_acc.mean).toBeCloseTo(0.25, 12);
    // A figure one seed lacks is left out of that mean rather than counted as zero.
    expect(summary.centralized!.open_acc).toEqual({ mean: 0.12, sd: null, n: 1 });
  });

  it('pairs the closed-accuracy gaps within each seed', () => {
    const gap = summariseSeeds(runs).closed_gap!;
    // Seed 7: 0.55 − 0.56 and 0.55 − 0.53; seed 8: 0.51 − 0.52 and 0.51 − 0.54.
    expect(gap.vs_centralized.mean).toBeCloseTo(-0.01, 12);
    expect(gap.vs_centralized.sd).toBeCloseTo(0, 12);
    expect(gap.vs_best_local_only.mean).toBeCloseTo((0.02 - 0.03) / 2, 12);
  });

  it('summarises the federated model alone when there are no baselines', () => {
    const summary = summariseSeeds(runs.map(({ seed, federated }) => ({ seed, federated })));
    expect(summary.local_only).toBeUndefined();
    expect(summary.closed_gap).toBeUndefined();
    expect(summary.federated.overall_acc.mean).toBeCloseTo(0.29, 12);
  });

  it('prints one row per model and the two paired gaps', () => {
    const lines = summaryLines(summariseSeeds(runs));
    expect(lines).toHaveLength(1 + 4 + 2);
    expect(lines[1]).toContain('federated (final version)');
    expect(lines[1]).toContain('53.0 ± 2.8%');
    expect(lines[2]).toContain('local only: A');
    expect(lines[5]).toContain('−1.0 ± 0.0 points');
  });
});

describe('formatting', () => {
  it('writes percentages and signed point differences', () => {
    expect(formatPercentSpread({ mean: 0.5312, sd: 0.0121, n: 3 })).toBe('53.1 ± 1.2%');
    expect(formatPercentSpread({ mean: 0.5, sd: null, n: 1 })).toBe('50.0%');
    expect(formatPercentSpread({ mean: null, sd: null, n: 0 })).toBe('–');
    expect(formatPointsSpread({ mean: 0.013, sd: 0.02, n: 4 })).toBe('+1.3 ± 2.0 points');
    expect(formatPointsSpread({ mean: -0.004, sd: null, n: 1 })).toBe('−0.4 points');
    expect(formatPointsSpread({ mean: -0.0000001, sd: 0.01, n: 2 })).toBe('+0.0 ± 1.0 points');
  });
});
