import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_ADAPTER_CONFIG, initAdapter, type Adapter, type AdapterConfig } from './adapter.js';
import { evaluate, predict, releaseGraphs, trainLocal } from './engine.node.js';
import { declareFeatInputs, featLoraModules, featureChannels, featureRow } from './feat-vqa.js';
import { Graph } from './graph.js';
import { encodeExamples } from './features.js';
import { decodeAdapter, encodeAdapter, exportMergedOnnx } from './formats.js';
import { buildPlannedGraph } from './graphs.js';
import { LORA_TARGETS } from './model.js';
import { Rng } from './rng.js';
import { CompiledGraph, type FeedData } from './runtime.node.js';
import { featExamples, synthExamples, tinyBase, tinyFeatBase } from './testing.js';
import { generateSynthRad } from '../data/synthrad.js';

afterAll(() => releaseGraphs());

const FEAT_ADAPTER: AdapterConfig = {
  ...DEFAULT_ADAPTER_CONFIG,
  lora: { ...DEFAULT_ADAPTER_CONFIG.lora, rank: 2, alpha: 4, targets: [...LORA_TARGETS] },
  prompt: { ...DEFAULT_ADAPTER_CONFIG.prompt, tokens: 2 },
};
const ANSWERS = ['yes', 'no', 'chest', 'brain', 'ct', 'left'];

function randomize(adapter: Adapter, seed: number, std: number): Adapter {
  const rng = new Rng(seed);
  for (const t of adapter.tensors.values())
    for (let i = 0; i < t.data.length; i++) t.data[i] = t.data[i]! + rng.normal() * std;
  return adapter;
}

/** loss(θ ± εv) against ∇loss·v along a random unit direction over every trainable tensor. */
async function wholeModelCheck(trainBase: boolean) {
  const base = tinyFeatBase();
  const adapter = trainBase ? null : randomize(initAdapter(base, FEAT_ADAPTER, ANSWERS, 1), 2, 0.2);
  const batch = 3;
  const examples = featExamples(base.config, batch, ANSWERS.concat(base.config.answers));
  const numAnswers = trainBase ? base.config.answers.length : ANSWERS.length;
  const built = buildPlannedGraph(
    {
      cfg: base.config,
      batch,
      mode: 'train',
      adapter: trainBase ? null : FEAT_ADAPTER,
      numAnswers,
      trainBase,
    },
    base.weights,
  );
  const compiled = await CompiledGraph.create(built.graph);
  const per = base.config.featureTokens * featureChannels(base.config);
  const { maxTokens: L, ngramSlots: K } = base.config;
  const feeds: Record<string, FeedData> = {
    image_features: new Float32Array(batch * per),
    token_ids: examples.tokenIds.slice(0, batch * L * K),
    token_weights: examples.tokenWeights.slice(0, batch * L * K),
    text_mask: examples.textMask.slice(0, batch * L),
    question_sketch: examples.sketch.slice(0, batch * base.config.sketchDim),
    targets: new Float32Array(batch * numAnswers),
  };
  for (let i = 0; i < batch; i++) {
    const img = examples.imageIndex[i]!;
    (feeds.image_features as Float32Array).set(
      examples.imageFeatures.subarray(img * per, (img + 1) * per),
      i * per,
    );
    (feeds.targets as Float32Array)[i * numAnswers + (i % numAnswers)] = 1 / batch;
  }
  const rng = new Rng(11);
  const point = new Map(
    built.params.map((p) => [
      p.name,
      (adapter?.tensors.get(p.name)?.data ?? base.weights.get(p.name)!).slice(),
    ]),
  );
  const dir = new Map(built.params.map((p) => [p.name, point.get(p.name)!.map(() => rng.normal())]));
  const norm = Math.sqrt([...dir.values()].reduce((s, d) => s + d.reduce((a, v) => a + v * v, 0), 0));
  for (const d of dir.values()) for (let i = 0; i < d.length; i++) d[i] = d[i]! / norm;
  const eps = 2e-2;
  const at = async (step: number) => {
    const f = { ...feeds };
    for (const [name, value] of point) f[name] = value.map((v, i) => v + step * dir.get(name)![i]!);
    return compiled.run(f);
  };
  const center = await at(0);
  let analytic = 0;
  for (const [name, d] of dir) {
    const g = center[`grad:${name}`]!;
    for (let i = 0; i < d.length; i++) analytic += g[i]! * d[i]!;
  }
  const loss = async (step: number) => (await at(step)).loss![0]!;
  const d1 = (await loss(eps)) - (await loss(-eps));
  const d2 = (await loss(2 * eps)) - (await loss(-2 * eps));
  const numeric = (8 * d1 - d2) / (12 * eps);
  await compiled.release();
  return { analytic, numeric, params: built.params.map((p) => p.name) };
}

describe('FeatVQA', () => {
  it('passes a whole-model gradient check on the adapter (LoRA on every target incl. img_proj, prompt, head)', async () => {
    const r = await wholeModelCheck(false);
    expect(r.params).toContain('lora.img_proj.1.A');
    expect(r.params).toContain('lora.layers.1.xattn.k_proj.B');
    expect(Math.abs(r.analytic - r.numeric) / Math.max(1e-3, Math.abs(r.analytic))).toBeLessThan(2e-2);
  });

  it('passes a whole-model gradient check with every base weight trainable', async () => {
    const r = await wholeModelCheck(true);
    expect(r.params).toContain('img_proj.0.weight');
    expect(Math.abs(r.analytic - r.numeric) / Math.max(1e-3, Math.abs(r.analytic))).toBeLessThan(2e-2);
  });

  it('adapts both attentions, the MLP and each feature map projection, with the shapes they need', () => {
    const { config } = tinyFeatBase();
    const modules = featLoraModules(config, LORA_TARGETS);
    expect(modules).toHaveLength(2 + 2 * (8 + 2));
    expect(modules[0]).toEqual({ module: 'img_proj.0', inDim: 6, outDim: 16 });
    expect(modules[1]).toEqual({ module: 'img_proj.1', inDim: 3, outDim: 16 });
    expect(modules.find((m) => m.module === 'layers.0.mlp.fc1')).toEqual({
      module: 'layers.0.mlp.fc1',
      inDim: 16,
      outDim: 32,
    });
  });

  it('learns from the features: training lowers the loss and beats the start on the training questions', async () => {
    const base = tinyFeatBase({ layers: 1 });
    const examples = featExamples(base.config, 48);
    const adapter = initAdapter(base, FEAT_ADAPTER, base.config.answers, 4);
    const before = await evaluate({ base, adapter, examples });
    const { adapter: trained, stats } = await trainLocal({
      base,
      adapter,
      examples,
      epochs: 30,
      batchSize: 16,
      lr: 0.01,
      seed: 1,
    });
    const after = await evaluate({ base, adapter: trained, examples });
    expect(stats.lastEpochLoss).toBeLessThan(0.5 * (before.lossSum / before.n));
    expect(after.closed.correct + after.open.correct).toBeGreaterThan(
      before.closed.correct + before.open.correct,
    );
  });

  it('merged-ONNX inference equals adapter inference within 1e-4, and the adapter file names its architecture', async () => {
    const base = tinyFeatBase();
    const adapter = randomize(initAdapter(base, FEAT_ADAPTER, ANSWERS, 1), 3, 0.2);
    const examples = featExamples(base.config, 4, ANSWERS);
    const ours = await predict({ base, adapter, examples });
    const bytes = exportMergedOnnx(base.config, base.weights, adapter, 1, 'f'.repeat(64));
    const g = new Graph();
    declareFeatInputs(g, base.config, 1);
    const merged = await CompiledGraph.fromBytes(bytes, g.inputs, [
      { name: 'logits', dtype: 'float32', shape: [1, ANSWERS.length] },
    ]);
    const per = examples.imageFeatures.length / (Math.max(...examples.imageIndex) + 1);
    const { maxTokens: L, ngramSlots: K, sketchDim: S } = base.config;
    for (let i = 0; i < examples.n; i++) {
      const img = examples.imageIndex[i]!;
      const out = await merged.run({
        image_features: examples.imageFeatures.slice(img * per, (img + 1) * per),
        token_ids: examples.tokenIds.slice(i * L * K, (i + 1) * L * K),
        token_weights: examples.tokenWeights.slice(i * L * K, (i + 1) * L * K),
        text_mask: examples.textMask.slice(i * L, (i + 1) * L),
        question_sketch: examples.sketch.slice(i * S, (i + 1) * S),
      });
      for (let j = 0; j < ANSWERS.length; j++)
        expect(Math.abs(out.logits![j]! - ours[i * ANSWERS.length + j]!)).toBeLessThan(1e-4);
    }
    await merged.release();
    const encoded = encodeAdapter(adapter, { arch: 'feat-vqa', hash: 'f'.repeat(64) });
    expect(decodeAdapter(encoded.json, encoded.weights, base.config).adapter.tensors.size).toBe(
      adapter.tensors.size,
    );
    expect(() => decodeAdapter(encoded.json, encoded.weights, tinyBase().config)).toThrow(
      /feat-vqa base, not tinymed-vqa/,
    );
  });

  it('refuses examples of the wrong kind: pixels for a feature model, features for a pixel model', async () => {
    const feat = tinyFeatBase();
    const data = generateSynthRad({ preset: 'general', n: 2, seed: 1 });
    expect(() => encodeExamples(data.records, data.images, ANSWERS, feat.config)).toThrow(
      /no encoder features/,
    );
    const features = new Map([...data.images.keys()].map((k) => [k, new Float32Array(4 * 9)]));
    expect(() => encodeExamples(data.records, features, ANSWERS, tinyBase().config)).toThrow(/reads pixels/);
    const pixelExamples = synthExamples(tinyBase().config, 2, ANSWERS);
    const adapter = initAdapter(feat, FEAT_ADAPTER, ANSWERS, 1);
    await expect(evaluate({ base: feat, adapter, examples: pixelExamples })).rejects.toThrow(
      /different model geometry/,
    );
  });

  it('pools each encoder output to the token grid and concatenates them channel-wise (featureRow)', () => {
    const { config } = tinyFeatBase(); // 4 tokens (2×2); outputs 'a' (6 channels) and 'b' (3)
    const a = Float32Array.from({ length: 2 * 2 * 6 }, (_, i) => i); // already 2×2
    const b = Float32Array.from({ length: 4 * 4 * 3 }, (_, i) => i % 7); // 4×4: pooled 2×2
    const row = featureRow(
      config,
      [
        { name: 'b', shape: [4, 4, 3] },
        { name: 'a', shape: [2, 2, 6] },
      ],
      [b, a],
    );
    expect(row).toHaveLength(4 * 9);
    // token 1 (row 0, column 1): a's own values, then the mean of b's positions (0,2) (0,3) (1,2) (1,3).
    expect([...row.subarray(9, 15)]).toEqual([6, 7, 8, 9, 10, 11]);
    const at = (y: number, x: number, c: number) => b[(y * 4 + x) * 3 + c]!;
    const mean = (c: number) => (at(0, 2, c) + at(0, 3, c) + at(1, 2, c) + at(1, 3, c)) / 4;
    expect(row[15]).toBeCloseTo(mean(0), 6);
    expect(row[17]).toBeCloseTo(mean(2), 6);
    expect(() => featureRow(config, [{ name: 'a', shape: [2, 2, 6] }], [a])).toThrow(/'b' is missing/);
  });
});
