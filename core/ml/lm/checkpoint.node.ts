/**
 * Reads a Hugging Face checkpoint directory: `config.json`, `model.safetensors` (or the sharded
 * `model.safetensors.index.json` + shards), `tokenizer.json` (+ optional `tokenizer_config.json`).
 * Everything is checked against the config before any graph is built, and a checkpoint whose files
 * disagree is refused with one line (a CheckpointError).
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { decodeSafetensors } from '../safetensors.js';
import { CheckpointError, expectedWeights, parseLmConfig, type LmConfig } from './config.js';

export interface Checkpoint {
  dir: string;
  config: LmConfig;
  /** Base weights by HF name (GPT-2 names with the `transformer.` prefix), float32. */
  weights: Map<string, Float32Array>;
  tokenizer: Tokenizer;
  /** The files the checkpoint consists of, relative to `dir`, sorted. */
  files: string[];
}

export const WEIGHTS_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';
const OPTIONAL_FILES = ['tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json'];

const indexSchema = z.object({ weight_map: z.record(z.string(), z.string()) });

function fail(message: string): never {
  throw new CheckpointError(message);
}

async function readJson(dir: string, file: string): Promise<unknown> {
  const path = join(dir, file);
  if (!existsSync(path)) fail(`${dir}: no ${file}`);
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch {
    fail(`${dir}: ${file} is not valid JSON`);
  }
}

/** The weight files of a checkpoint (one file, or the shards named by the index), relative to `dir`. */
export async function weightFiles(dir: string): Promise<{ files: string[]; index?: Map<string, string> }> {
  if (existsSync(join(dir, INDEX_FILE))) {
    const parsed = indexSchema.safeParse(await readJson(dir, INDEX_FILE));
    if (!parsed.success) fail(`${dir}: ${INDEX_FILE} has no weight_map`);
    const index = new Map(Object.entries(parsed.data.weight_map));
    const files = [...new Set(index.values())].sort();
    for (const f of files) {
      if (f.includes('/') || f.includes('\\') || f.startsWith('.'))
        fail(`${INDEX_FILE} names a file outside the checkpoint: ${f}`);
      if (!existsSync(join(dir, f))) fail(`${dir}: shard ${f} named in ${INDEX_FILE} is missing`);
    }
    return { files, index };
  }
  if (existsSync(join(dir, WEIGHTS_FILE))) return { files: [WEIGHTS_FILE] };
  const legacy = existsSync(join(dir, 'pytorch_model.bin'))
    ? ' (pytorch_model.bin is not read: convert it to safetensors)'
    : '';
  fail(`${dir}: no ${WEIGHTS_FILE} or ${INDEX_FILE}${legacy}`);
}

/** Tensors a checkpoint may hold that the model does not use (buffers, a tied head's copy). */
function ignorable(cfg: LmConfig, name: string): boolean {
  if (cfg.arch === 'gpt2') return /\.attn\.(masked_)?bias$/.test(name) || name === 'lm_head.weight';
  return name.endsWith('.rotary_emb.inv_freq') || (cfg.tieEmbeddings && name === 'lm_head.weight');
}

/** GPT2Model checkpoints name weights `h.0…`, GPT2LMHeadModel ones `transformer.h.0…`. */
function canonicalName(cfg: LmConfig, name: string): string {
  if (cfg.arch === 'gpt2' && !name.startsWith('transformer.') && name !== 'lm_head.weight')
    return `transformer.${name}`;
  return name;
}

const fmt = (s: readonly number[]) => `[${s.join(',')}]`;

export async function loadTokenizer(dir: string, cfg: LmConfig): Promise<Tokenizer> {
  const json = await readJson(dir, 'tokenizer.json');
  const tokConfig = existsSync(join(dir, 'tokenizer_config.json'))
    ? await readJson(dir, 'tokenizer_config.json')
    : {};
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(json as object, tokConfig as object);
  } catch (error) {
    fail(
      `${dir}: tokenizer.json cannot be read (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`,
    );
  }
  let maxId = -1;
  for (const id of tokenizer.get_vocab(true).values()) maxId = Math.max(maxId, id);
  if (maxId >= cfg.vocabSize)
    fail(
      `tokenizer/vocabulary mismatch: tokenizer.json has token id ${maxId} but the model's vocabulary has ${cfg.vocabSize} entries`,
    );
  for (const eos of cfg.eosTokenIds)
    if (eos >= cfg.vocabSize)
      fail(`config.json: eos_token_id ${eos} is outside the vocabulary (${cfg.vocabSize})`);
  return tokenizer;
}

/** Reads the config and validates (and, with `weights: true`, returns) everything else. */
export async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  if (!existsSync(dir)) fail(`${dir} does not exist`);
  const config = parseLmConfig(await readJson(dir, 'config.json'));
  const { files, index } = await weightFiles(dir);
  const expected = expectedWeights(config);
  const weights = new Map<string, Float32Array>();
  for (const file of files) {
    let tensors;
    try {
      ({ tensors } = decodeSafetensors(new Uint8Array(await readFile(join(dir, file)))));
    } catch (error) {
      fail(`${file}: ${error instanceof Error ? error.message : String(error)}`);
    }
    for (const [raw, t] of tensors) {
      if (index && index.get(raw) !== file)
        fail(`${file} holds ${raw}, which ${INDEX_FILE} does not place there`);
      const name = canonicalName(config, raw);
      if (ignorable(config, name)) continue;
      const shape = expected.get(name);
      if (!shape)
        fail(
          `unexpected tensor ${raw} in ${file} (not part of a ${config.modelType} model with this config.json)`,
        );
      if (fmt(shape) !== fmt(t.shape))
        fail(`shape mismatch: ${raw} is ${fmt(t.shape)} but config.json implies ${fmt(shape)}`);
      if (weights.has(name)) fail(`tensor ${raw} appears twice`);
      weights.set(name, t.data);
    }
  }
  if (index)
    for (const [name, file] of index)
      if (!ignorable(config, canonicalName(config, name)) && !weights.has(canonicalName(config, name)))
        fail(`missing tensor ${name} (the index places it in ${file})`);
  for (const name of expected.keys()) if (!weights.has(name)) fail(`missing tensor ${name}`);
  const tokenizer = await loadTokenizer(dir, config);
  const present = [
    'config.json',
    'tokenizer.json',
    ...(index ? [INDEX_FILE] : []),
    ...files,
    ...OPTIONAL_FILES.filter((f) => existsSync(join(dir, f))),
  ];
  return { dir, config, weights, tokenizer, files: present.sort() };
}
