/** Small fixtures shared by the training-engine tests (tiny TinyMed-VQA and FeatVQA models, a few SynthRad examples). */
import { generateSynthRad, SYNTHRAD_ANSWERS } from '../data/synthrad.js';
import type { GrayImage } from '../data/types.js';
import { MOBILENET_V2_SPEC } from './encoder/spec.js';
import { featureChannels, type FeatVqaConfig } from './feat-vqa.js';
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

export function tinyFeatConfig(overrides: Partial<FeatVqaConfig> = {}): FeatVqaConfig {
  return {
    arch: 'feat-vqa',
    version: 1,
    encoder: { ...MOBILENET_V2_SPEC, outputs: ['a', 'b'] },
    featureTokens: 4,
    featureGroups: [6, 3],
    maxTokens: 6,
    ngramSlots: 4,
    hashBuckets: 64,
    sketchDim: 24,
    dim: 16,
    heads: 2,
    layers: 2,
    mlpDim: 32,
    lnEps: 1e-5,
    answers: [...SYNTHRAD_ANSWERS],
    ...overrides,
  };
}

export function tinyFeatBase(
  overrides: Partial<FeatVqaConfig> = {},
  seed = 3,
): { config: FeatVqaConfig; weights: Weights; hash: string } {
  const config = tinyFeatConfig(overrides);
  return {
    config,
    weights: initBaseWeights(config, seed),
    hash: `test-feat-${seed}-${JSON.stringify(overrides)}`,
  };
}

/** SynthRad questions with stand-in encoder features (standInFeatures). */
export function featExamples(
  config: FeatVqaConfig,
  n: number,
  answers: readonly string[] = config.answers,
  seed = 5,
): EncodedExamples {
  const data = generateSynthRad({ preset: 'general', n, seed });
  return encodeExamples(data.records, standInFeatures(config, data.images), answers, config);
}

/**
 * Stand-in encoder features: each image's row is a fixed function of its pixels (mean intensity of each
 * token's band of rows, times a per-channel pattern), so answers about the image stay learnable.
 */
export function standInFeatures(
  config: FeatVqaConfig,
  images: ReadonlyMap<string, GrayImage>,
): Map<string, Float32Array> {
  const channels = featureChannels(config);
  const features = new Map<string, Float32Array>();
  for (const [key, image] of images) {
    const row = new Float32Array(config.featureTokens * channels);
    const band = Math.ceil(image.height / config.featureTokens);
    for (let t = 0; t < config.featureTokens; t++) {
      let sum = 0;
      let count = 0;
      for (let y = t * band; y < Math.min(image.height, (t + 1) * band); y++)
        for (let x = 0; x < image.width; x++, count++) sum += image.pixels[y * image.width + x]!;
      const mean = count ? sum / count / 255 : 0;
      for (let c = 0; c < channels; c++)
        row[t * channels + c] = mean * Math.cos(c + t) + 0.1 * Math.sin(3 * c);
    }
    features.set(key, row);
  }
  return features;
}
