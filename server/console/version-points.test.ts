import { describe, expect, it } from 'vitest';
import type { AdminRound, AdminRoundMetrics } from '../../core/protocol/admin.js';
import { versionPoints } from './version-points.dom.js';

const round = (n: number, metrics: Partial<AdminRoundMetrics> | null): AdminRound => ({
  federationId: 'f',
  round: n,
  state: 'completed',
  baseVersion: n - 1,
  startedAt: '',
  finishedAt: null,
  participants: [],
  included: [],
  dropped: [],
  metrics: metrics && {
    startingVersion: n - 1,
    valExamples: 10,
    trainExamples: 10,
    closedAcc: 0.5,
    openAcc: 0.25,
    overallAcc: 0.4,
    valLoss: 1.23456,
    trainLoss: 1,
    ...metrics,
  },
  timings: null,
  error: null,
});

describe('versionPoints', () => {
  it('gives one point per measured version, in version order, as percentages', () => {
    const points = versionPoints([round(3, { overallAcc: 0.6123 }), round(1, {}), round(2, null)]);
    expect(points.map((p) => p.version)).toEqual([0, 2]);
    expect(points[0]).toEqual({ version: 0, overall: 40, closed: 50, open: 25, valLoss: 1.235 });
    expect(points[1]!.overall).toBe(61.2);
  });

  it('keeps the latest measurement of a version and skips rounds that measured nothing', () => {
    const again = { ...round(2, { startingVersion: 0, overallAcc: 0.7 }) };
    const empty = round(3, { valExamples: 0 });
    const points = versionPoints([round(1, {}), again, empty]);
    expect(points).toHaveLength(1);
    expect(points[0]!.overall).toBe(70);
  });
});
