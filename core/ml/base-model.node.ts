/**
 * The base model on disk: `config.json` (architecture + answer set), `model.safetensors` (weights in the
 * canonical order of baseWeightShapes) and `SHA256` (the hash that names the model). The hash is
 * sha256("cohort/base-model/v1\n" ‖ canonical config JSON ‖ "\n" ‖ safetensors bytes), and the
 * safetensors bytes are themselves canonical (fixed tensor order, no metadata), so equal weights give
 * an equal hash.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BaseModel } from './engine.node.js';
import { baseWeightShapes, type ModelConfig, type Weights } from './model.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';
import { canonicalJson } from '../util/canonical-json.js';
import { makeDir } from '../util/make-dir.node.js';

export const BASE_MODEL_FILES = {
  config: 'config.json',
  weights: 'model.safetensors',
  hash: 'SHA256',
} as const;

export function encodeBaseModel(
  config: ModelConfig,
  weights: Weights,
): { configJson: string; weightBytes: Uint8Array; hash: string } {
  const tensors = baseWeightShapes(config).map(([name, shape]) => {
    const data = weights.get(name);
    if (!data) throw new Error(`base model is missing weight ${name}`);
    return [name, { shape, data }] as [string, { shape: number[]; data: Float32Array }];
  });
  const weightBytes = encodeSafetensors(tensors);
  const configJson = canonicalJson(config);
  const hash = createHash('sha256')
    .update('cohort/base-model/v1\n')
    .update(configJson)
    .update('\n')
    .update(weightBytes)
    .digest('hex');
  return { configJson, weightBytes, hash };
}

export async function saveBaseModel(dir: string, config: ModelConfig, weights: Weights): Promise<string> {
  const { configJson, weightBytes, hash } = encodeBaseModel(config, weights);
  makeDir(dir);
  await writeFile(join(dir, BASE_MODEL_FILES.config), `${JSON.stringify(JSON.parse(configJson), null, 2)}\n`);
  await writeFile(join(dir, BASE_MODEL_FILES.weights), weightBytes);
  await writeFile(join(dir, BASE_MODEL_FILES.hash), `${hash}\n`);
  return hash;
}

/** Loads and verifies a base model: the recorded hash must match the files' content. */
export async function loadBaseModel(dir: string): Promise<BaseModel> {
  let configText: string;
  let bytes: Uint8Array;
  try {
    configText = await readFile(join(dir, BASE_MODEL_FILES.config), 'utf8');
    bytes = new Uint8Array(await readFile(join(dir, BASE_MODEL_FILES.weights)));
  } catch {
    throw new Error(
      `no base model in ${dir} (expected ${BASE_MODEL_FILES.config} and ${BASE_MODEL_FILES.weights}; run 'npm run build:base-model')`,
    );
  }
  const config = JSON.parse(configText) as ModelConfig;
  if (!['tinymed-vqa', 'feat-vqa'].includes(config.arch) || config.version !== 1)
    throw new Error(`${dir}: not a TinyMed-VQA or FeatVQA v1 base model`);
  const { tensors } = decodeSafetensors(bytes);
  const weights: Weights = new Map();
  for (const [name, shape] of baseWeightShapes(config)) {
    const t = tensors.get(name);
    if (!t || t.shape.join(',') !== shape.join(','))
      throw new Error(`${dir}: weight ${name} is missing or mis-shaped`);
    weights.set(name, t.data);
  }
  const { hash } = encodeBaseModel(config, weights);
  const recorded = existsSync(join(dir, BASE_MODEL_FILES.hash))
    ? (await readFile(join(dir, BASE_MODEL_FILES.hash), 'utf8')).trim()
    : undefined;
  if (recorded !== undefined && recorded !== hash) {
    throw new Error(
      `${dir}: content hash ${hash.slice(0, 12)}… does not match the recorded ${recorded.slice(0, 12)}…`,
    );
  }
  return { config, weights, hash };
}

/**
 * A committed base model (`models/<name>` at the repository root), from source or from dist/: the
 * default `tinymed-vqa`, or `feat-vqa` (FeatVQA over the embedded image encoder's features).
 */
export function defaultBaseModelDir(name: 'tinymed-vqa' | 'feat-vqa' = 'tinymed-vqa'): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'models', name);
    if (existsSync(join(candidate, BASE_MODEL_FILES.config))) return candidate;
    dir = dirname(dir);
  }
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', name);
}
