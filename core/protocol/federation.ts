import { z } from 'zod';
import { adapterConfigSchema } from '../ml/adapter.js';
import { encoderSpecSchema } from '../ml/encoder/spec.js';
import { strategySchema } from '../fl/strategies.js';
import { domainMessage, getSodium, toHex } from '../crypto/sodium.js';
import { signDomain, verifyDomain } from '../crypto/identity.js';
import { canonicalJson } from '../util/canonical-json.js';

/**
 * A federation: which base model, which answer set, which adapter parts are trained and which of them
 * are shared, how sites train locally, how the server aggregates, and how secure aggregation runs.
 * Everything here is public to every site (it is what a site agrees to when it joins a round).
 */
export const federationConfigSchema = z.object({
  name: z.string().min(1).max(200),
  /** SHA-256 (hex) naming the base model every site must hold. */
  baseModelHash: z.string().regex(/^[0-9a-f]{64}$/),
  /**
   * The frozen image encoder, when not the embedded MobileNetV2 (core/ml/encoder/spec.ts): an ONNX file
   * named by its SHA-256, with its input size, normalisation and feature outputs. Sites without that
   * file decline rounds, saying so. Absent in every config written before it existed (same hash).
   */
  encoder: encoderSpecSchema.optional(),
  /** The public label space (e.g. VQA-RAD's published answer list), normalised. */
  answers: z.array(z.string().min(1).max(200)).min(2).max(10_000),
  adapter: adapterConfigSchema,
  strategy: strategySchema,
  local: z.object({
    epochs: z.number().int().min(1).max(100),
    batchSize: z.number().int().min(1).max(1024),
    lr: z.number().positive().max(1),
    weightDecay: z.number().min(0).max(1),
    gradClip: z.number().positive().max(1e6),
  }),
  rounds: z.number().int().min(1).max(10_000),
  minSites: z.number().int().min(1).max(100_000),
  secure: z.object({
    /** false = plain FedAvg with visible updates: only for measuring secure aggregation's overhead. */
    enabled: z.boolean(),
    /** Secret-sharing threshold t; default max(2, ⌊2n/3⌋ + 1). */
    threshold: z.number().int().min(2).optional(),
    /** SecAgg+ neighbourhood size k (complete graph when absent). */
    neighbours: z.number().int().min(2).optional(),
    /** L2 bound C each site clips its update to before encoding. */
    clipNorm: z.number().positive(),
  }),
  deadlines: z.object({
    /** Download, local training and evaluation. */
    trainingMs: z.number().int().min(1_000).max(86_400_000),
    /** Each secure-aggregation stage. */
    stageMs: z.number().int().min(500).max(3_600_000),
  }),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1),
});
export type FederationConfig = z.infer<typeof federationConfigSchema>;

export async function sha256Hex(bytes: Uint8Array | string): Promise<string> {
  const sodium = await getSodium();
  return toHex(
    sodium.crypto_hash_sha256(typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes),
  );
}

export const configHash = (config: FederationConfig) =>
  sha256Hex(domainMessage('cohort/federation-config/v1', canonicalJson(config)));

/** A published global model version. Sites accept it only with a valid coordinator signature. */
export const modelVersionSchema = z.object({
  federationId: z.string().min(1).max(128),
  version: z.number().int().min(0),
  /** SHA-256 of the shared tensors' bytes (the flattened float32 vector, little-endian). */
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  parentHash: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .nullable(),
  baseModelHash: z.string().regex(/^[0-9a-f]{64}$/),
  configHash: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.string(),
  signature: z.string().length(86),
});
export type ModelVersion = z.infer<typeof modelVersionSchema>;

const VERSION_DOMAIN = 'cohort/model-version/v1';
const versionParts = (v: Omit<ModelVersion, 'signature'>) =>
  [
    v.federationId,
    String(v.version),
    v.hash,
    v.parentHash ?? '',
    v.baseModelHash,
    v.configHash,
    v.createdAt,
  ] as const;

export async function signModelVersion(
  secretKey: Uint8Array,
  version: Omit<ModelVersion, 'signature'>,
): Promise<ModelVersion> {
  return { ...version, signature: await signDomain(secretKey, VERSION_DOMAIN, ...versionParts(version)) };
}

export function verifyModelVersion(publicKey: Uint8Array, version: ModelVersion): Promise<boolean> {
  return verifyDomain(publicKey, version.signature, VERSION_DOMAIN, ...versionParts(version));
}

/** The bytes a version's hash covers: the shared tensors as one little-endian float32 vector. */
export function sharedVectorBytes(vector: Float32Array): Uint8Array {
  return new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength);
}
