import { afterAll, describe, expect, it } from 'vitest';
import {
  adapterConfigFor,
  DEFAULT_ADAPTER_CONFIG,
  flattenShared,
  initAdapter,
  sharedTensorNames,
  unflattenShared,
  type Adapter,
  type AdapterConfig,
} from './adapter.js';
import { evaluate, predict, releaseGraphs, trainLocal } from './engine.node.js';
import { decodeAdapter, encodeAdapter, exportMergedOnnx, exportPeft } from './formats.js';
import { buildPlannedGraph } from './graphs.js';
import { Rng } from './rng.js';
import { CompiledGraph, type FeedData } from './runtime.node.js';
import { decodeSafetensors } from './safetensors.js';
import { synthExamples, tinyBase } from './testing.js';
import { numPatches } from './features.js';
import { Graph } from './graph.js';
import { declareInputs } from './model.js';

afterAll(() => releaseGraphs());

const ALL_TARGETS: AdapterConfig['lora']['targets'] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'fc1', 'fc2'];

function randomize(adapter: Adapter, seed: number, std = 0.3): Adapter {
  const rng = new Rng(seed);
  for (const t of adapter.tensors.values())
    for (let i = 0; i < t.data.length; i++) t.data[i] = t.data[i]! + rng.normal() * std;
  return adapter;
}

/**
 * Whole-model finite-difference check: loss(θ ± εv) against ∇loss·v for a random direction v over every
 * trainable tensor of the training graph.
 */
async function wholeModelCheck(trainBase: boolean) {
  const base = tinyBase({ layers: 2 });
  const config: AdapterConfig = {
    ...DEFAULT_ADAPTER_CONFIG,
    lora: { ...DEFAULT_ADAPTER_CONFIG.lora, rank: 2, alpha: 4, targets: ALL_TARGETS },
    prompt: { ...DEFAULT_ADAPTER_CONFIG.prompt, tokens: 2 },
  };
  const answers = ['yes', 'no', 'chest', 'brain', 'ct', 'left'];
  const adapter = trainBase ? null : randomize(initAdapter(base, config, answers, 1), 2, 0.2);
  const batch = 3;
  const examples = synthExamples(base.config, batch, answers.concat(base.config.answers));
  const numAnswers = trainBase ? base.config.answers.length : answers.length;
  const built = buildPlannedGraph(
    { cfg: base.config, batch, mode: 'train', adapter: trainBase ? null : config, numAnswers, trainBase },
    base.weights,
  );
  const compiled = await CompiledGraph.create(built.graph);
  const per = base.config.imageSize ** 2;
  const L = base.config.maxTokens;
  const K = base.config.ngramSlots;
  const feeds: Record<string, FeedData> = {
    patches: new Float32Array(batch * per),
    token_ids: examples.tokenIds.slice(0, batch * L * K),
    token_weights: examples.tokenWeights.slice(0, batch * L * K),
    text_mask: examples.textMask.slice(0, batch * L),
    question_sketch: examples.sketch.slice(0, batch * base.config.sketchDim),
    targets: new Float32Array(batch * numAnswers),
  };
  for (let i = 0; i < batch; i++) {
    (feeds.patches as Float32Array).set(
      examples.imageFeatures.subarray(examples.imageIndex[i]! * per, (examples.imageIndex[i]! + 1) * per),
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
  // A unit-norm direction over all tensors, and a 4th-order central difference (Richardson), so the
  // check stays tight even across tens of thousands of parameters.
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
  return { analytic, numeric, params: built.params.length };
}

describe('TinyMed-VQA', () => {
  it('passes a whole-model gradient check on the adapter (LoRA on all targets, prompt, head)', async () => {
    const r = await wholeModelCheck(false);
    expect(r.params).toBeGreaterThan(10);
    expect(Math.abs(r.analytic - r.numeric) / Math.max(1e-3, Math.abs(r.analytic))).toBeLessThan(2e-2);
  });

  it('passes a whole-model gradient check with every base weight trainable (pretraining)', async () => {
    const r = await wholeModelCheck(true);
    expect(Math.abs(r.analytic - r.numeric) / Math.max(1e-3, Math.abs(r.analytic))).toBeLessThan(2e-2);
  });

  it('a 1-layer model overfits a tiny batch to near-zero loss', async () => {
    const base = tinyBase({ layers: 1 });
    const examples = synthExamples(base.config, 8);
    const adapter = initAdapter(base, DEFAULT_ADAPTER_CONFIG, base.config.answers, 4);
    const { stats } = await trainLocal({
      base,
      adapter,
      examples,
      epochs: 150,
      batchSize: 8,
      lr: 0.02,
      seed: 1,
      clipNorm: 0,
    });
    expect(stats.steps).toBe(150);
    expect(stats.lastEpochLoss).toBeLessThan(0.02);
    const result = await evaluate({ base, adapter: null, examples });
    expect(result.n).toBe(8);
  });

  it('LoRA with B = 0 leaves the base model outputs unchanged', async () => {
    const base = tinyBase({ layers: 2 });
    const examples = synthExamples(base.config, 10);
    const config = adapterConfigFor(['lora'], {
      ...DEFAULT_ADAPTER_CONFIG,
      lora: { ...DEFAULT_ADAPTER_CONFIG.lora, targets: ALL_TARGETS },
    });
    const adapter = initAdapter(base, config, base.config.answers, 9);
    const aNonZero = [...adapter.tensors].some(([n, t]) => n.endsWith('.A') && t.data.some((v) => v !== 0));
    expect(aNonZero).toBe(true);
    const plain = await predict({ base, adapter: null, examples });
    const adapted = await predict({ base, adapter, examples });
    expect(Math.max(...plain.map((v, i) => Math.abs(v - adapted[i]!)))).toBeLessThan(1e-6);
    // and a non-zero B does change them (the comparison can fail)
    adapter.tensors.get('lora.layers.0.attn.v_proj.B')!.data.fill(0.5);
    const changed = await predict({ base, adapter, examples });
    expect(Math.max(...plain.map((v, i) => Math.abs(v - changed[i]!)))).toBeGreaterThan(1e-3);
  });

  it('merged-ONNX inference equals adapter inference within 1e-4', async () => {
    const base = tinyBase({ layers: 2 });
    const answers = ['yes', 'no', 'ct', 'mri', 'x-ray', 'chest'];
    const config = {
      ...DEFAULT_ADAPTER_CONFIG,
      lora: { ...DEFAULT_ADAPTER_CONFIG.lora, targets: ALL_TARGETS },
    };
    const adapter = randomize(initAdapter(base, config, answers, 2), 3, 0.2);
    const batch = 5;
    const examples = synthExamples(base.config, batch, answers);
    const reference = await predict({ base, adapter, examples, batchSize: batch });
    const bytes = exportMergedOnnx(base.config, base.weights, adapter, batch, 'f'.repeat(64));
    const g = new Graph();
    declareInputs(g, base.config, batch);
    const merged = await CompiledGraph.fromBytes(bytes, g.inputs, [
      { name: 'logits', dtype: 'float32', shape: [batch, answers.length] },
    ]);
    const per = base.config.imageSize ** 2;
    const patches = new Float32Array(batch * per);
    for (let i = 0; i < batch; i++)
      patches.set(
        examples.imageFeatures.subarray(examples.imageIndex[i]! * per, (examples.imageIndex[i]! + 1) * per),
        i * per,
      );
    const out = await merged.run({
      patches,
      token_ids: examples.tokenIds,
      token_weights: examples.tokenWeights,
      text_mask: examples.textMask,
      question_sketch: examples.sketch,
    });
    await merged.release();
    const diff = Math.max(...reference.map((v, i) => Math.abs(v - out.logits![i]!)));
    expect(diff).toBeLessThan(1e-4);
    expect(numPatches(base.config)).toBe(4);
  });

  it('training is deterministic given a seed and one thread', async () => {
    const base = tinyBase();
    const examples = synthExamples(base.config, 24);
    const adapter = initAdapter(base, DEFAULT_ADAPTER_CONFIG, base.config.answers, 7);
    const run = () =>
      trainLocal({ base, adapter, examples, epochs: 2, batchSize: 8, lr: 0.01, seed: 5, threads: 1 });
    const a = await run();
    const b = await run();
    expect(flattenShared(a.adapter)).toEqual(flattenShared(b.adapter));
    expect(flattenShared(a.adapter)).not.toEqual(flattenShared(adapter));
    const c = await trainLocal({
      base,
      adapter,
      examples,
      epochs: 2,
      batchSize: 8,
      lr: 0.01,
      seed: 6,
      threads: 1,
    });
    expect(flattenShared(c.adapter)).not.toEqual(flattenShared(a.adapter));
  });

  it('FedProx pulls shared tensors towards the starting global values', async () => {
    const base = tinyBase();
    const examples = synthExamples(base.config, 32);
    const adapter = initAdapter(base, DEFAULT_ADAPTER_CONFIG, base.config.answers, 7);
    const start = flattenShared(adapter);
    const dist = (v: Float32Array) => Math.sqrt(v.reduce((s, x, i) => s + (x - start[i]!) ** 2, 0));
    const free = await trainLocal({
      base,
      adapter,
      examples,
      epochs: 3,
      batchSize: 8,
      lr: 0.01,
      seed: 1,
      clipNorm: 0,
    });
    const prox = await trainLocal({
      base,
      adapter,
      examples,
      epochs: 3,
      batchSize: 8,
      lr: 0.01,
      seed: 1,
      clipNorm: 0,
      proxMu: 50,
    });
    expect(dist(flattenShared(prox.adapter))).toBeLessThan(0.8 * dist(flattenShared(free.adapter)));
  });

  it('skips examples whose answer is outside the answer set and counts them wrong in evaluation', async () => {
    const base = tinyBase();
    const examples = synthExamples(base.config, 20, ['yes', 'no']);
    const outside = [...examples.labels].filter((l) => l < 0).length;
    expect(outside).toBeGreaterThan(0);
    const adapter = initAdapter(base, DEFAULT_ADAPTER_CONFIG, ['yes', 'no'], 1);
    const { stats } = await trainLocal({
      base,
      adapter,
      examples,
      epochs: 1,
      batchSize: 4,
      lr: 0.01,
      seed: 1,
    });
    expect(stats.skipped).toBe(outside);
    const r = await evaluate({ base, adapter, examples });
    expect(r.n).toBe(20);
    expect(r.closed.correct + r.open.correct).toBeLessThanOrEqual(20 - outside);
  });
});

describe('adapters', () => {
  const base = tinyBase({ layers: 2 });

  it('flattens and unflattens only the shared tensors, in canonical order', () => {
    const config: AdapterConfig = {
      ...DEFAULT_ADAPTER_CONFIG,
      prompt: { ...DEFAULT_ADAPTER_CONFIG.prompt, shared: false },
    };
    const adapter = randomize(initAdapter(base, config, ['yes', 'no', 'ct'], 1), 1);
    const names = sharedTensorNames(adapter);
    expect(names).not.toContain('prompt.embeddings');
    expect(names).toContain('head.weight');
    const flat = flattenShared(adapter);
    const expected = names.reduce((s, n) => s + adapter.tensors.get(n)!.data.length, 0);
    expect(flat.length).toBe(expected);
    const doubled = unflattenShared(
      adapter,
      flat.map((v) => v * 2),
    );
    for (const n of names)
      expect(doubled.tensors.get(n)!.data).toEqual(adapter.tensors.get(n)!.data.map((v) => v * 2));
    expect(doubled.tensors.get('prompt.embeddings')!.data).toEqual(
      adapter.tensors.get('prompt.embeddings')!.data,
    );
    expect(() => unflattenShared(adapter, flat.subarray(1))).toThrow();
  });

  it('copies base-head columns for answers the base already knows', () => {
    const adapter = initAdapter(base, DEFAULT_ADAPTER_CONFIG, ['Yes ', 'tumour'], 1);
    expect(adapter.answers).toEqual(['yes', 'tumour']);
    const baseW = base.weights.get('head.weight')!;
    const A = base.config.answers.length;
    const yes = base.config.answers.indexOf('yes');
    expect(adapter.tensors.get('head.weight')!.data[0]).toBe(baseW[yes]);
    expect(adapter.tensors.get('head.weight')!.data[2]).toBe(baseW[A + yes]);
  });

  it('round-trips through safetensors + JSON and exports the PEFT layout', () => {
    const adapter = randomize(initAdapter(base, DEFAULT_ADAPTER_CONFIG, ['yes', 'no', 'ct'], 1), 4);
    const hash = 'a'.repeat(64);
    const encoded = encodeAdapter(adapter, { arch: 'tinymed-vqa', hash }, { note: 'x' });
    const decoded = decodeAdapter(encoded.json, encoded.weights, base.config);
    expect(decoded.baseHash).toBe(hash);
    expect(decoded.adapter.answers).toEqual(adapter.answers);
    for (const [n, t] of adapter.tensors) expect(decoded.adapter.tensors.get(n)!.data).toEqual(t.data);
    const peft = exportPeft(adapter, { arch: 'tinymed-vqa', hash });
    const cfg = JSON.parse(peft.config) as Record<string, unknown>;
    expect(cfg.peft_type).toBe('LORA');
    expect(cfg.r).toBe(8);
    expect(cfg.target_modules).toEqual(['fc1', 'fc2', 'k_proj', 'o_proj', 'q_proj', 'v_proj']);
    const { tensors } = decodeSafetensors(peft.weights);
    const a = tensors.get('base_model.model.layers.0.attn.q_proj.lora_A.weight')!;
    const b = tensors.get('base_model.model.layers.0.attn.q_proj.lora_B.weight')!;
    expect(a.shape).toEqual([8, base.config.dim]); // torch layout [r, in]
    expect(b.shape).toEqual([base.config.dim, 8]); // [out, r]
    const ours = adapter.tensors.get('lora.layers.0.attn.q_proj.A')!;
    expect(a.data[1 * base.config.dim + 2]).toBe(ours.data[2 * 8 + 1]);
    expect(tensors.get('base_model.model.head.weight')!.shape).toEqual([
      3,
      3 * base.config.dim + base.config.sketchDim,
    ]);
  });

  it('rejects an adapter whose tensors do not match the base model', () => {
    const adapter = initAdapter(base, DEFAULT_ADAPTER_CONFIG, ['yes', 'no'], 1);
    const encoded = encodeAdapter(adapter, { arch: 'tinymed-vqa', hash: 'b'.repeat(64) });
    const other = tinyBase({ dim: 8, heads: 2 });
    expect(() => decodeAdapter(encoded.json, encoded.weights, other.config)).toThrow(/do not match/);
  });

  it('requires the base answer set when the head part is off', () => {
    expect(() => initAdapter(base, adapterConfigFor(['lora']), ['yes', 'no'], 1)).toThrow(/answer set/);
  });
});
