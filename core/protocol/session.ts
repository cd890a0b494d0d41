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

export const coordinatorMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('challenge'), nonce: z.string().length(43), serverTime: z.string() }),
  z.object({
    type: z.literal('welcome'),
    siteId: z.string(),
    coordinatorName: z.string(),
    sites: z.array(z.object({ id: z.string(), name: z.string(), identityPublicKey: z.string() })),
  }),
  /** The enrolled sites changed (a site enrolled or was revoked): the new list, as in the welcome. */
  z.object({
    type: z.literal('roster'),
    sites: z.array(z.object({ id: z.string(), name: z.string(), identityPublicKey: z.string() })),
  }),
]);
export type CoordinatorMessage = z.infer<typeof coordinatorMessageSchema>;

export const siteMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('hello'),
    siteId: z.string().max(64),
    signature: z.string().length(86),
    software: z.string().max(100),
  }),
]);
export type SiteMessage = z.infer<typeof siteMessageSchema>;
