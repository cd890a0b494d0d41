import { z } from 'zod';

/**
 * The site ↔ coordinator WebSocket (`/v1/ws`). The coordinator speaks first with a challenge; the site
 * answers with a signature by its enrolled identity key, bound to the challenge and to the coordinator's
 * TLS certificate, so a recorded answer is useless on another connection or at another server.
 */
export const WS_AUTH_DOMAIN = 'cohort/ws-auth/v1';

/** Close codes (4000–4999 are the application's). */
export const CLOSE_CODES = {
  authFailed: 4401,
  unknownSite: 4403,
  protocolError: 4400,
  replaced: 4409,
  shuttingDown: 4503,
} as const;

/** The largest message: a round frame carrying a model-sized vector. */
export const MAX_WS_MESSAGE_BYTES = 64 * 1024 * 1024;

/**
 * What the coordinator accepts before a connection has authenticated: a valid hello is under 300 bytes,
 * and an unauthenticated peer must not make it buffer more.
 */
export const HELLO_FRAME_BYTES = 4 * 1024;

/**
 * What an authenticated site may send outside the stages that carry its vector (joins, key adverts,
 * encrypted shares for at most 254 neighbours, unmasking shares): well under 1 MiB.
 */
export const CONTROL_FRAME_BYTES = 1024 * 1024;

const rosterSiteSchema = z.object({ id: z.string(), name: z.string(), identityPublicKey: z.string() });
export type RosterSite = z.infer<typeof rosterSiteSchema>;

/**
 * The enrolled sites change one enrollment or revocation at a time; each change has the next roster
 * version (1, 2, …). A site keeps the roster it has and its version, says that version in its hello, and
 * gets only the changes after it: a broadcast per change costs the coordinator O(sites), not O(sites²).
 */
export const rosterDeltaSchema = z.object({
  type: z.literal('roster-delta'),
  /** The version the changes apply to; 0 means from an empty roster (a full roster, as after a reset). */
  from: z.number().int().min(0),
  to: z.number().int().min(0),
  changes: z.array(z.object({ change: z.enum(['added', 'removed']), site: rosterSiteSchema })),
});
export type RosterDelta = z.infer<typeof rosterDeltaSchema>;

export const coordinatorMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('challenge'), nonce: z.string().length(43), serverTime: z.string() }),
  /** Authenticated. The roster is not in it: a `roster-delta` follows when the site's version is behind. */
  z.object({
    type: z.literal('welcome'),
    siteId: z.string(),
    coordinatorName: z.string(),
    rosterVersion: z.number().int().min(0),
  }),
  rosterDeltaSchema,
]);
export type CoordinatorMessage = z.infer<typeof coordinatorMessageSchema>;

export const siteMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('hello'),
    siteId: z.string().max(64),
    signature: z.string().length(86),
    software: z.string().max(100),
    /** The roster version the site holds (0 or absent: none): what it asks to catch up from. */
    rosterVersion: z.number().int().min(0).optional(),
  }),
]);
export type SiteMessage = z.infer<typeof siteMessageSchema>;
