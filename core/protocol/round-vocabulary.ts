import { z } from 'zod';
import { SECAGG_STAGES } from '../secagg/stages.js';

/**
 * The one vocabulary of a round as a site lives it: the steps it goes through, the secure-aggregation
 * messages it sends, and how the round ends for it. The site's federation client emits these, the site
 * API carries them (validated), the site UI and the demo render them with exhaustive switches: a phase
 * added here and rendered nowhere fails to compile.
 */

/** How a round ended for one site; also the status of the site's stored round record. */
export const siteRoundOutcomeSchema = z.enum([
  /** This site's update is in the published sum. */
  'completed',
  /** The round completed without this site's update (it arrived too late). */
  'dropped',
  /** The coordinator aborted the round (too few sites, a stage deadline, a shutdown). */
  'aborted',
  /** This site left the round: a check failed or it was stopped. */
  'left',
  /** This site did not join: its policy, its operator, or a failed check said no. */
  'declined',
  /** The connection or the agent stopped in the middle of the round. */
  'interrupted',
]);
export type SiteRoundOutcome = z.infer<typeof siteRoundOutcomeSchema>;

/** A site's stored round record: running until the round ends for it, then its outcome. */
export const siteRoundStatusSchema = z.enum(['running', ...siteRoundOutcomeSchema.options]);
export type SiteRoundStatus = z.infer<typeof siteRoundStatusSchema>;

/** The messages a site sends through secure aggregation (core/secagg/messages.ts), or in the clear when its operator switched secure aggregation off locally. */
export const siteUploadSchema = z.enum([...SECAGG_STAGES, 'plain-update']);
export type SiteUpload = z.infer<typeof siteUploadSchema>;

/** The steps of a round at a site before its outcome. */
export const siteRoundStepSchema = z.enum(['joined', 'evaluate', 'train', 'trained', 'evaluated']);
export type SiteRoundStep = z.infer<typeof siteRoundStepSchema>;

export const siteRoundPhaseSchema = z.union([
  siteRoundStepSchema,
  siteRoundOutcomeSchema,
  z.templateLiteral(['secagg:', siteUploadSchema]),
]);
export type SiteRoundPhase = z.infer<typeof siteRoundPhaseSchema>;

const OUTCOMES = new Set<string>(siteRoundOutcomeSchema.options);
export function isSiteRoundOutcome(phase: string): phase is SiteRoundOutcome {
  return OUTCOMES.has(phase);
}
