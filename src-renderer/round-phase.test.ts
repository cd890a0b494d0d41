import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration, formatPercent, fraction, pageRange, shortHash } from './format.dom.js';
import type { SiteRoundOutcome, SiteUpload } from '../core/protocol/round-vocabulary.js';
import { ROUND_STEPS, describeRoundPhase, localRoundFigures } from './round-phase.dom.js';

// Written out (and checked against the vocabulary by the compiler): a new outcome or upload fails here.
const OUTCOME_SET: Record<SiteRoundOutcome, true> = {
  completed: true,
  dropped: true,
  aborted: true,
  left: true,
  declined: true,
  interrupted: true,
};
const OUTCOMES = Object.keys(OUTCOME_SET) as SiteRoundOutcome[];
const UPLOAD_SET: Record<SiteUpload, true> = {
  advertise: true,
  reveal: true,
  'share-keys': true,
  'masked-input': true,
  consistency: true,
  unmask: true,
  'plain-update': true,
};
const UPLOADS = Object.keys(UPLOAD_SET) as SiteUpload[];

describe('round phases', () => {
  it('places every phase the federation client reports on the right step', () => {
    expect(describeRoundPhase('joined').step).toBe(0);
    expect(describeRoundPhase('evaluate').step).toBe(1);
    expect(describeRoundPhase('train').step).toBe(2);
    expect(describeRoundPhase('trained').step).toBe(3);
    expect(describeRoundPhase('evaluated')).toMatchObject({ step: 3, outcome: null });
    expect(describeRoundPhase('evaluated').label).toMatch(/^Evaluated/);
    expect(describeRoundPhase('secagg:masked-input')).toMatchObject({
      step: 3,
      outcome: null,
      tone: 'running',
    });
    expect(describeRoundPhase('secagg:masked-input').label).toContain('masked update');
    for (const outcome of OUTCOMES)
      expect(describeRoundPhase(outcome)).toMatchObject({ step: ROUND_STEPS.length - 1, outcome });
    for (const upload of UPLOADS)
      expect(describeRoundPhase(`secagg:${upload}`).label).toMatch(/^Secure aggregation: [a-z]/);
    expect(describeRoundPhase('completed').tone).toBe('ok');
    expect(describeRoundPhase('left').tone).toBe('bad');
  });

  it('ends the live round card when the connection drops mid-round (interrupted), instead of running forever', () => {
    expect(describeRoundPhase('interrupted')).toMatchObject({
      step: ROUND_STEPS.length - 1,
      outcome: 'interrupted',
      tone: 'warn',
    });
    expect(describeRoundPhase('interrupted').label).toMatch(/connection to the coordinator was lost/);
  });

  it('reads a round row’s own figures defensively', () => {
    expect(
      localRoundFigures({
        trainExamples: 176,
        trainLoss: 0.42,
        validation: { n: 24, closedAcc: 0.8, openAcc: null, overallAcc: 0.75 },
        trainMs: 5300,
        secaggClientMs: 4,
        uploadBytes: 181_000,
      }),
    ).toEqual({
      trainExamples: 176,
      trainLoss: 0.42,
      validation: { n: 24, closedAcc: 0.8, openAcc: null, overallAcc: 0.75 },
      trainMs: 5300,
      evaluateMs: null,
      secaggClientMs: 4,
      uploadBytes: 181_000,
    });
    // A round that ended before training (left, interrupted) has nulls or nothing at all.
    expect(localRoundFigures({ validation: null, trainLoss: 'NaN', trainMs: Number.NaN })).toMatchObject({
      validation: null,
      trainLoss: null,
      trainMs: null,
    });
  });
});

describe('figures', () => {
  it('formats percentages, sizes, durations and page ranges', () => {
    expect(formatPercent(0.8123)).toBe('81.2 %');
    expect(formatPercent(null)).toBe('–');
    expect(formatBytes(183)).toBe('183 B');
    expect(formatBytes(181_248)).toBe('177 KiB');
    expect(formatBytes(5 * 1024 * 1024)).toBe('5.0 MiB');
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(12_300)).toBe('12.3 s');
    expect(formatDuration(192_000)).toBe('3 min 12 s');
    expect(formatDuration(null)).toBe('–');
    expect(pageRange(0, 25, 3064)).toBe('1–25 of 3,064');
    expect(pageRange(3050, 14, 3064)).toBe('3,051–3,064 of 3,064');
    expect(pageRange(0, 0, 0)).toBe('0 of 0');
    expect(fraction(3, 0)).toBeNull();
    expect(fraction(-4, 6)).toBe(0);
    expect(fraction(7, 6)).toBe(1);
    expect(shortHash('a'.repeat(64))).toBe(`${'a'.repeat(12)}…aaaa`);
  });
});
