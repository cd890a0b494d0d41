import { z } from 'zod';
import { SecAggError } from './errors.js';
import { SITE_ID_PATTERN } from './params.js';

/**
 * The protocol's messages. Byte fields are URL-safe base64 strings without padding (so every message but
 * one is plain JSON); the masked input vector is a `Uint32Array`, carried in binary by `encodeWire`.
 * Every message has a schema: the network layer validates untrusted input with `parseClientMessage` /
 * `parseServerMessage` (or `decodeWire`) before handing it to a state machine.
 */

/** Base64 (URL-safe, unpadded) of exactly `bytes` bytes. */
const base64Of = (bytes: number) =>
  z
    .string()
    .length(Math.ceil((bytes * 4) / 3))
    .regex(/^[A-Za-z0-9_-]*$/);
/** Base64 of a bounded variable length. */
const base64Max = (maxBytes: number) =>
  z
    .string()
    .max(Math.ceil((maxBytes * 4) / 3))
    .regex(/^[A-Za-z0-9_-]*$/);

export const siteIdSchema = z.string().regex(SITE_ID_PATTERN);
const sessionIdSchema = base64Of(32);
const federationIdSchema = z.string().min(1).max(256);
const roundSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** Bytes of a Shamir share of a 32-byte secret: the 32 bytes and the x coordinate. */
export const SHARE_BYTES = 33;
const shareSchema = base64Of(SHARE_BYTES);
/** nonce (24) + framed plaintext (≤ 4·5 + 23 + 2·128 + 2·33) + tag (16). */
const ciphertextSchema = base64Max(24 + 20 + 23 + 256 + 66 + 16);
const MAX_SITES = 100_000;

// ---- site → coordinator ----

export const advertiseKeysSchema = z.strictObject({
  type: z.literal('advertise'),
  federationId: federationIdSchema,
  round: roundSchema,
  site: siteIdSchema,
  /** X25519 public key for share encryption. */
  cPk: base64Of(32),
  /** X25519 public key for pairwise masks. */
  sPk: base64Of(32),
  /** SecAgg+: the commitment to this site's graph randomness r_u (`graphCommitment`); null otherwise. */
  graphCommitment: base64Of(32).nullable(),
  /** Ed25519 over "cohort/secagg/advert/v2" ‖ federation ‖ round ‖ site ‖ c_pk ‖ s_pk ‖ commitment. */
  signature: base64Of(64),
});

/** SecAgg+ only, once U1 is fixed: the r_u this site committed to in its advert. */
export const graphRevealSchema = z.strictObject({
  type: z.literal('reveal'),
  sessionId: sessionIdSchema,
  site: siteIdSchema,
  graphSeed: base64Of(32),
});

export const shareKeysSchema = z.strictObject({
  type: z.literal('share-keys'),
  sessionId: sessionIdSchema,
  site: siteIdSchema,
  /** BLAKE2b commitment to b_u, so the coordinator can check its reconstruction. */
  selfMaskCommitment: base64Of(32),
  /** One envelope per neighbour in U1 (the site keeps its own share). */
  shares: z.array(z.strictObject({ to: siteIdSchema, ciphertext: ciphertextSchema })).max(254),
});

export const maskedInputSchema = z.strictObject({
  type: z.literal('masked-input'),
  sessionId: sessionIdSchema,
  site: siteIdSchema,
  vector: z.custom<Uint32Array>((value) => value instanceof Uint32Array, 'expected a Uint32Array'),
});

export const consistencySignatureSchema = z.strictObject({
  type: z.literal('consistency'),
  sessionId: sessionIdSchema,
  site: siteIdSchema,
  /** Ed25519 over "cohort/secagg/consistency/v1" ‖ session_id ‖ sorted(U3). */
  signature: base64Of(64),
});

const revealedShareSchema = z.strictObject({ of: siteIdSchema, share: shareSchema });

export const unmaskResponseSchema = z.strictObject({
  type: z.literal('unmask'),
  sessionId: sessionIdSchema,
  site: siteIdSchema,
  /** Shares of b_v for alive neighbours v (and the site itself). */
  selfMaskShares: z.array(revealedShareSchema).max(255),
  /** Shares of s_v^SK for dead neighbours v. */
  keyShares: z.array(revealedShareSchema).max(255),
});

export const clientMessageSchema = z.discriminatedUnion('type', [
  advertiseKeysSchema,
  graphRevealSchema,
  shareKeysSchema,
  maskedInputSchema,
  consistencySignatureSchema,
  unmaskResponseSchema,
]);

// ---- coordinator → site ----

export const advertListSchema = z.strictObject({
  type: z.literal('adverts'),
  federationId: federationIdSchema,
  round: roundSchema,
  /** U1: every advert the coordinator accepted (all of them: each site recomputes session_id). */
  adverts: z.array(advertiseKeysSchema).max(MAX_SITES),
});

/** SecAgg+ only: every site's revealed r_u, for all of U1 (each site derives the graph from them). */
export const revealListSchema = z.strictObject({
  type: z.literal('reveals'),
  sessionId: sessionIdSchema,
  reveals: z.array(z.strictObject({ site: siteIdSchema, graphSeed: base64Of(32) })).max(MAX_SITES),
});

export const shareBundleSchema = z.strictObject({
  type: z.literal('shares'),
  sessionId: sessionIdSchema,
  /** The envelopes addressed to this site from its neighbours in U2. */
  shares: z.array(z.strictObject({ from: siteIdSchema, ciphertext: ciphertextSchema })).max(254),
});

export const aliveListSchema = z.strictObject({
  type: z.literal('alive'),
  sessionId: sessionIdSchema,
  /** U3: the sites whose masked input arrived. */
  alive: z.array(siteIdSchema).max(MAX_SITES),
});

export const unmaskRequestSchema = z.strictObject({
  type: z.literal('unmask-request'),
  sessionId: sessionIdSchema,
  alive: z.array(siteIdSchema).max(MAX_SITES),
  dead: z.array(siteIdSchema).max(MAX_SITES),
  /** Consistency signatures over U3 (for SecAgg+: those of this site's neighbourhood). */
  signatures: z.array(z.strictObject({ site: siteIdSchema, signature: base64Of(64) })).max(MAX_SITES),
});

export const serverMessageSchema = z.discriminatedUnion('type', [
  advertListSchema,
  revealListSchema,
  shareBundleSchema,
  aliveListSchema,
  unmaskRequestSchema,
]);

export type AdvertiseKeys = z.infer<typeof advertiseKeysSchema>;
export type GraphReveal = z.infer<typeof graphRevealSchema>;
export type RevealList = z.infer<typeof revealListSchema>;
export type ShareKeys = z.infer<typeof shareKeysSchema>;
export type MaskedInput = z.infer<typeof maskedInputSchema>;
export type ConsistencySignature = z.infer<typeof consistencySignatureSchema>;
export type UnmaskResponse = z.infer<typeof unmaskResponseSchema>;
export type ClientMessage = z.infer<typeof clientMessageSchema>;
export type AdvertList = z.infer<typeof advertListSchema>;
export type ShareBundle = z.infer<typeof shareBundleSchema>;
export type AliveList = z.infer<typeof aliveListSchema>;
export type UnmaskRequest = z.infer<typeof unmaskRequestSchema>;
export type ServerMessage = z.infer<typeof serverMessageSchema>;
export type SecAggMessage = ClientMessage | ServerMessage;

// ---- fast validation ----
//
// The same constraints as the zod schemas above, checked by hand for the common case of a valid message:
// zod costs a few microseconds per nested object and copies every object it accepts, and the big messages
// (share-keys, unmask, adverts) have hundreds of them. A fast check accepts only what its schema accepts;
// what it accepts is returned as is, which equals zod's output (strict objects with exactly the schema's
// keys, no defaults or transforms), so no message is copied. On any doubt it says no and zod decides,
// so it can only speed up valid messages, never accept more, and every refusal still comes from zod with
// its message. `messages.test.ts` compares both on valid and on mutated messages. Inputs are JSON.parse or
// `decodeWire` output (plain data properties) or this process's own objects.

type Check = (value: unknown) => boolean;
const BASE64_CHARS = /^[A-Za-z0-9_-]*$/;

const checkString =
  (test: (text: string) => boolean): Check =>
  (value) =>
    typeof value === 'string' && test(value);
const checkBase64Of = (bytes: number) => {
  const length = Math.ceil((bytes * 4) / 3);
  return checkString((text) => text.length === length && BASE64_CHARS.test(text));
};
const checkBase64Max = (maxBytes: number) => {
  const max = Math.ceil((maxBytes * 4) / 3);
  return checkString((text) => text.length <= max && BASE64_CHARS.test(text));
};
const checkSiteId = checkString((text) => SITE_ID_PATTERN.test(text));
const checkSessionId = checkBase64Of(32);
const checkFederationId = checkString((text) => text.length >= 1 && text.length <= 256);
const checkRound: Check = (value) => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const checkLiteral =
  (literal: string): Check =>
  (value) =>
    value === literal;
const checkUint32Array: Check = (value) => value instanceof Uint32Array;
const checkNullable =
  (check: Check): Check =>
  (value) =>
    value === null || check(value);

function checkArray(item: Check, max: number): Check {
  return (value) => {
    if (!Array.isArray(value) || value.length > max) return false;
    if (Object.getPrototypeOf(value) !== Array.prototype) return false;
    for (let i = 0; i < value.length; i++) if (!item(value[i])) return false;
    return true;
  };
}

/** A plain object with exactly these keys (own, enumerable), each valid. */
function checkObject<T>(shape: { [K in keyof T]-?: Check }): Check {
  const keys = Object.keys(shape);
  return (value) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return false;
    // Counts enumerable keys without allocating Object.keys' array (inherited ones too: more cautious).
    let count = 0;
    for (const _key in value) count++;
    if (count !== keys.length) return false;
    for (const key of keys) {
      if (!Object.prototype.hasOwnProperty.call(value, key)) return false;
      if (!shape[key as keyof T]((value as Record<string, unknown>)[key])) return false;
    }
    return true;
  };
}

const checkShare = checkBase64Of(SHARE_BYTES);
const checkCiphertext = checkBase64Max(24 + 20 + 23 + 256 + 66 + 16);
const checkSignature = checkBase64Of(64);

const checkAdvertiseKeys = checkObject<AdvertiseKeys>({
  type: checkLiteral('advertise'),
  federationId: checkFederationId,
  round: checkRound,
  site: checkSiteId,
  cPk: checkBase64Of(32),
  sPk: checkBase64Of(32),
  graphCommitment: checkNullable(checkBase64Of(32)),
  signature: checkSignature,
});
const checkGraphReveal = checkObject<GraphReveal>({
  type: checkLiteral('reveal'),
  sessionId: checkSessionId,
  site: checkSiteId,
  graphSeed: checkBase64Of(32),
});
const checkShareKeys = checkObject<ShareKeys>({
  type: checkLiteral('share-keys'),
  sessionId: checkSessionId,
  site: checkSiteId,
  selfMaskCommitment: checkBase64Of(32),
  shares: checkArray(
    checkObject<ShareKeys['shares'][number]>({ to: checkSiteId, ciphertext: checkCiphertext }),
    254,
  ),
});
const checkMaskedInput = checkObject<MaskedInput>({
  type: checkLiteral('masked-input'),
  sessionId: checkSessionId,
  site: checkSiteId,
  vector: checkUint32Array,
});
const checkConsistency = checkObject<ConsistencySignature>({
  type: checkLiteral('consistency'),
  sessionId: checkSessionId,
  site: checkSiteId,
  signature: checkSignature,
});
const checkRevealed = checkObject<UnmaskResponse['keyShares'][number]>({
  of: checkSiteId,
  share: checkShare,
});
const checkUnmaskResponse = checkObject<UnmaskResponse>({
  type: checkLiteral('unmask'),
  sessionId: checkSessionId,
  site: checkSiteId,
  selfMaskShares: checkArray(checkRevealed, 255),
  keyShares: checkArray(checkRevealed, 255),
});
const checkAdvertList = checkObject<AdvertList>({
  type: checkLiteral('adverts'),
  federationId: checkFederationId,
  round: checkRound,
  adverts: checkArray(checkAdvertiseKeys, MAX_SITES),
});
const checkRevealList = checkObject<RevealList>({
  type: checkLiteral('reveals'),
  sessionId: checkSessionId,
  reveals: checkArray(
    checkObject<RevealList['reveals'][number]>({ site: checkSiteId, graphSeed: checkBase64Of(32) }),
    MAX_SITES,
  ),
});
const checkShareBundle = checkObject<ShareBundle>({
  type: checkLiteral('shares'),
  sessionId: checkSessionId,
  shares: checkArray(
    checkObject<ShareBundle['shares'][number]>({ from: checkSiteId, ciphertext: checkCiphertext }),
    254,
  ),
});
const checkAliveList = checkObject<AliveList>({
  type: checkLiteral('alive'),
  sessionId: checkSessionId,
  alive: checkArray(checkSiteId, MAX_SITES),
});
const checkUnmaskRequest = checkObject<UnmaskRequest>({
  type: checkLiteral('unmask-request'),
  sessionId: checkSessionId,
  alive: checkArray(checkSiteId, MAX_SITES),
  dead: checkArray(checkSiteId, MAX_SITES),
  signatures: checkArray(
    checkObject<UnmaskRequest['signatures'][number]>({ site: checkSiteId, signature: checkSignature }),
    MAX_SITES,
  ),
});

const byType = (table: Record<string, Check>): Check => {
  const map = new Map(Object.entries(table));
  return (value) => {
    const type = (value as { type?: unknown } | null)?.type;
    return typeof type === 'string' && (map.get(type)?.(value) ?? false);
  };
};

/** The fast check of each schema (exported for the equivalence tests). */
export const FAST_CHECKS = new Map<z.ZodType, Check>([
  [advertiseKeysSchema, checkAdvertiseKeys],
  [graphRevealSchema, checkGraphReveal],
  [shareKeysSchema, checkShareKeys],
  [maskedInputSchema, checkMaskedInput],
  [consistencySignatureSchema, checkConsistency],
  [unmaskResponseSchema, checkUnmaskResponse],
  [advertListSchema, checkAdvertList],
  [revealListSchema, checkRevealList],
  [shareBundleSchema, checkShareBundle],
  [aliveListSchema, checkAliveList],
  [unmaskRequestSchema, checkUnmaskRequest],
  [
    clientMessageSchema,
    byType({
      advertise: checkAdvertiseKeys,
      reveal: checkGraphReveal,
      'share-keys': checkShareKeys,
      'masked-input': checkMaskedInput,
      consistency: checkConsistency,
      unmask: checkUnmaskResponse,
    }),
  ],
  [
    serverMessageSchema,
    byType({
      adverts: checkAdvertList,
      reveals: checkRevealList,
      shares: checkShareBundle,
      alive: checkAliveList,
      'unmask-request': checkUnmaskRequest,
    }),
  ],
]);

/**
 * Validates `value` against `schema` (one of this module's): the value itself when the fast check accepts
 * it, else zod's output, or zod's first issue as a `malformed` SecAggError.
 */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  if (FAST_CHECKS.get(schema)?.(value)) return value as T;
  // zod reads a strict object's fields with `value[key]`, inherited ones included, and checks only own
  // keys for strays: a value whose fields come from a prototype must not get that far.
  if (!plainData(value))
    throw new SecAggError('malformed', `${what}: not plain data (a prototype carries fields)`);
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    throw new SecAggError('malformed', `${what}${where}: ${issue?.message ?? 'invalid'}`);
  }
  return result.data;
}

/**
 * True when every object in `value` is a plain object (prototype Object.prototype or null), an array with
 * Array's prototype, or a Uint32Array: what JSON.parse and `decodeWire` build. Messages are a few levels
 * deep; the depth bound only stops a cyclic in-process object.
 */
function plainData(value: unknown, depth = 0): boolean {
  if (typeof value !== 'object' || value === null || value instanceof Uint32Array) return true;
  if (depth > 8) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (Array.isArray(value)) {
    if (proto !== Array.prototype) return false;
    for (let i = 0; i < value.length; i++) if (!plainData(value[i], depth + 1)) return false;
    return true;
  }
  if (proto !== Object.prototype && proto !== null) return false;
  for (const item of Object.values(value)) if (!plainData(item, depth + 1)) return false;
  return true;
}

export function parseClientMessage(value: unknown): ClientMessage {
  return parseWith(clientMessageSchema, value, 'site message');
}

export function parseServerMessage(value: unknown): ServerMessage {
  return parseWith(serverMessageSchema, value, 'coordinator message');
}

// ---- wire codec ----

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * One frame per message: u32le(header length) ‖ UTF-8 JSON header ‖ zero padding to a multiple of 4 ‖
 * the binary payloads (little-endian uint32) of the message's Uint32Array fields, in field order. In the
 * header such a field is replaced by `{"$u32": length}`.
 */
export function encodeWire(message: SecAggMessage): Uint8Array {
  const binaries: Uint32Array[] = [];
  const header: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(message)) {
    if (value instanceof Uint32Array) {
      binaries.push(value);
      header[field] = { $u32: value.length };
    } else header[field] = value;
  }
  const json = encoder.encode(JSON.stringify(header));
  const payloadStart = Math.ceil((4 + json.length) / 4) * 4;
  const total = payloadStart + binaries.reduce((sum, b) => sum + b.byteLength, 0);
  const out = new Uint8Array(total);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 4);
  let offset = payloadStart;
  for (const binary of binaries) {
    if (littleEndian) out.set(new Uint8Array(binary.buffer, binary.byteOffset, binary.byteLength), offset);
    else {
      const view = new DataView(out.buffer, offset, binary.byteLength);
      for (let i = 0; i < binary.length; i++) view.setUint32(i * 4, binary[i]!, true);
    }
    offset += binary.byteLength;
  }
  return out;
}

/**
 * Keys a frame may not carry at any depth. JSON.parse makes `"__proto__"` an own key; copied by assignment
 * (as below) it would set the copy's prototype, whose fields the schemas would then read. No message has
 * a field by any of these names, so a frame that names one is refused, not cleaned.
 */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** Text that may spell a forbidden key: one of them quoted, or any escape (`"\u005f_proto__"`). */
const MAY_HOLD_FORBIDDEN_KEY = /\\|"(?:__proto__|constructor|prototype)"/;

function parseHeader(text: string): unknown {
  // The reviver costs a call per value; frames without suspicious text (all honest ones) skip it.
  if (!MAY_HOLD_FORBIDDEN_KEY.test(text)) return JSON.parse(text);
  return JSON.parse(text, (key, value: unknown) => {
    if (FORBIDDEN_KEYS.has(key)) throw new SecAggError('malformed', `wire frame: forbidden key ${key}`);
    return value;
  });
}

/** Decodes a frame into an unvalidated object; pass it to `parseClientMessage`/`parseServerMessage`. */
export function decodeWire(bytes: Uint8Array): unknown {
  const fail = (why: string): never => {
    throw new SecAggError('malformed', `wire frame: ${why}`);
  };
  if (bytes.length < 4) fail('too short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(0, true);
  if (4 + headerLength > bytes.length) fail('truncated header');
  let header: unknown;
  try {
    header = parseHeader(decoder.decode(bytes.subarray(4, 4 + headerLength)));
  } catch (error) {
    if (error instanceof SecAggError) throw error;
    fail('header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    return fail('header is not an object');
  let offset = Math.ceil((4 + headerLength) / 4) * 4;
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(header)) {
    const length = (value as { $u32?: unknown } | null)?.$u32;
    if (typeof value === 'object' && value !== null && typeof length === 'number') {
      if (!Number.isSafeInteger(length) || length < 0 || offset + length * 4 > bytes.length)
        fail('bad payload');
      const words = new Uint32Array(length);
      if (littleEndian) new Uint8Array(words.buffer).set(bytes.subarray(offset, offset + length * 4));
      else for (let i = 0; i < length; i++) words[i] = view.getUint32(offset + i * 4, true);
      offset += length * 4;
      out[field] = words;
    } else out[field] = value;
  }
  if (offset !== bytes.length) fail('trailing bytes');
  return out;
}

/** The size `encodeWire` would produce, without building the frame (for traffic accounting). */
export function wireSize(message: SecAggMessage): number {
  let binary = 0;
  const header: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(message)) {
    if (value instanceof Uint32Array) {
      binary += value.byteLength;
      header[field] = { $u32: value.length };
    } else header[field] = value;
  }
  const json = encoder.encode(JSON.stringify(header)).length;
  return Math.ceil((4 + json) / 4) * 4 + binary;
}
