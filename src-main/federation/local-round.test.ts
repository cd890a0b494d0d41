import { afterAll, describe, expect, it } from 'vitest';
import { generateSynthRad, SYNTHRAD_ANSWERS } from '../../core/data/synthrad.js';
import type { GrayImage } from '../../core/data/types.js';
import { LORA_TARGETS } from '../../core/ml/model.js';
import { normalizeAnswerSet, flattenShared, initAdapter } from '../../core/ml/adapter.js';
import { evaluate, releaseGraphs, trainLocal } from '../../core/ml/engine.node.js';
import { standInFeatures, tinyFeatBase } from '../../core/ml/testing.js';
import type { Trainer } from '../../core/ml/trainer.node.js';
import { federationConfigSchema } from '../../core/protocol/federation.js';
import { runLocalRound } from './local-round.js';

afterAll(() => releaseGraphs());

/** The engine in-process, behind the worker's interface. */
const inProcess: Trainer = { train: trainLocal, evaluate, close: async () => {} };

describe('runLocalRound with a FeatVQA base', () => {
  it('trains on the image inputs the site supplies (cached encoder features), asked once for both splits', async () => {
    const base = tinyFeatBase({ layers: 1 });
    const data = generateSynthRad({ preset: 'general', n: 40, seed: 4 });
    const split = (s: 'train' | 'val') => ({
      records: data.records.filter((r) => r.split === s),
      images: data.images,
    });
    const config = federationConfigSchema.parse({
      name: 'features',
      baseModelHash: 'a'.repeat(64),
      answers: normalizeAnswerSet(SYNTHRAD_ANSWERS),
      adapter: {
        lora: { enabled: true, shared: true, rank: 2, alpha: 4, targets: [...LORA_TARGETS] },
        prompt: { enabled: true, shared: true, tokens: 2 },
        head: { enabled: true, shared: true },
      },
      strategy: { kind: 'fedavg' },
      local: { epochs: 1, batchSize: 8, lr: 1e-2, weightDecay: 0, gradClip: 1 },
      rounds: 1,
      minSites: 1,
      secure: { enabled: true, clipNorm: 1 },
      deadlines: { trainingMs: 60_000, stageMs: 10_000 },
      seed: 3,
    });
    const globalShared = flattenShared(initAdapter(base, config.adapter, config.answers, config.seed));
    const asked: number[] = [];
    const result = await runLocalRound({
      base,
      config,
      globalShared,
      personal: undefined,
      train: split('train'),
      validation: split('val'),
      seed: 1,
      trainer: inProcess,
      imageInputs: async (images: ReadonlyMap<string, GrayImage>) => {
        asked.push(images.size);
        return standInFeatures(base.config, images);
      },
    });
    expect(asked).toEqual([data.images.size]);
    expect(result.stats.steps).toBeGreaterThan(0);
    expect(result.contribution.delta.some((v) => v !== 0)).toBe(true);
    expect(result.startingEvaluation.n).toBe(split('val').records.length);
    // Without the features, a FeatVQA base cannot read the images.
    await expect(
      runLocalRound({
        base,
        config,
        globalShared,
        personal: undefined,
        train: split('train'),
        validation: split('val'),
        seed: 1,
        trainer: inProcess,
      }),
    ).rejects.toThrow(/no encoder features/);
  });
});
