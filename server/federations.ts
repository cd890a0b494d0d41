import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SYNTHRAD_ANSWERS } from '../core/data/synthrad.js';
import {
  DEFAULT_ADAPTER_CONFIG,
  flattenShared,
  initAdapter,
  normalizeAnswerSet,
} from '../core/ml/adapter.js';
import type { BaseModel } from '../core/ml/engine.node.js';
import { federationConfigSchema, type FederationConfig } from '../core/protocol/federation.js';

/** Where a federation's public answer set comes from. */
export type AnswerSource = { kind: 'synth' } | { kind: 'list'; answers: string[] };

/**
 * Reads an answer set: `synth` (SynthRad-VQA's template answers), a directory laid out like VQA-RAD
 * (its published `answer_all_list.json`), or a JSON file holding an array of answers.
 */
export async function readAnswerSource(spec: string): Promise<AnswerSource> {
  if (spec === 'synth') return { kind: 'synth' };
  const path = spec.startsWith('vqa-rad:')
    ? join(spec.slice('vqa-rad:'.length), 'answer_all_list.json')
    : spec;
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read an answer list from ${path}: ${(error as Error).message}`);
  }
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string'))
    throw new Error(`${path} is not a JSON array of answers`);
  return { kind: 'list', answers: parsed };
}

export function answersOf(source: AnswerSource): string[] {
  return normalizeAnswerSet(source.kind === 'synth' ? SYNTHRAD_ANSWERS : source.answers);
}

/**
 * A federation config with Cohort's defaults: LoRA + soft prompt + head, all shared; FedAvg; two local
 * epochs; secure aggregation on with the default threshold; generous deadlines for desktop hardware.
 */
export function defaultFederationConfig(
  base: BaseModel,
  name: string,
  answers: string[],
  overrides: Partial<FederationConfig> = {},
): FederationConfig {
  return federationConfigSchema.parse({
    name,
    baseModelHash: base.hash,
    answers,
    adapter: DEFAULT_ADAPTER_CONFIG,
    strategy: { kind: 'fedavg' },
    local: { epochs: 2, batchSize: 32, lr: 3e-3, weightDecay: 0.01, gradClip: 1 },
    rounds: 5,
    minSites: 2,
    secure: { enabled: true, clipNorm: 1 },
    deadlines: { trainingMs: 30 * 60_000, stageMs: 60_000 },
    seed: 7,
    ...overrides,
  });
}

/** Version 0's shared tensors: the adapter every site starts from, initialised from the federation seed. */
export function initialSharedVector(base: BaseModel, config: FederationConfig): Float32Array {
  if (config.baseModelHash !== base.hash) {
    throw new Error(
      `the federation names base model ${config.baseModelHash.slice(0, 12)}…, this coordinator has ${base.hash.slice(0, 12)}…`,
    );
  }
  return flattenShared(initAdapter(base, config.adapter, config.answers, config.seed));
}
