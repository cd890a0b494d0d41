/**
 * The training engine: local adapter training (`trainLocal`), evaluation (`evaluate`), prediction and
 * base-model pretraining, on graphs compiled once per structure and reused (an LRU cache per thread).
 */
import { cloneAdapter, isShared, type Adapter, type AdapterConfig } from './adapter.js';
import { imageLayout, type EncodedExamples } from './features.js';
import { buildPlannedGraph, planKey, type GraphPlan } from './graphs.js';
import type { ModelConfig, Weights } from './model.js';
import { AdamW, addProximal, clipGradNorm } from './optim.js';
import { Rng, deriveSeed } from './rng.js';
import { CompiledGraph, type FeedData } from './runtime.node.js';

export interface BaseModel {
  config: ModelConfig;
  weights: Weights;
  /** sha256 (hex) over the canonical serialisation of config + weights: the base model's name. */
  hash: string;
}

export interface Progress {
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  /** Mean loss of the last step. */
  loss: number;
  examples: number;
}

export interface TrainStats {
  /** Mean training loss over all steps. */
  loss: number;
  /** Mean loss over the last epoch. */
  lastEpochLoss: number;
  steps: number;
  /** Examples seen (counting repeats across epochs). */
  examples: number;
  /** Examples skipped because their answer is outside the answer set. */
  skipped: number;
  ms: number;
}

export interface TrainLocalOptions {
  base: BaseModel;
  adapter: Adapter;
  examples: EncodedExamples;
  epochs: number;
  batchSize: number;
  lr: number;
  weightDecay?: number;
  /** Global L2 clip of each step's gradient (0 = off). */
  clipNorm?: number;
  /** FedProx μ: pulls the shared tensors towards their values at the start of this call. */
  proxMu?: number;
  seed: number;
  threads?: number;
  /** 'cosine' decays to 10 % over the run after a short warm-up; 'constant' keeps lr (FL default). */
  schedule?: 'constant' | 'cosine';
  /** Image augmentation during training (off by default; DEFAULT_AUGMENTATION is a good start). */
  augment?: Augmentation;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

export class TrainingCancelled extends Error {
  constructor() {
    super('training cancelled');
    this.name = 'AbortError';
  }
}

// ---- compiled graph cache --------------------------------------------------------------------------

interface CacheEntry {
  compiled: Promise<CompiledGraph>;
  params: { name: string; shape: number[] }[];
}
const cache = new Map<string, CacheEntry>();
const CACHE_LIMIT = 8;

async function getGraph(
  base: BaseModel,
  plan: Omit<GraphPlan, 'cfg'>,
  threads: number,
): Promise<CacheEntry & { graph: CompiledGraph }> {
  const key = `${base.hash}|${threads}|${planKey({ ...plan, cfg: base.config })}`;
  let entry = cache.get(key);
  if (entry) {
    cache.delete(key);
    cache.set(key, entry);
  } else {
    const built = buildPlannedGraph({ ...plan, cfg: base.config }, base.weights);
    entry = { compiled: CompiledGraph.create(built.graph, { threads }), params: built.params };
    cache.set(key, entry);
    while (cache.size > CACHE_LIMIT) {
      const [oldKey, old] = cache.entries().next().value as [string, CacheEntry];
      cache.delete(oldKey);
      void old.compiled.then((c) => c.release()).catch(() => undefined);
    }
  }
  return { ...entry, graph: await entry.compiled };
}

/** Releases every cached session (call before a worker exits, or in tests). */
export async function releaseGraphs(): Promise<void> {
  const entries = [...cache.values()];
  cache.clear();
  await Promise.all(entries.map(async (e) => (await e.compiled).release().catch(() => undefined)));
}

// ---- batches ---------------------------------------------------------------------------------------

/**
 * Training-time image augmentation against memorising the (few) training images: a random shift of up
 * to `shift` pixels, multiplicative contrast jitter and additive noise (on standardised intensities),
 * and dropping the image (all zeros) with probability `dropImage`. Never flips: sides matter.
 */
export interface Augmentation {
  shift: number;
  contrast: number;
  noise: number;
  dropImage: number;
}

export const DEFAULT_AUGMENTATION: Augmentation = { shift: 4, contrast: 0.2, noise: 0.1, dropImage: 0.1 };

function augmentPatches(
  src: Float32Array,
  dst: Float32Array,
  size: number,
  patch: number,
  a: Augmentation,
  rng: Rng,
) {
  if (rng.chance(a.dropImage)) return dst.fill(0);
  const dx = Math.round(rng.range(-a.shift, a.shift));
  const dy = Math.round(rng.range(-a.shift, a.shift));
  const gain = 1 + rng.range(-a.contrast, a.contrast);
  const per = size / patch;
  // Patch layout: index of pixel (x, y) = ((py·per + px)·patch + (y mod patch))·patch + (x mod patch).
  const at = (x: number, y: number) =>
    ((Math.floor(y / patch) * per + Math.floor(x / patch)) * patch + (y % patch)) * patch + (x % patch);
  for (let y = 0; y < size; y++) {
    const sy = Math.min(size - 1, Math.max(0, y - dy));
    for (let x = 0; x < size; x++) {
      const sx = Math.min(size - 1, Math.max(0, x - dx));
      dst[at(x, y)] = src[at(sx, sy)]! * gain + (a.noise > 0 ? rng.normal() * a.noise : 0);
    }
  }
}

function batchFeeds(
  cfg: ModelConfig,
  ex: EncodedExamples,
  rows: readonly number[],
  batch: number,
  augment?: { params: Augmentation; rng: Rng },
): Record<string, FeedData> {
  const { geometry } = ex;
  const per = imageLayout(cfg).values;
  const LK = geometry.maxTokens * geometry.ngramSlots;
  const L = geometry.maxTokens;
  const patches = new Float32Array(batch * per);
  const ids = new Int32Array(batch * LK);
  const w = new Float32Array(batch * LK);
  const mask = new Float32Array(batch * L);
  const S = geometry.sketchDim;
  const sketch = new Float32Array(batch * S);
  rows.forEach((r, i) => {
    const img = ex.imageIndex[r]!;
    const src = ex.imageFeatures.subarray(img * per, (img + 1) * per);
    if (augment && cfg.arch === 'tinymed-vqa') {
      augmentPatches(
        src,
        patches.subarray(i * per, (i + 1) * per),
        cfg.imageSize,
        cfg.patchSize,
        augment.params,
        augment.rng,
      );
    } else patches.set(src, i * per);
    ids.set(ex.tokenIds.subarray(r * LK, (r + 1) * LK), i * LK);
    w.set(ex.tokenWeights.subarray(r * LK, (r + 1) * LK), i * LK);
    mask.set(ex.textMask.subarray(r * L, (r + 1) * L), i * L);
    sketch.set(ex.sketch.subarray(r * S, (r + 1) * S), i * S);
  });
  const image = cfg.arch === 'feat-vqa' ? 'image_features' : 'patches';
  return { [image]: patches, token_ids: ids, token_weights: w, text_mask: mask, question_sketch: sketch };
}

function checkGeometry(cfg: ModelConfig, ex: EncodedExamples) {
  const g = ex.geometry;
  if (
    g.image !== imageLayout(cfg).name ||
    g.maxTokens !== cfg.maxTokens ||
    g.ngramSlots !== cfg.ngramSlots ||
    g.hashBuckets !== cfg.hashBuckets ||
    g.sketchDim !== cfg.sketchDim
  ) {
    throw new Error('examples were encoded for a different model geometry');
  }
}

// ---- the generic loop ------------------------------------------------------------------------------

interface LoopOptions {
  base: BaseModel;
  plan: Omit<GraphPlan, 'cfg' | 'mode' | 'batch'>;
  params: Map<string, Float32Array>;
  /** Reference values for FedProx (shared tensors only). */
  proxReference?: Map<string, Float32Array>;
  examples: EncodedExamples;
  epochs: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  clipNorm: number;
  proxMu: number;
  seed: number;
  threads: number;
  schedule: 'constant' | 'cosine';
  augment?: Augmentation;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

async function trainLoop(o: LoopOptions): Promise<TrainStats> {
  const started = Date.now();
  checkGeometry(o.base.config, o.examples);
  const valid: number[] = [];
  for (let i = 0; i < o.examples.n; i++) if (o.examples.labels[i]! >= 0) valid.push(i);
  const skipped = o.examples.n - valid.length;
  const batch = Math.max(1, Math.min(o.batchSize, valid.length || 1));
  const { graph, params: order } = await getGraph(o.base, { ...o.plan, mode: 'train', batch }, o.threads);
  for (const p of order) {
    if (!o.params.has(p.name)) throw new Error(`no value for trainable tensor ${p.name}`);
  }
  const optimizer = new AdamW(o.params, {
    lr: o.lr,
    weightDecay: o.weightDecay,
    decays: (name) => !name.endsWith('.bias') && !name.includes('ln') && name !== 'prompt.embeddings',
  });
  const stepsPerEpoch = Math.ceil(valid.length / batch);
  const totalSteps = stepsPerEpoch * o.epochs;
  const warmup = o.schedule === 'cosine' ? Math.min(50, Math.floor(totalSteps / 10)) : 0;
  const lrAt = (step: number) => {
    if (o.schedule === 'constant') return o.lr;
    if (step < warmup) return (o.lr * (step + 1)) / warmup;
    const t = (step - warmup) / Math.max(1, totalSteps - warmup);
    return o.lr * (0.1 + 0.45 * (1 + Math.cos(Math.PI * t)));
  };
  const rng = new Rng(deriveSeed(o.seed, 'shuffle'));
  const augmentation = o.augment
    ? { params: o.augment, rng: new Rng(deriveSeed(o.seed, 'augment')) }
    : undefined;
  const A = o.plan.numAnswers;
  let step = 0;
  let lossSum = 0;
  let lastEpochLoss = 0;
  let seen = 0;
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    const orderRows = rng.shuffle(valid.slice());
    let epochLoss = 0;
    let epochSteps = 0;
    for (let start = 0; start < orderRows.length; start += batch) {
      if (o.signal?.aborted) throw new TrainingCancelled();
      const rows = orderRows.slice(start, start + batch);
      const feeds = batchFeeds(o.base.config, o.examples, rows, batch, augmentation);
      const targets = new Float32Array(batch * A);
      rows.forEach((r, i) => (targets[i * A + o.examples.labels[r]!] = 1 / rows.length));
      feeds.targets = targets;
      for (const p of order) feeds[p.name] = o.params.get(p.name)!;
      const out = await graph.run(feeds);
      const loss = out.loss![0]!;
      if (!Number.isFinite(loss)) throw new Error(`training diverged (loss ${loss}) at step ${step}`);
      const grads = new Map(order.map((p) => [p.name, out[`grad:${p.name}`]!]));
      if (o.proxReference) addProximal(grads, o.params, o.proxReference, o.proxMu);
      clipGradNorm(grads, o.clipNorm);
      optimizer.step(grads, lrAt(step));
      step++;
      epochSteps++;
      seen += rows.length;
      lossSum += loss;
      epochLoss += loss;
      o.onProgress?.({ epoch, epochs: o.epochs, step, steps: totalSteps, loss, examples: seen });
    }
    lastEpochLoss = epochSteps ? epochLoss / epochSteps : 0;
  }
  return {
    loss: step ? lossSum / step : 0,
    lastEpochLoss,
    steps: step,
    examples: seen,
    skipped,
    ms: Date.now() - started,
  };
}

function adapterStructure(adapter: Adapter): AdapterConfig {
  return adapter.config;
}

// ---- public API ------------------------------------------------------------------------------------

/** Trains the adapter's enabled parts (shared and local) on local examples; the input adapter is not modified. */
export async function trainLocal(opts: TrainLocalOptions): Promise<{ adapter: Adapter; stats: TrainStats }> {
  const adapter = cloneAdapter(opts.adapter);
  const params = new Map([...adapter.tensors].map(([name, t]) => [name, t.data]));
  const proxMu = opts.proxMu ?? 0;
  const proxReference =
    proxMu > 0
      ? new Map(
          [...opts.adapter.tensors]
            .filter(([name]) => isShared(adapter.config, name))
            .map(([name, t]) => [name, t.data.slice()]),
        )
      : undefined;
  const stats = await trainLoop({
    base: opts.base,
    plan: { adapter: adapterStructure(adapter), numAnswers: adapter.answers.length, trainBase: false },
    params,
    ...(proxReference ? { proxReference } : {}),
    examples: opts.examples,
    epochs: opts.epochs,
    batchSize: opts.batchSize,
    lr: opts.lr,
    weightDecay: opts.weightDecay ?? 0,
    clipNorm: opts.clipNorm ?? 1,
    proxMu,
    seed: opts.seed,
    threads: opts.threads ?? 1,
    schedule: opts.schedule ?? 'constant',
    ...(opts.augment ? { augment: opts.augment } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  return { adapter, stats };
}

export interface PretrainOptions extends Omit<TrainLocalOptions, 'adapter' | 'base' | 'proxMu'> {
  config: ModelConfig;
  weights: Weights;
  /** Base weights kept at their initial values (see PRETRAIN_FROZEN). */
  frozen?: readonly string[];
}

/**
 * Base weights kept at their initialisation during pretraining by default: none. (Freezing the hashed
 * n-gram table, so unseen words would look like seen ones, transferred worse to VQA-RAD in our runs
 * than letting the words the synthetic corpus shares with real questions learn their meaning.)
 */
export const PRETRAIN_FROZEN: readonly string[] = [];

/** Trains every base weight (no adapter): the base-model build. Updates `weights` in place. */
export async function pretrainBase(opts: PretrainOptions): Promise<TrainStats> {
  const base: BaseModel = {
    config: opts.config,
    weights: opts.weights,
    hash: `pretrain-${Date.now()}-${Math.random()}`,
  };
  try {
    return await trainLoop({
      base,
      plan: {
        adapter: null,
        numAnswers: opts.config.answers.length,
        trainBase: true,
        frozen: opts.frozen ?? PRETRAIN_FROZEN,
      },
      params: new Map([...opts.weights].filter(([name]) => !(opts.frozen ?? PRETRAIN_FROZEN).includes(name))),
      examples: opts.examples,
      epochs: opts.epochs,
      batchSize: opts.batchSize,
      lr: opts.lr,
      weightDecay: opts.weightDecay ?? 0,
      clipNorm: opts.clipNorm ?? 1,
      proxMu: 0,
      seed: opts.seed,
      threads: opts.threads ?? 1,
      schedule: opts.schedule ?? 'cosine',
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } finally {
    await releaseGraphs();
  }
}

export interface EvalResult {
  n: number;
  closed: { n: number; correct: number };
  open: { n: number; correct: number };
  /** Σ cross-entropy over examples whose answer is in the answer set (outside ones add no loss). */
  lossSum: number;
}

export interface EvaluateOptions {
  base: BaseModel;
  /** null = the bare base model with its own head and answer set. */
  adapter: Adapter | null;
  examples: EncodedExamples;
  batchSize?: number;
  threads?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  /** Pretraining only: feed these base weights as inputs instead of baking base.weights in. */
  weightsAsInputs?: Weights;
  frozen?: readonly string[];
}

/** Logits for every example, [n × numAnswers]. */
export async function predict(opts: EvaluateOptions): Promise<Float32Array> {
  checkGeometry(opts.base.config, opts.examples);
  const numAnswers = opts.adapter ? opts.adapter.answers.length : opts.base.config.answers.length;
  const batch = Math.max(1, Math.min(opts.batchSize ?? 64, opts.examples.n || 1));
  const trainBase = Boolean(opts.weightsAsInputs);
  const { graph, params } = await getGraph(
    opts.base,
    {
      mode: 'eval',
      batch,
      adapter: opts.adapter ? opts.adapter.config : null,
      numAnswers,
      trainBase,
      ...(opts.frozen ? { frozen: opts.frozen } : {}),
    },
    opts.threads ?? 1,
  );
  const logits = new Float32Array(opts.examples.n * numAnswers);
  for (let start = 0; start < opts.examples.n; start += batch) {
    if (opts.signal?.aborted) throw new TrainingCancelled();
    const rows: number[] = [];
    for (let r = start; r < Math.min(opts.examples.n, start + batch); r++) rows.push(r);
    const real = rows.length;
    while (rows.length < batch) rows.push(rows[0]!); // pad the last batch; padded rows are ignored
    const feeds = batchFeeds(opts.base.config, opts.examples, rows, batch);
    for (const p of params) {
      const value = opts.adapter?.tensors.get(p.name)?.data ?? opts.weightsAsInputs?.get(p.name);
      if (!value) throw new Error(`no value for ${p.name}`);
      feeds[p.name] = value;
    }
    const out = (await graph.run(feeds)).logits!;
    logits.set(out.subarray(0, real * numAnswers), start * numAnswers);
    opts.onProgress?.(start + real, opts.examples.n);
  }
  return logits;
}

/** Counts (integers) and a loss sum, so sites can add them into an aggregated vector. */
export async function evaluate(opts: EvaluateOptions): Promise<EvalResult> {
  const logits = await predict(opts);
  return scoreLogits(logits, opts.examples);
}

export function scoreLogits(logits: Float32Array, ex: EncodedExamples): EvalResult {
  const A = logits.length / Math.max(1, ex.n);
  const result: EvalResult = {
    n: ex.n,
    closed: { n: 0, correct: 0 },
    open: { n: 0, correct: 0 },
    lossSum: 0,
  };
  for (let i = 0; i < ex.n; i++) {
    const row = logits.subarray(i * A, (i + 1) * A);
    let best = 0;
    let max = -Infinity;
    for (let j = 0; j < A; j++) {
      if (row[j]! > max) {
        max = row[j]!;
        best = j;
      }
    }
    const label = ex.labels[i]!;
    const correct = label >= 0 && best === label;
    const bucket = ex.closed[i] ? result.closed : result.open;
    bucket.n++;
    if (correct) bucket.correct++;
    if (label >= 0) {
      let sum = 0;
      for (let j = 0; j < A; j++) sum += Math.exp(row[j]! - max);
      result.lossSum += Math.log(sum) + max - row[label]!;
    }
  }
  return result;
}
