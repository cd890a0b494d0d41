import type { FederationView } from '../../../core/site-api/contract.js';
import { localRoundFigures } from '../../round-phase.dom.js';

export interface ProgressPoint {
  round: number;
  /** The global version this site measured at the start of the round. */
  version: number;
  overall: number | null;
  closed: number | null;
  open: number | null;
  trainLoss: number | null;
}

const percent = (value: number | null) => (value === null ? null : Math.round(value * 1000) / 10);

/**
 * One point per round in which this site measured a version on its own validation split: how well each
 * global version does on this hospital's records, and the loss of the local training that followed.
 * Rounds this site declined or that measured nothing are left out.
 */
export function progressPoints(rounds: FederationView['federations'][number]['rounds']): ProgressPoint[] {
  return [...rounds]
    .sort((a, b) => a.round - b.round)
    .flatMap((round) => {
      const figures = localRoundFigures(round.details);
      if (!figures.validation || figures.validation.n === 0) return [];
      return [
        {
          round: round.round,
          version: round.startingVersion,
          overall: percent(figures.validation.overallAcc),
          closed: percent(figures.validation.closedAcc),
          open: percent(figures.validation.openAcc),
          trainLoss: figures.trainLoss === null ? null : Math.round(figures.trainLoss * 1000) / 1000,
        },
      ];
    });
}
