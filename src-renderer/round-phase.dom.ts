import type {
  SiteRoundOutcome,
  SiteRoundPhase,
  SiteRoundStep,
  SiteUpload,
} from '../core/protocol/round-vocabulary.js';
/**
 * What a federated round's phase (as the site's federation client reports it) means for the operator:
 * which of the round's steps it is in, in words, and whether the round is over for this site.
 */

export const ROUND_STEPS = [
  'Joined',
  'Checking the starting version',
  'Training locally',
  'Secure aggregation',
  'Finished',
] as const;

export interface RoundPhaseView {
  /** Index into ROUND_STEPS. */
  step: number;
  label: string;
  outcome: SiteRoundOutcome | null;
  /** The outcome is good news (completed) or not (the rest); null while running. */
  tone: 'running' | 'ok' | 'warn' | 'bad';
}

const UPLOADS: Record<SiteUpload, string> = {
  advertise: 'sent this round’s public keys',
  reveal: 'revealed its share of the neighbourhood graph’s randomness',
  'share-keys': 'sent encrypted key shares to the other sites',
  'masked-input': 'sent the masked update',
  consistency: 'signed the list of sites still in the round',
  unmask: 'sent key shares so the sum can be unmasked',
  'plain-update': 'sent its update unmasked (secure aggregation switched off at this site)',
};

const OUTCOMES: Record<SiteRoundOutcome, { label: string; tone: RoundPhaseView['tone'] }> = {
  completed: { label: 'Round completed: a new global version was published', tone: 'ok' },
  dropped: { label: 'Round completed without this site’s update (it arrived too late)', tone: 'warn' },
  aborted: { label: 'Round aborted by the coordinator', tone: 'warn' },
  left: { label: 'This site left the round', tone: 'bad' },
  declined: { label: 'This site declined the round', tone: 'warn' },
  interrupted: {
    label: 'Round interrupted: the connection to the coordinator was lost; the next round starts afresh',
    tone: 'warn',
  },
};

/** What a round phase means for the operator. Exhaustive: a phase nobody renders does not compile. */
export function describeRoundPhase(phase: SiteRoundPhase): RoundPhaseView {
  if (Object.hasOwn(OUTCOMES, phase)) {
    const outcome = phase as SiteRoundOutcome;
    return { step: ROUND_STEPS.length - 1, outcome, ...OUTCOMES[outcome] };
  }
  if (phase.startsWith('secagg:')) {
    const upload = phase.slice('secagg:'.length) as SiteUpload;
    return { step: 3, label: `Secure aggregation: ${UPLOADS[upload]}`, outcome: null, tone: 'running' };
  }
  const step = phase as SiteRoundStep;
  switch (step) {
    case 'joined':
      return { step: 0, label: 'Joined the round; preparing local data', outcome: null, tone: 'running' };
    case 'evaluate':
      return {
        step: 1,
        label: 'Measuring the starting version on this site’s validation split',
        outcome: null,
        tone: 'running',
      };
    case 'train':
      return {
        step: 2,
        label: 'Training the adapter on this site’s records',
        outcome: null,
        tone: 'running',
      };
    case 'trained':
      return {
        step: 3,
        label: 'Trained; waiting for the other sites to mask and send',
        outcome: null,
        tone: 'running',
      };
    case 'evaluated':
      return {
        step: 3,
        label: 'Evaluated; waiting for the other sites to send their figures',
        outcome: null,
        tone: 'running',
      };
  }
}

/** A site's own figures of one round, read defensively from the stored details (older rows lack some). */
export interface LocalRoundFigures {
  trainExamples: number | null;
  trainLoss: number | null;
  validation: {
    n: number;
    closedAcc: number | null;
    openAcc: number | null;
    overallAcc: number | null;
  } | null;
  trainMs: number | null;
  evaluateMs: number | null;
  secaggClientMs: number | null;
  uploadBytes: number | null;
}

const num = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? value : null;

export function localRoundFigures(details: Record<string, unknown>): LocalRoundFigures {
  const validation = details.validation;
  const v = validation && typeof validation === 'object' ? (validation as Record<string, unknown>) : null;
  return {
    trainExamples: num(details.trainExamples),
    trainLoss: num(details.trainLoss),
    validation:
      v && num(v.n) !== null
        ? {
            n: num(v.n)!,
            closedAcc: num(v.closedAcc),
            openAcc: num(v.openAcc),
            overallAcc: num(v.overallAcc),
          }
        : null,
    trainMs: num(details.trainMs),
    evaluateMs: num(details.evaluateMs),
    secaggClientMs: num(details.secaggClientMs),
    uploadBytes: num(details.uploadBytes),
  };
}
