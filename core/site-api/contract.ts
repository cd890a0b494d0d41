import { z } from 'zod';

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

const progressSchema = z.object({ done: z.number(), total: z.number(), loss: z.number().optional() });

/** What the federation client reports as rounds go by (also printed by `cohort site serve --json`). */
export const federationEventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('round'),
    federationId: z.string(),
    round: z.number(),
    /** joined, declined, evaluate, train, trained, secagg:<message>, completed, dropped, aborted, left */
    phase: z.string(),
    detail: z.string().nullable(),
    progress: progressSchema.optional(),
    timings: z.record(z.string(), z.number()).optional(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
  z.object({ type: z.literal('version'), federationId: z.string(), version: z.number(), hash: z.string() }),
  z.object({ type: z.literal('refusal'), at: z.string(), message: z.string() }),
  z.object({ type: z.literal('roster-pending'), sites: z.array(z.string()) }),
  z.object({ type: z.literal('log'), level: z.enum(['info', 'warn', 'error']), message: z.string() }),
]);
export type FederationEvent = z.infer<typeof federationEventSchema>;

export const siteApiContract = {
  'status.get': { input: z.undefined(), output: siteStatusSchema },
  'enrollment.enroll': { input: z.object({ link: z.string().min(1).max(4096) }), output: siteStatusSchema },
} as const;

export type SiteApiContract = typeof siteApiContract;
export type SiteApiChannel = keyof SiteApiContract;
export type SiteApiInput<C extends SiteApiChannel> = z.input<SiteApiContract[C]['input']>;
export type SiteApiOutput<C extends SiteApiChannel> = z.output<SiteApiContract[C]['output']>;

export const siteEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('status'), status: siteStatusSchema }),
  z.object({ type: z.literal('federation'), event: federationEventSchema }),
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
