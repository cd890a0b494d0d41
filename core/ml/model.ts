/**
 * TinyMed-VQA: image patches + hashed-n-gram question tokens + learned prompt tokens → a joint pre-LN
 * transformer encoder → an answer classifier on the [CLS] token. Pure graph construction: no runtime.
 *
 * Sequence layout: [CLS] · prompt (P, adapter) · image patches (N) · question words (L).
 * Linear weights are stored [in, out] (y = x·W + b); LoRA adds (α/r)·(x·A)·B with A [in, r], B [r, out].
 */
import {
  buildFeatForward,
  declareFeatInputs,
  featHeadInputDim,
  featLoraModules,
  featWeightShapes,
  initFeatWeights,
  type FeatVqaConfig,
} from './feat-vqa.js';
import { numPatches, type FeatureGeometry } from './features.js';
import type { Graph, Shape, Tensor } from './graph.js';
import { Rng } from './rng.js';

export interface TinyMedConfig extends FeatureGeometry {
  arch: 'tinymed-vqa';
  version: 1;
  dim: number;
  heads: number;
  layers: number;
  mlpDim: number;
  lnEps: number;
  /** The base head's answer set (the pretraining corpus's labels). */
  answers: string[];
}

/** LoRA targets; `img_proj` (the image-feature projections) exists in FeatVQA only (feat-vqa.ts). */
/** Every base-model architecture (`arch` tells them apart): TinyMed-VQA (pixels) and FeatVQA (encoder features). */
export type ModelConfig = TinyMedConfig | FeatVqaConfig;

export const LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'fc1', 'fc2', 'img_proj'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

/** The module path of a LoRA target in layer i (matches the base weight names). */
export function loraModule(layer: number, target: LoraTarget): string {
  return target === 'fc1' || target === 'fc2'
    ? `layers.${layer}.mlp.${target}`
    : `layers.${layer}.attn.${target}`;
}

/** The LoRA-adapted linear modules of a model for the chosen targets, in canonical order. */
export function loraModules(
  cfg: ModelConfig,
  targets: readonly LoraTarget[],
): { module: string; inDim: number; outDim: number }[] {
  if (cfg.arch === 'feat-vqa') return featLoraModules(cfg, targets);
  const out: { module: string; inDim: number; outDim: number }[] = [];
  for (let i = 0; i < cfg.layers; i++) {
    for (const target of LORA_TARGETS) {
      if (target === 'img_proj' || !targets.includes(target)) continue;
      const [inDim, outDim] = moduleShape(cfg, target);
      out.push({ module: loraModule(i, target), inDim, outDim });
    }
  }
  return out;
}

export function moduleShape(cfg: TinyMedConfig, target: LoraTarget): [number, number] {
  if (target === 'fc1') return [cfg.dim, cfg.mlpDim];
  if (target === 'fc2') return [cfg.mlpDim, cfg.dim];
  return [cfg.dim, cfg.dim];
}

/**
 * The head reads [final [CLS] ; masked mean of the final question-word states ; masked mean of the input
 * word embeddings ; question sketch (features.ts)]: the last two are direct bag-of-n-grams paths from
 * the question to the answer, which real questions, worded unlike anything in pretraining, rely on.
 */
export function headInputDim(cfg: ModelConfig): number {
  if (cfg.arch === 'feat-vqa') return featHeadInputDim(cfg);
  return 3 * cfg.dim + cfg.sketchDim;
}

export function sequenceLength(cfg: TinyMedConfig, promptTokens: number): number {
  return 1 + promptTokens + numPatches(cfg) + cfg.maxTokens;
}

/** Name → shape of every base weight, in a fixed order. */
export function baseWeightShapes(cfg: ModelConfig): [string, number[]][] {
  if (cfg.arch === 'feat-vqa') return featWeightShapes(cfg);
  const d = cfg.dim;
  const p2 = cfg.patchSize * cfg.patchSize;
  const out: [string, number[]][] = [
    ['cls_token', [1, d]],
    ['patch_embed.weight', [p2, d]],
    ['patch_embed.bias', [d]],
    ['image_pos', [numPatches(cfg), d]],
    ['text_embed.weight', [cfg.hashBuckets, d]],
    ['text_pos', [cfg.maxTokens, d]],
  ];
  for (let i = 0; i < cfg.layers; i++) {
    const l = `layers.${i}`;
    out.push([`${l}.ln1.weight`, [d]], [`${l}.ln1.bias`, [d]]);
    for (const p of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) {
      out.push([`${l}.attn.${p}.weight`, [d, d]], [`${l}.attn.${p}.bias`, [d]]);
    }
    out.push([`${l}.ln2.weight`, [d]], [`${l}.ln2.bias`, [d]]);
    out.push([`${l}.mlp.fc1.weight`, [d, cfg.mlpDim]], [`${l}.mlp.fc1.bias`, [cfg.mlpDim]]);
    out.push([`${l}.mlp.fc2.weight`, [cfg.mlpDim, d]], [`${l}.mlp.fc2.bias`, [d]]);
  }
  out.push(['final_ln.weight', [d]], ['final_ln.bias', [d]]);
  out.push(['head.weight', [headInputDim(cfg), cfg.answers.length]], ['head.bias', [cfg.answers.length]]);
  return out;
}

export type Weights = Map<string, Float32Array>;

/** Fresh (pretraining) initialisation, deterministic from the seed. */
export function initBaseWeights(cfg: ModelConfig, seed: number): Weights {
  if (cfg.arch === 'feat-vqa') return initFeatWeights(cfg, seed);
  const rng = new Rng(seed);
  const weights: Weights = new Map();
  const residualScale = 1 / Math.sqrt(2 * cfg.layers);
  for (const [name, shape] of baseWeightShapes(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const w = new Float32Array(n);
    const normal = (std: number) => {
      for (let i = 0; i < n; i++) w[i] = rng.normal() * std;
    };
    if (name.endsWith('ln1.weight') || name.endsWith('ln2.weight') || name === 'final_ln.weight') w.fill(1);
    else if (name.endsWith('.bias')) w.fill(0);
    else if (name === 'text_embed.weight') normal(1);
    else if (name === 'cls_token' || name === 'image_pos' || name === 'text_pos') normal(0.1);
    else if (name === 'head.weight') normal(0.02);
    else {
      const fanIn = shape[0]!;
      const residual = name.endsWith('o_proj.weight') || name.endsWith('fc2.weight');
      normal((1 / Math.sqrt(fanIn)) * (residual ? residualScale : 1));
    }
    weights.set(name, w);
  }
  return weights;
}

export interface ForwardSpec {
  cfg: TinyMedConfig;
  batch: number;
  /** Resolves a weight name to a graph tensor (an initializer when frozen, an input when trainable). */
  weight: (name: string, shape: Shape) => Tensor;
  /** LoRA modules present: resolved through `weight` as `lora.<module>.A` / `.B`. */
  lora?: { rank: number; alpha: number; targets: readonly LoraTarget[] };
  /** Soft prompt length (0 = none); resolved as `prompt.embeddings` [P, dim]. */
  promptTokens: number;
  /** Output classes of the head; resolved as `head.weight` / `head.bias`. */
  numAnswers: number;
}

export interface ForwardInputs {
  patches: Tensor;
  tokenIds: Tensor;
  tokenWeights: Tensor;
  textMask: Tensor;
  sketch: Tensor;
}

/** Declares the batch inputs of a TinyMed-VQA graph. */
export function declareInputs(g: Graph, cfg: TinyMedConfig, batch: number): ForwardInputs {
  const L = cfg.maxTokens;
  const K = cfg.ngramSlots;
  return {
    patches: g.input('patches', 'float32', [batch, numPatches(cfg), cfg.patchSize * cfg.patchSize]),
    tokenIds: g.input('token_ids', 'int32', [batch, L, K]),
    tokenWeights: g.input('token_weights', 'float32', [batch, L, K, 1]),
    textMask: g.input('text_mask', 'float32', [batch, L]),
    sketch: g.input('question_sketch', 'float32', [batch, cfg.sketchDim]),
  };
}

/** Builds the forward pass and returns the logits [batch, numAnswers]. */
export function buildForward(g: Graph, spec: ForwardSpec, inputs: ForwardInputs): Tensor {
  const { cfg, batch: B } = spec;
  const d = cfg.dim;
  const h = cfg.heads;
  const dh = d / h;
  if (!Number.isInteger(dh)) throw new Error('dim must be a multiple of heads');
  const N = numPatches(cfg);
  const L = cfg.maxTokens;
  const P = spec.promptTokens;
  const S = 1 + P + N + L;
  const W = (name: string, shape: Shape) => spec.weight(name, shape);
  const loraTargets = new Set(spec.lora?.targets ?? []);
  const loraScale = spec.lora ? spec.lora.alpha / spec.lora.rank : 0;

  const linear = (x: Tensor, module: string, target: LoraTarget | null, inDim: number, outDim: number) => {
    let y = g.add(g.matmul(x, W(`${module}.weight`, [inDim, outDim])), W(`${module}.bias`, [outDim]));
    if (target && loraTargets.has(target) && spec.lora) {
      const r = spec.lora.rank;
      const a = W(`lora.${module}.A`, [inDim, r]);
      const b = W(`lora.${module}.B`, [r, outDim]);
      y = g.add(y, g.mul(g.matmul(g.matmul(x, a), b), g.scalar(loraScale)));
    }
    return y;
  };

  // Embeddings.
  const img = g.add(
    g.add(
      g.matmul(inputs.patches, W('patch_embed.weight', [cfg.patchSize ** 2, d])),
      W('patch_embed.bias', [d]),
    ),
    W('image_pos', [N, d]),
  );
  const grams = g.gather(W('text_embed.weight', [cfg.hashBuckets, d]), inputs.tokenIds); // [B, L, K, d]
  const words = g.reduceSum(g.mul(grams, inputs.tokenWeights), [2]); // [B, L, d]
  const text = g.add(words, W('text_pos', [L, d]));
  const parts = [g.expand(W('cls_token', [1, d]), [B, 1, d])];
  if (P > 0) parts.push(g.expand(W('prompt.embeddings', [P, d]), [B, P, d]));
  parts.push(img, text);
  let x = g.concat(parts, 1); // [B, S, d]

  // Padding question words are masked out as keys.
  const textBias = g.mul(g.sub(inputs.textMask, g.scalar(1)), g.scalar(1e4)); // 0 or −1e4
  const bias = g.reshape(g.concat([g.filled(0, [B, S - L]), textBias], 1), [B, 1, 1, S]);

  for (let i = 0; i < cfg.layers; i++) {
    const l = `layers.${i}`;
    const a = g.layerNorm(x, W(`${l}.ln1.weight`, [d]), W(`${l}.ln1.bias`, [d]), cfg.lnEps);
    const heads = (t: Tensor, perm: number[]) => g.transpose(g.reshape(t, [B, S, h, dh]), perm);
    const q = heads(linear(a, `${l}.attn.q_proj`, 'q_proj', d, d), [0, 2, 1, 3]); // [B,h,S,dh]
    const k = heads(linear(a, `${l}.attn.k_proj`, 'k_proj', d, d), [0, 2, 3, 1]); // [B,h,dh,S]
    const v = heads(linear(a, `${l}.attn.v_proj`, 'v_proj', d, d), [0, 2, 1, 3]);
    const scores = g.add(g.mul(g.matmul(q, k), g.scalar(1 / Math.sqrt(dh))), bias);
    const ctx = g.matmul(g.softmax(scores, -1), v); // [B,h,S,dh]
    const merged = g.reshape(g.transpose(ctx, [0, 2, 1, 3]), [B, S, d]);
    x = g.add(x, linear(merged, `${l}.attn.o_proj`, 'o_proj', d, d));
    const m = g.layerNorm(x, W(`${l}.ln2.weight`, [d]), W(`${l}.ln2.bias`, [d]), cfg.lnEps);
    const hidden = g.gelu(linear(m, `${l}.mlp.fc1`, 'fc1', d, cfg.mlpDim));
    x = g.add(x, linear(hidden, `${l}.mlp.fc2`, 'fc2', cfg.mlpDim, d));
  }
  // Head features: the [CLS] state and the mean of the question-word states (a direct path from the
  // question's words to the answer, which real questions with unseen wording depend on).
  const xf = g.layerNorm(x, W('final_ln.weight', [d]), W('final_ln.bias', [d]), cfg.lnEps);
  const cls = g.reshape(g.slice(xf, [0], [1], [1]), [B, d]);
  const wordStates = g.slice(xf, [S - L], [S], [1]); // [B, L, d]
  const count = g.add(g.reduceSum(inputs.textMask, [1], true), g.scalar(1e-6)); // [B, 1]
  const poolWeights = g.reshape(g.div(inputs.textMask, count), [B, L, 1]);
  const pooled = g.reduceSum(g.mul(wordStates, poolWeights), [1]); // [B, d]
  const bag = g.reduceSum(g.mul(words, poolWeights), [1]); // [B, d]
  const feat = g.concat([cls, pooled, bag, inputs.sketch], 1); // [B, 3d + sketchDim]
  const hd = headInputDim(cfg);
  return g.add(g.matmul(feat, W('head.weight', [hd, spec.numAnswers])), W('head.bias', [spec.numAnswers]));
}

export interface ModelForwardSpec extends Omit<ForwardSpec, 'cfg'> {
  cfg: ModelConfig;
}

/** Declares the batch inputs of either architecture and builds its forward pass: the logits. */
export function buildModelForward(g: Graph, spec: ModelForwardSpec): Tensor {
  const { cfg } = spec;
  if (cfg.arch === 'feat-vqa')
    return buildFeatForward(g, { ...spec, cfg }, declareFeatInputs(g, cfg, spec.batch));
  return buildForward(g, { ...spec, cfg }, declareInputs(g, cfg, spec.batch));
}

/** Mean cross-entropy: `targets` rows are one-hot answers scaled by 1/(examples in the batch). */
export function crossEntropy(g: Graph, logits: Tensor, targets: Tensor): Tensor {
  return g.neg(g.reduceSum(g.mul(targets, g.logSoftmax(logits, -1)), [0, 1]));
}
