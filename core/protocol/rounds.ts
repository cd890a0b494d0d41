import { z } from 'zod';
import { decodeWire, encodeWire, type SecAggMessage } from '../secagg/index.js';
import { federationConfigSchema, modelVersionSchema } from './federation.js';

/**
 * Round traffic on the site ↔ coordinator WebSocket, after the session is authenticated. Every round
 * message travels as one binary frame in secure aggregation's wire format (a JSON header plus raw
 * uint32 payloads), so masked vectors never pass through base64. Secure-aggregation messages keep their
 * own types (`advertise`, `share-keys`, …, see core/secagg/messages.ts); the round's own messages are
 * below. Every frame is validated against its schema on arrival.
 */

const federationId = z.string().min(1).max(128);
const round = z.number().int().min(0);
const isoTime = z.string().max(40);

export const roundOpenSchema = z.strictObject({
  type: z.literal('round-open'),
  federationId,
  round,
  /** 'evaluate': only evaluate the version and sum the counters (no update, no new version). */
  mode: z.enum(['train', 'evaluate']),
  config: federationConfigSchema,
  configHash: z.string().regex(/^[0-9a-f]{64}$/),
  /** The global version this round starts from, and its shared tensors (float32 bits). */
  version: modelVersionSchema,
  shared: z.custom<Uint32Array>((value) => value instanceof Uint32Array, 'expected a Uint32Array'),
  /** The sites asked to take part (U0 candidates), sorted. */
  participants: z.array(z.string().max(128)).min(1).max(100_000),
  /** Their identity keys as the coordinator has them; each site checks them against the roster it approved. */
  identityKeys: z.record(z.string().max(128), z.string().length(43)),
  /** Sites must answer by `joinBy`; their update (masked or plain) is due by `trainBy`. */
  joinBy: isoTime,
  trainBy: isoTime,
});

/**
 * Sent to the sites that joined, when joining closes: the round's participants from then on. Secure
 * aggregation's roster is exactly this list (its threshold, session_id and the update encoding's bits are
 * computed over it), so a site that declined or went away does not count against the threshold.
 */
export const roundRosterSchema = z.strictObject({
  type: z.literal('round-roster'),
  federationId,
  round,
  /** The sites that joined, sorted; a subset of round-open's participants. */
  participants: z.array(z.string().max(128)).min(1).max(100_000),
});

export const roundResultSchema = z.strictObject({
  type: z.literal('round-result'),
  federationId,
  round,
  status: z.enum(['completed', 'aborted']),
  reason: z.string().max(500).nullable(),
  /** The version this round published (null when aborted). */
  version: modelVersionSchema.nullable(),
  included: z.array(z.string().max(128)),
  dropped: z.array(z.string().max(128)),
});

/** Sent on connect and after every round, so a site that was away catches up. */
export const versionAvailableSchema = z.strictObject({
  type: z.literal('version-available'),
  federationId,
  config: federationConfigSchema,
  configHash: z.string().regex(/^[0-9a-f]{64}$/),
  version: modelVersionSchema,
  shared: z.custom<Uint32Array>((value) => value instanceof Uint32Array, 'expected a Uint32Array'),
});

export const coordinatorRoundMessageSchema = z.discriminatedUnion('type', [
  roundOpenSchema,
  roundRosterSchema,
  roundResultSchema,
  versionAvailableSchema,
]);

export const roundJoinSchema = z.strictObject({
  type: z.literal('round-join'),
  federationId,
  round,
  accept: z.boolean(),
  /** Why a site declined, in words for the coordinator's operator (never data-derived). */
  reason: z.string().max(300).nullable(),
});

/** Insecure mode only (`secure.enabled = false`): the clipped update in the clear, float32 bits as uint32. */
export const plainUpdateSchema = z.strictObject({
  type: z.literal('plain-update'),
  federationId,
  round,
  site: z.string().max(128),
  update: z.custom<Uint32Array>((value) => value instanceof Uint32Array, 'expected a Uint32Array'),
  weight: z.number().int().min(0),
  counters: z.array(z.number().int().min(0)).max(64),
});

/** A site that cannot finish the round (training failed, refused a stage) says so instead of going silent. */
export const roundLeaveSchema = z.strictObject({
  type: z.literal('round-leave'),
  federationId,
  round,
  reason: z.string().max(300),
});

export const siteRoundMessageSchema = z.discriminatedUnion('type', [
  roundJoinSchema,
  plainUpdateSchema,
  roundLeaveSchema,
]);

export type RoundOpen = z.infer<typeof roundOpenSchema>;
export type RoundRoster = z.infer<typeof roundRosterSchema>;
export type RoundResult = z.infer<typeof roundResultSchema>;
export type VersionAvailable = z.infer<typeof versionAvailableSchema>;
export type CoordinatorRoundMessage = z.infer<typeof coordinatorRoundMessageSchema>;
export type RoundJoin = z.infer<typeof roundJoinSchema>;
export type PlainUpdate = z.infer<typeof plainUpdateSchema>;
export type RoundLeave = z.infer<typeof roundLeaveSchema>;
export type SiteRoundMessage = z.infer<typeof siteRoundMessageSchema>;

export type RoundFrame = CoordinatorRoundMessage | SiteRoundMessage | SecAggMessage;

/** One binary frame for any round message (the secure-aggregation wire format is generic over fields). */
export function encodeFrame(message: RoundFrame): Uint8Array {
  return encodeWire(message as SecAggMessage);
}

/** Decodes a frame to an unvalidated object with a string `type`, or throws. */
export function decodeFrame(bytes: Uint8Array): { type: string } & Record<string, unknown> {
  const decoded = decodeWire(bytes) as Record<string, unknown>;
  if (typeof decoded.type !== 'string') throw new Error('round frame without a type');
  return decoded as { type: string } & Record<string, unknown>;
}

/** The float32 values of a vector, viewed as uint32 words for the frame codec (no copy). */
export function floatBits(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

export function bitsToFloats(words: Uint32Array): Float32Array {
  return new Float32Array(words.buffer, words.byteOffset, words.length);
}
