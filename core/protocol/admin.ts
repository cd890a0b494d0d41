import { z } from 'zod';

/**
 * The coordinator's admin API (`/v1/admin/*`, bearer admin token): what the console and
 * `cohort server status` read. The console imports these types only.
 */
export interface AdminSite {
  id: string;
  name: string;
  fingerprint: string;
  enrolledAt: string;
  revoked: boolean;
  connected: boolean;
  connectedAt: string | null;
}

export interface AdminStatus {
  coordinator: {
    name: string;
    publicUrl: string;
    certificateFingerprint: string;
    identityFingerprint: string;
  };
  sites: AdminSite[];
}

/**
 * A site's name as an operator gives it in an invitation: printable (no control characters such as NUL,
 * which would cut or garble it in logs, terminals and the site UI), at most 100 characters.
 */
export const siteNameSchema = z
  .string()
  .trim()
  .min(1, 'a site name must not be empty')
  .max(100, 'a site name must be at most 100 characters')
  .refine((name) => !/\p{Cc}/u.test(name), 'a site name must not contain control characters');

/** `POST /v1/admin/invitations/cancel {siteName}`: the site name's open invitations, cancelled. */
export interface AdminInvitationCancellation {
  siteName: string;
  cancelled: number;
}

/** `POST /v1/admin/sites/:id/revoke`: the site is refused from now on and dropped from every roster. */
export interface AdminRevocation {
  siteId: string;
  name: string;
  revokedAt: string;
}

/** `POST /v1/admin/rounds/cancel`: the running round (if any) aborted, and the batches it belonged to stopped. */
export interface AdminRoundsCancellation {
  round: { federationId: string; round: number } | null;
  batches: number;
}

export interface AdminInvitation {
  link: string;
  siteName: string;
  expiresAt: string;
}

/** `GET /v1/admin/federations`: every federation with its latest version and completed rounds. */
export interface AdminFederationSummary {
  id: string;
  name: string;
  configHash: string;
  createdAt: string;
  latestVersion: number;
  completedRounds: number;
}

/**
 * The round the coordinator is running now (one at a time), if any, with the stage it is in (null until
 * the first stage opens), so the console can follow rounds started elsewhere by polling.
 */
export interface AdminRunningRound {
  federationId: string;
  round: number;
  participants: string[];
  stage: string | null;
  waitingFor: string[];
}

export interface AdminFederationList {
  federations: AdminFederationSummary[];
  running: AdminRunningRound | null;
}

/**
 * Federation-wide figures of a round, from the securely aggregated counters: the accuracy and loss of
 * the round's starting version on the union of the participating sites' validation splits.
 */
export interface AdminRoundMetrics {
  startingVersion: number;
  valExamples: number;
  trainExamples: number;
  closedAcc: number | null;
  openAcc: number | null;
  overallAcc: number | null;
  valLoss: number | null;
  trainLoss: number | null;
  /** An evaluation round: the version was measured, not trained; no version was published. */
  evaluationOnly?: boolean;
}

export interface AdminRoundTimings {
  totalMs: number;
  joinMs: number;
  /** Per secure-aggregation stage (or `plain-update` in insecure mode), wall time until it closed. */
  stagesMs: Record<string, number>;
  aggregateMs: number;
}

export interface AdminRound {
  federationId: string;
  round: number;
  state: 'running' | 'completed' | 'aborted';
  baseVersion: number;
  startedAt: string;
  finishedAt: string | null;
  participants: string[];
  included: string[];
  dropped: string[];
  metrics: AdminRoundMetrics | null;
  timings: AdminRoundTimings | null;
  error: string | null;
}

/** `GET /v1/admin/federations/:id`. `config` is the federation's `FederationConfig` (core/protocol/federation). */
export interface AdminFederationDetail {
  federation: { id: string; name: string; config: unknown; configHash: string; createdAt: string };
  latestVersion: { version: number; hash: string; createdAt: string; parentHash: string | null } | null;
  rounds: AdminRound[];
  running: AdminRunningRound | null;
}

/** How a finished round came out, as `POST …/rounds` streams it. */
export interface AdminRoundOutcome {
  federationId: string;
  round: number;
  status: 'completed' | 'aborted';
  reason: string | null;
  participants: string[];
  included: string[];
  dropped: string[];
  version: { version: number; hash: string } | null;
  metrics: AdminRoundMetrics | null;
  timings: AdminRoundTimings;
}

/** `POST /v1/admin/federations/:id/rounds {count}`: one JSON object per line until `rounds-done`. */
export type AdminRoundEvent =
  | { type: 'round-started'; federationId: string; round: number; participants: string[] }
  | { type: 'round-stage'; federationId: string; round: number; stage: string; waitingFor: string[] }
  | { type: 'round-finished'; outcome: AdminRoundOutcome }
  | { type: 'rounds-stopped'; reason: string }
  | { type: 'rounds-done' };
