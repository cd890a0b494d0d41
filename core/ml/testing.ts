/** Small fixtures shared by the training-engine tests (a tiny TinyMed-VQA and a few SynthRad examples). */
import { generateSynthRad, SYNTHRAD_ANSWERS } from '../data/synthrad.js';
import { encodeExamples, type EncodedExamples } from './features.js';
import { initBaseWeights, type TinyMedConfig, type Weights } from './model.js';

export function tinyConfig(overrides: Partial<TinyMedConfig> = {}): TinyMedConfig {
  return {
    arch: 'tinymed-vqa',
    version: 1,
    imageSize: 16,
    patchSize: 8,
    maxTokens: 6,
    ngramSlots: 4,
    hashBuckets: 64,
    sketchDim: 24,
    dim: 16,
    heads: 2,
    layers: 1,
    mlpDim: 32,
    lnEps: 1e-5,
    answers: [...SYNTHRAD_ANSWERS],
    ...overrides,
  };
}

export function tinyBase(
  overrides: Partial<TinyMedConfig> = {},
  seed = 3,
): { config: TinyMedConfig; weights: Weights; hash: string } {
  const config = tinyConfig(overrides);
  return {
    config,
    weights: initBaseWeights(config, seed),
    hash: `test-${seed}-${JSON.stringify(overrides)}`,
  };
}

export function synthExamples(
  config: TinyMedConfig,
  n: number,
  answers: readonly string[] = config.answers,
  seed = 5,
): EncodedExamples {
  const data = generateSynthRad({ preset: 'general', n, seed });
  return encodeExamples(data.records, data.images, answers, config);
}
