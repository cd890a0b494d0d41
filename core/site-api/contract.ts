import { z } from 'zod';
import { siteRoundPhaseSchema, siteRoundStatusSchema } from '../protocol/round-vocabulary.js';
import {
  dataCountsSchema,
  imagePageSchema,
  imageQuerySchema,
  importHistoryQuerySchema,
  importProgressSchema,
  importRecordSchema,
  importRequestSchema,
  importSummarySchema,
  itemErrorSchema,
  recordPageSchema,
  recordQuerySchema,
  recordRowSchema,
  recordedFormatSchema,
  synthRadRequestSchema,
} from '../data/site-data-api.js';

/**
 * The one typed contract between the desktop UI and the site agent (DESIGN §7). Channel → input and
 * output schemas; the agent validates every input at the boundary, whichever transport carried it
 * (Electron IPC or the headless loopback HTTP endpoint). The renderer imports this file's types only.
 */

export const connectionStateSchema = z.enum([
  'not-enrolled',
  'connecting',
  'connected',
  'disconnected',
  'refused',
]);
export type ConnectionState = z.infer<typeof connectionStateSchema>;

const rosterEntrySchema = z.object({ id: z.string(), name: z.string(), fingerprint: z.string() });

export const siteStatusSchema = z.object({
  /**
   * Increases with every change the agent reports. Responses and events travel on different channels
   * and can arrive out of order; a UI keeps the status with the highest revision.
   */
  revision: z.number().int().min(0),
  site: z.object({ id: z.string(), name: z.string(), fingerprint: z.string() }).nullable(),
  coordinator: z
    .object({
      url: z.string(),
      name: z.string(),
      /** SHA-256 of the pinned TLS certificate, "AB:CD:…". */
      certificateFingerprint: z.string(),
      identityFingerprint: z.string(),
    })
    .nullable(),
  connection: z.object({
    state: connectionStateSchema,
    since: z.string(),
    /** Why the last attempt failed or was refused, in words for the operator. */
    detail: z.string().nullable(),
    nextRetryAt: z.string().nullable(),
  }),
  /** The other enrolled sites as the coordinator announced them, for out-of-band comparison. */
  roster: z.array(rosterEntrySchema),
});
export type SiteStatus = z.infer<typeof siteStatusSchema>;

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM');
export const participationSettingsSchema = z.object({
  /** The operator's switch: rounds are joined only when on. */
  participate: z.boolean(),
  /** A daily time window (local time) for joining rounds; null = any time. */
  window: z.object({ start: hhmm, end: hhmm }).nullable(),
  /** Accept new sites announced by the coordinator without asking the operator. */
  autoAcceptRoster: z.boolean(),
});
export type ParticipationSettings = z.infer<typeof participationSettingsSchema>;

/**
 * The site's own security policy (DESIGN §3): what it requires of any round before it joins. Only the
 * site's operator changes it (UI, `cohort site federation policy`); no coordinator frame touches it.
 */
export const sitePolicySchema = z.strictObject({
  /** Secure aggregation required. Off only by a local choice, to measure its overhead (never in use). */
  secureRequired: z.boolean(),
  /**
   * The least threshold as a fraction of the roster: t > numerator/denominator · n, for the whole roster
   * (complete graph) and for every SecAgg+ neighbourhood (k + 1). At least 1/2, so t ≥ ⌊n/2⌋ + 1 always:
   * two disjoint groups can never both reach the threshold (no split view).
   */
  minThreshold: z
    .strictObject({ numerator: z.number().int().min(1), denominator: z.number().int().min(2).max(1000) })
    .refine((f) => 2 * f.numerator >= f.denominator && f.numerator < f.denominator, {
      message: 'the threshold fraction must be at least 1/2 and below 1',
    }),
  /** The least SecAgg+ neighbourhood size k (rosters small enough for the complete graph always pass). */
  minNeighbours: z.number().int().min(2).max(254),
  /** The least number of sites in a round (and in the federation's own minSites). */
  minSites: z.number().int().min(2).max(100_000),
  /** Approve a changed federation configuration without asking, when the change weakens no security field. */
  autoAcceptConfig: z.boolean(),
});
export type SitePolicy = z.infer<typeof sitePolicySchema>;

/** One field of a federation configuration that differs between the approved one and the offered one. */
export const configFieldChangeSchema = z.object({
  /** Dotted path: `secure.threshold`, `adapter.head.shared`, `answers`, … */
  field: z.string(),
  approved: z.unknown(),
  offered: z.unknown(),
  /** The change lowers what protects this site's data (secure aggregation, its parameters, what is shared). */
  weakens: z.boolean(),
});
export type ConfigFieldChange = z.infer<typeof configFieldChangeSchema>;

export const federationSecuritySchema = z.object({
  policy: sitePolicySchema,
  /** The configuration the operator approved, per federation (its hash is what the site pins). */
  pinned: z.array(
    z.object({
      federationId: z.string(),
      configHash: z.string(),
      config: z.record(z.string(), z.unknown()),
      approvedAt: z.string(),
      approvedBy: z.enum(['operator', 'auto-accept']),
    }),
  ),
  /** Hashes the operator approved before the coordinator offered them (circulated out of band). */
  preapproved: z.array(
    z.object({ federationId: z.string(), configHash: z.string(), approvedAt: z.string() }),
  ),
  /** Configurations offered by the coordinator and waiting for the operator, with the field-by-field change. */
  pending: z.array(
    z.object({
      federationId: z.string(),
      configHash: z.string(),
      config: z.record(z.string(), z.unknown()),
      receivedAt: z.string(),
      /** null on first join: there is nothing approved to compare with. */
      changes: z.array(configFieldChangeSchema).nullable(),
      /** Where it falls below this site's policy (it cannot be approved while this is non-empty). */
      policyProblems: z.array(z.string()),
    }),
  ),
  /** What this site declined and why, newest first. */
  declines: z.array(
    z.object({
      at: z.string(),
      federationId: z.string(),
      round: z.number().nullable(),
      version: z.number().nullable(),
      reason: z.string(),
    }),
  ),
});
export type FederationSecurity = z.infer<typeof federationSecuritySchema>;

const progressSchema = z.object({ done: z.number(), total: z.number(), loss: z.number().optional() });

/** What the federation client reports as rounds go by (also printed by `cohort site serve --json`). */
export const federationEventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('round'),
    federationId: z.string(),
    round: z.number(),
    phase: siteRoundPhaseSchema,
    detail: z.string().nullable(),
    progress: progressSchema.optional(),
    timings: z.record(z.string(), z.number()).optional(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
  z.object({ type: z.literal('version'), federationId: z.string(), version: z.number(), hash: z.string() }),
  z.object({ type: z.literal('refusal'), at: z.string(), message: z.string() }),
  z.object({ type: z.literal('roster-pending'), sites: z.array(z.string()) }),
  /** The coordinator offers a federation configuration this site's operator has not approved. */
  z.object({ type: z.literal('config-pending'), federationId: z.string(), configHash: z.string() }),
  z.object({ type: z.literal('log'), level: z.enum(['info', 'warn', 'error']), message: z.string() }),
]);
export type FederationEvent = z.infer<typeof federationEventSchema>;

const localRoundSchema = z.object({
  round: z.number(),
  status: siteRoundStatusSchema,
  reason: z.string().nullable(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  startingVersion: z.number(),
  publishedVersion: z.number().nullable(),
  /** This site's own figures for the round (never sent): examples, loss, validation accuracy, timings. */
  details: z.record(z.string(), z.unknown()),
});

export const federationViewSchema = z.object({
  participation: participationSettingsSchema,
  roster: z.object({
    approved: z.array(z.object({ id: z.string(), fingerprint: z.string() })),
    /** Sites the coordinator announced that the operator has not approved (new, or with a changed key). */
    pending: z.array(
      z.object({ id: z.string(), name: z.string(), fingerprint: z.string(), keyChanged: z.boolean() }),
    ),
  }),
  federations: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      version: z.number(),
      hash: z.string(),
      receivedAt: z.string(),
      strategy: z.string(),
      secure: z.boolean(),
      /** Adapter parts trained, and whether each is shared or stays at this site. */
      parts: z.array(z.object({ part: z.string(), shared: z.boolean() })),
      rounds: z.array(localRoundSchema),
    }),
  ),
  activeRound: z.object({ federationId: z.string(), round: z.number() }).nullable(),
  /** The last thing this site refused from the coordinator (bad signature, wrong base model, …). */
  refusal: z.object({ at: z.string(), message: z.string() }).nullable(),
  /** The site's security policy, its pinned configurations, changes awaiting approval, its declines. */
  security: federationSecuritySchema,
});
export type FederationView = z.infer<typeof federationViewSchema>;

export const auditPageSchema = z.object({
  total: z.number(),
  totalBytes: z.number(),
  entries: z.array(
    z.object({
      id: z.number(),
      at: z.string(),
      kind: z.string(),
      recipient: z.string(),
      bytes: z.number(),
      sha256: z.string(),
      detail: z.record(z.string(), z.unknown()),
    }),
  ),
});
export type AuditPage = z.infer<typeof auditPageSchema>;

/**
 * A long import or SynthRad generation. The UI names it (`jobId`) so it can follow its progress events
 * and cancel it; the call itself resolves with the summary once everything is stored (or rejects with
 * one line saying why nothing was).
 */
export const importJobIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -');

export const importJobSchema = z.object({
  jobId: importJobIdSchema,
  kind: z.enum(['import', 'synth']),
  format: recordedFormatSchema,
  /** The dataset folder or table the operator chose (local to this machine), or `synthrad:<preset>`. */
  source: z.string(),
  state: z.enum(['queued', 'running', 'completed', 'failed', 'cancelled']),
  startedAt: z.string(),
  /** The latest progress: read → decode (images) → write (rows) → done. */
  progress: importProgressSchema.nullable(),
  /** The summary line when completed, the reason when failed or cancelled. */
  message: z.string().nullable(),
});
export type ImportJob = z.infer<typeof importJobSchema>;

/** Generated thumbnails for a page, keyed by image id (as a string: JSON object keys). */
const thumbnailsSchema = z.record(z.string(), z.string());

export const synthRadPresetSchema = z.object({ name: z.string(), description: z.string() });

export const imageDetailSchema = z.object({
  imageId: z.number(),
  /** Exactly what the model sees (grayscale, letterboxed square), as a `data:image/png` URL. */
  modelInput: z.string(),
  questions: z.array(recordRowSchema),
});
export type ImageDetail = z.infer<typeof imageDetailSchema>;

export const siteApiContract = {
  'status.get': { input: z.undefined(), output: siteStatusSchema },
  'enrollment.enroll': { input: z.object({ link: z.string().min(1).max(4096) }), output: siteStatusSchema },
  'federation.get': { input: z.undefined(), output: federationViewSchema },
  'federation.setParticipation': { input: participationSettingsSchema, output: federationViewSchema },
  'federation.approveRoster': {
    input: z.object({ siteIds: z.array(z.string().max(128)).min(1).max(10_000) }),
    output: federationViewSchema,
  },
  'federation.approveConfig': {
    input: z.strictObject({
      federationId: z.string().min(1).max(128),
      /** The hash the operator reviewed: approval fails if the pending configuration changed since. */
      configHash: z.string().regex(/^[0-9a-f]{64}$/),
    }),
    output: federationViewSchema,
  },
  'federation.setPolicy': { input: sitePolicySchema, output: federationViewSchema },
  'audit.list': {
    input: z.object({
      offset: z.number().int().min(0).default(0),
      limit: z.number().int().min(1).max(500).default(100),
    }),
    output: auditPageSchema,
  },
  'data.counts': { input: z.undefined(), output: dataCountsSchema },
  'data.import': {
    input: importRequestSchema.extend({ jobId: importJobIdSchema }),
    output: importSummarySchema,
  },
  'data.synth': {
    input: synthRadRequestSchema.extend({ jobId: importJobIdSchema }),
    output: importSummarySchema,
  },
  /** Stops an import before its write transaction; false when it is not running (any more). */
  'data.cancelImport': {
    input: z.strictObject({ jobId: importJobIdSchema }),
    output: z.object({ cancelled: z.boolean() }),
  },
  /** Imports queued or running now (for a window opened while one runs). */
  'data.jobs': { input: z.undefined(), output: z.array(importJobSchema) },
  'data.synthPresets': { input: z.undefined(), output: z.array(synthRadPresetSchema) },
  'data.records': {
    input: recordQuerySchema.extend({ thumbnails: z.boolean().optional() }),
    output: recordPageSchema.extend({ thumbnails: thumbnailsSchema }),
  },
  'data.images': {
    input: imageQuerySchema.extend({ thumbnails: z.boolean().optional() }),
    output: imagePageSchema.extend({ thumbnails: thumbnailsSchema }),
  },
  'data.image': { input: z.strictObject({ imageId: z.number().int().min(1) }), output: imageDetailSchema },
  'data.imports': { input: importHistoryQuerySchema, output: z.array(importRecordSchema) },
  'data.importErrors': {
    input: z.strictObject({
      importId: z.number().int().min(1),
      offset: z.number().int().min(0).default(0),
      limit: z.number().int().min(1).max(500).default(100),
    }),
    output: z.array(itemErrorSchema),
  },
} as const;

export type SiteApiContract = typeof siteApiContract;
export type SiteApiChannel = keyof SiteApiContract;
export type SiteApiInput<C extends SiteApiChannel> = z.input<SiteApiContract[C]['input']>;
export type SiteApiOutput<C extends SiteApiChannel> = z.output<SiteApiContract[C]['output']>;

export const siteEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('status'), status: siteStatusSchema }),
  z.object({ type: z.literal('federation'), event: federationEventSchema }),
  /** An import or SynthRad generation going through its phases (throttled), then its outcome. */
  z.object({ type: z.literal('import'), job: importJobSchema }),
  z.object({
    type: z.literal('log'),
    at: z.string(),
    level: z.enum(['info', 'warn', 'error']),
    message: z.string(),
  }),
]);
export type SiteEvent = z.infer<typeof siteEventSchema>;

/** What both transports give the renderer. */
export interface SiteApiClient {
  invoke<C extends SiteApiChannel>(channel: C, input: SiteApiInput<C>): Promise<SiteApiOutput<C>>;
  /** Listens to agent events; returns the unsubscribe function. */
  subscribe(listener: (event: SiteEvent) => void): () => void;
}

/** The error shape every transport delivers for a failed call: a message the UI can show as is. */
export interface SiteApiErrorBody {
  error: { code: string; message: string };
}

export function isSiteApiChannel(value: unknown): value is SiteApiChannel {
  return typeof value === 'string' && Object.hasOwn(siteApiContract, value);
}
