import { describe, expect, it } from 'vitest';
import type { FederationView } from '../../../core/site-api/contract.js';
import { progressPoints } from './progress-points.dom.js';

type Round = FederationView['federations'][number]['rounds'][number];
const round = (
  n: number,
  details: Record<string, unknown>,
  status: Round['status'] = 'completed',
): Round => ({
  round: n,
  status,
  reason: null,
  startedAt: '',
  finishedAt: null,
  startingVersion: n - 1,
  publishedVersion: n,
  details,
});

describe('progressPoints', () => {
  it('charts each round this site measured, in round order, as percentages', () => {
    const points = progressPoints([
      round(2, { trainLoss: 0.51234, validation: { n: 40, closedAcc: 0.8, openAcc: 0.25, overallAcc: 0.6 } }),
      round(1, { trainLoss: 1.2, validation: { n: 40, closedAcc: 0.5, openAcc: null, overallAcc: 0.4 } }),
    ]);
    expect(points).toEqual([
      { round: 1, version: 0, overall: 40, closed: 50, open: null, trainLoss: 1.2 },
      { round: 2, version: 1, overall: 60, closed: 80, open: 25, trainLoss: 0.512 },
    ]);
  });

  it('leaves out declined rounds and rounds that measured no example', () => {
    const points = progressPoints([
      round(1, {}, 'declined'),
      round(2, { validation: { n: 0, closedAcc: null, openAcc: null, overallAcc: null } }),
      round(3, { validation: { n: 10, closedAcc: 0.1, openAcc: 0.1, overallAcc: 0.1 } }),
    ]);
    expect(points.map((p) => p.round)).toEqual([3]);
  });
});
