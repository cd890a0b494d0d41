/**
 * FeatVQA: a VQA classifier over a frozen image encoder's cached spatial features. Question tokens
 * (hashed character n-grams, as in TinyMed-VQA) and soft-prompt tokens go through pre-LN blocks of
 * self-attention, cross-attention to the image's feature tokens, and an MLP; the head reads the pooled
 * question states, the bag of question words, the mean image token and the question sketch.
 * Pure graph construction: no runtime.
 *
 * Image tokens: the encoder's maps, resampled to one grid of `featureTokens` positions (features.ts),
 * are concatenated channel-wise; each map's channels (`featureGroups`) are layer-normed without
 * affine parameters (maps differ in scale: ReLU6 activations against batch-norm outputs) and projected
 * to `dim` by their own linear layer (`img_proj.<g>`), then summed with a learned position embedding.
 */
import type { EncoderSpec } from './encoder/spec.js';
import type { Graph, Shape, Tensor } from './graph.js';
import type { LoraTarget } from './model.js';
import { Rng } from './rng.js';

export interface FeatVqaConfig {
  arch: 'feat-vqa';
  version: 1;
  /** The image encoder whose outputs (in `encoder.outputs` order) the model reads, pinned by its hash. */
  encoder: EncoderSpec;
  /** Positions per image: a square grid every output map is average-pooled to (featureRow). */
  featureTokens: number;
  /** Channels of each output map, in order; the per-image feature row is [featureTokens, Σ featureGroups]. */
  featureGroups: number[];
  maxTokens: number;
  ngramSlots: number;
  hashBuckets: number;
  sketchDim: number;
  dim: number;
  heads: number;
  layers: number;
  mlpDim: number;
  lnEps: number;
  /** The base head's answer set. */
  answers: string[];
}

export const featureChannels = (cfg: Pick<FeatVqaConfig, 'featureGroups'>) =>
  cfg.featureGroups.reduce((a, b) => a + b, 0);

/**
 * One image's model input from its cached encoder outputs (each channels-last [H, W, C]): every map is
 * average-pooled to the model's √featureTokens grid (H and W multiples of it), and the maps are
 * concatenated channel-wise, token by token.
 */
export function featureRow(
  cfg: FeatVqaConfig,
  outputs: readonly { name: string; shape: readonly number[] }[],
  values: readonly Float32Array[],
): Float32Array {
  const side = Math.round(Math.sqrt(cfg.featureTokens));
  if (side * side !== cfg.featureTokens) throw new Error('featureTokens must be a square');
  const channels = featureChannels(cfg);
  const row = new Float32Array(cfg.featureTokens * channels);
  let offset = 0;
  cfg.encoder.outputs.forEach((name, gi) => {
    const at = outputs.findIndex((o) => o.name === name);
    const shape = outputs[at]?.shape;
    const data = values[at];
    const c = cfg.featureGroups[gi]!;
    if (!shape || !data || shape.length !== 3 || shape[2] !== c || shape[0]! % side || shape[1]! % side)
      throw new Error(`encoder output '${name}' is missing or not [k·${side}, k·${side}, ${c}]`);
    const [h, w] = [shape[0]!, shape[1]!];
    const [fy, fx] = [h / side, w / side];
    const scale = 1 / (fy * fx);
    for (let t = 0; t < cfg.featureTokens; t++) {
      const [ty, tx] = [Math.floor(t / side), t % side];
      const out = t * channels + offset;
      for (let y = ty * fy; y < (ty + 1) * fy; y++)
        for (let x = tx * fx; x < (tx + 1) * fx; x++) {
          const src = (y * w + x) * c;
          for (let k = 0; k < c; k++) row[out + k]! += data[src + k]! * scale;
        }
    }
    offset += c;
  });
  return row;
}

/** Cached per-output features (SiteDataService.featuresFor's shape) → the model's per-image rows. */
export function featureRows(
  cfg: FeatVqaConfig,
  features: {
    outputs: readonly { name: string; shape: readonly number[] }[];
    byImage: ReadonlyMap<string, Float32Array[]>;
  },
): Map<string, Float32Array> {
  const rows = new Map<string, Float32Array>();
  for (const [key, values] of features.byImage) rows.set(key, featureRow(cfg, features.outputs, values));
  return rows;
}

/** LoRA targets of FeatVQA: q/k/v/o adapt both the self- and the cross-attention; img_proj the image projections. */
export function featLoraModules(
  cfg: FeatVqaConfig,
  targets: readonly LoraTarget[],
): { module: string; inDim: number; outDim: number }[] {
  const d = cfg.dim;
  const out: { module: string; inDim: number; outDim: number }[] = [];
  if (targets.includes('img_proj'))
    cfg.featureGroups.forEach((c, g) => out.push({ module: `img_proj.${g}`, inDim: c, outDim: d }));
  for (let i = 0; i < cfg.layers; i++) {
    for (const attn of ['attn', 'xattn']) {
      for (const p of ['q_proj', 'k_proj', 'v_proj', 'o_proj'] as const)
        if (targets.includes(p)) out.push({ module: `layers.${i}.${attn}.${p}`, inDim: d, outDim: d });
    }
    if (targets.includes('fc1')) out.push({ module: `layers.${i}.mlp.fc1`, inDim: d, outDim: cfg.mlpDim });
    if (targets.includes('fc2')) out.push({ module: `layers.${i}.mlp.fc2`, inDim: cfg.mlpDim, outDim: d });
  }
  return out;
}

export function featHeadInputDim(cfg: FeatVqaConfig): number {
  return 3 * cfg.dim + cfg.sketchDim;
}

/** Name → shape of every base weight, in a fixed order. */
export function featWeightShapes(cfg: FeatVqaConfig): [string, number[]][] {
  const d = cfg.dim;
  const out: [string, number[]][] = [];
  cfg.featureGroups.forEach((c, g) => out.push([`img_proj.${g}.weight`, [c, d]]));
  out.push(['img_proj.bias', [d]], ['image_pos', [cfg.featureTokens, d]]);
  out.push(['img_ln.weight', [d]], ['img_ln.bias', [d]]);
  out.push(['text_embed.weight', [cfg.hashBuckets, d]], ['text_pos', [cfg.maxTokens, d]]);
  for (let i = 0; i < cfg.layers; i++) {
    const l = `layers.${i}`;
    for (const [ln, attn] of [
      ['ln1', 'attn'],
      ['ln2', 'xattn'],
    ] as const) {
      out.push([`${l}.${ln}.weight`, [d]], [`${l}.${ln}.bias`, [d]]);
      for (const p of ['q_proj', 'k_proj', 'v_proj', 'o_proj'])
        out.push([`${l}.${attn}.${p}.weight`, [d, d]], [`${l}.${attn}.${p}.bias`, [d]]);
    }
    out.push([`${l}.ln3.weight`, [d]], [`${l}.ln3.bias`, [d]]);
    out.push([`${l}.mlp.fc1.weight`, [d, cfg.mlpDim]], [`${l}.mlp.fc1.bias`, [cfg.mlpDim]]);
    out.push([`${l}.mlp.fc2.weight`, [cfg.mlpDim, d]], [`${l}.mlp.fc2.bias`, [d]]);
  }
  out.push(['final_ln.weight', [d]], ['final_ln.bias', [d]]);
  out.push(['head.weight', [featHeadInputDim(cfg), cfg.answers.length]], ['head.bias', [cfg.answers.length]]);
  return out;
}

/** Deterministic initialisation from the seed (the base is this, when it is not pretrained). */
export function initFeatWeights(cfg: FeatVqaConfig, seed: number): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const weights = new Map<string, Float32Array>();
  const residualScale = 1 / Math.sqrt(3 * cfg.layers);
  for (const [name, shape] of featWeightShapes(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const w = new Float32Array(n);
    const normal = (std: number) => {
      for (let i = 0; i < n; i++) w[i] = rng.normal() * std;
    };
    if (/ln\d?\.weight$|^final_ln\.weight$|^img_ln\.weight$/.test(name)) w.fill(1);
    else if (name.endsWith('.bias')) w.fill(0);
    else if (name === 'text_embed.weight') normal(1);
    else if (name === 'image_pos' || name === 'text_pos') normal(0.1);
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

export interface FeatForwardSpec {
  cfg: FeatVqaConfig;
  batch: number;
  weight: (name: string, shape: Shape) => Tensor;
  lora?: { rank: number; alpha: number; targets: readonly LoraTarget[] };
  promptTokens: number;
  numAnswers: number;
}

export interface FeatInputs {
  imageFeatures: Tensor;
  tokenIds: Tensor;
  tokenWeights: Tensor;
  textMask: Tensor;
  sketch: Tensor;
}

export function declareFeatInputs(g: Graph, cfg: FeatVqaConfig, batch: number): FeatInputs {
  const L = cfg.maxTokens;
  return {
    imageFeatures: g.input('image_features', 'float32', [batch, cfg.featureTokens, featureChannels(cfg)]),
    tokenIds: g.input('token_ids', 'int32', [batch, L, cfg.ngramSlots]),
    tokenWeights: g.input('token_weights', 'float32', [batch, L, cfg.ngramSlots, 1]),
    textMask: g.input('text_mask', 'float32', [batch, L]),
    sketch: g.input('question_sketch', 'float32', [batch, cfg.sketchDim]),
  };
}

/** Builds the forward pass and returns the logits [batch, numAnswers]. */
export function buildFeatForward(g: Graph, spec: FeatForwardSpec, inputs: FeatInputs): Tensor {
  const { cfg, batch: B } = spec;
  const d = cfg.dim;
  const h = cfg.heads;
  const dh = d / h;
  if (!Number.isInteger(dh)) throw new Error('dim must be a multiple of heads');
  const N = cfg.featureTokens;
  const L = cfg.maxTokens;
  const P = spec.promptTokens;
  const T = P + L;
  const W = (name: string, shape: Shape) => spec.weight(name, shape);
  const lora = spec.lora;
  const loraModules = new Set(lora ? featLoraModules(cfg, lora.targets).map((m) => m.module) : []);
  const loraDelta = (x: Tensor, module: string, inDim: number, outDim: number): Tensor | null => {
    if (!lora || !loraModules.has(module)) return null;
    const a = W(`lora.${module}.A`, [inDim, lora.rank]);
    const b = W(`lora.${module}.B`, [lora.rank, outDim]);
    return g.mul(g.matmul(g.matmul(x, a), b), g.scalar(lora.alpha / lora.rank));
  };
  const linear = (x: Tensor, module: string, inDim: number, outDim: number) => {
    const y = g.add(g.matmul(x, W(`${module}.weight`, [inDim, outDim])), W(`${module}.bias`, [outDim]));
    const delta = loraDelta(x, module, inDim, outDim);
    return delta ? g.add(y, delta) : y;
  };

  // Image tokens [B, N, d].
  let offset = 0;
  let img: Tensor | null = null;
  cfg.featureGroups.forEach((c, gi) => {
    const part = g.slice(inputs.imageFeatures, [offset], [offset + c], [2]);
    offset += c;
    const normed = g.layerNorm(part, g.filled(1, [c]), g.filled(0, [c]), cfg.lnEps);
    let y = g.matmul(normed, W(`img_proj.${gi}.weight`, [c, d]));
    const delta = loraDelta(normed, `img_proj.${gi}`, c, d);
    if (delta) y = g.add(y, delta);
    img = img ? g.add(img, y) : y;
  });
  const imgTokens = g.layerNorm(
    g.add(g.add(img!, W('img_proj.bias', [d])), W('image_pos', [N, d])),
    W('img_ln.weight', [d]),
    W('img_ln.bias', [d]),
    cfg.lnEps,
  );

  // Question tokens [B, T, d]: soft prompt, then words.
  const grams = g.gather(W('text_embed.weight', [cfg.hashBuckets, d]), inputs.tokenIds); // [B, L, K, d]
  const words = g.reduceSum(g.mul(grams, inputs.tokenWeights), [2]); // [B, L, d]
  let x = g.add(words, W('text_pos', [L, d]));
  if (P > 0) x = g.concat([g.expand(W('prompt.embeddings', [P, d]), [B, P, d]), x], 1);
  const textBias = g.mul(g.sub(inputs.textMask, g.scalar(1)), g.scalar(1e4)); // 0 or −1e4 per word
  const selfBias = g.reshape(P > 0 ? g.concat([g.filled(0, [B, P]), textBias], 1) : textBias, [B, 1, 1, T]);

  const attention = (q: Tensor, k: Tensor, v: Tensor, S: number, bias: Tensor | null) => {
    const split = (t: Tensor, len: number, perm: number[]) =>
      g.transpose(g.reshape(t, [B, len, h, dh]), perm);
    const qh = split(q, T, [0, 2, 1, 3]); // [B,h,T,dh]
    const kh = split(k, S, [0, 2, 3, 1]); // [B,h,dh,S]
    const vh = split(v, S, [0, 2, 1, 3]); // [B,h,S,dh]
    let scores = g.mul(g.matmul(qh, kh), g.scalar(1 / Math.sqrt(dh)));
    if (bias) scores = g.add(scores, bias);
    const ctx = g.matmul(g.softmax(scores, -1), vh);
    return g.reshape(g.transpose(ctx, [0, 2, 1, 3]), [B, T, d]);
  };

  for (let i = 0; i < cfg.layers; i++) {
    const l = `layers.${i}`;
    const a = g.layerNorm(x, W(`${l}.ln1.weight`, [d]), W(`${l}.ln1.bias`, [d]), cfg.lnEps);
    const selfCtx = attention(
      linear(a, `${l}.attn.q_proj`, d, d),
      linear(a, `${l}.attn.k_proj`, d, d),
      linear(a, `${l}.attn.v_proj`, d, d),
      T,
      selfBias,
    );
    x = g.add(x, linear(selfCtx, `${l}.attn.o_proj`, d, d));
    const c = g.layerNorm(x, W(`${l}.ln2.weight`, [d]), W(`${l}.ln2.bias`, [d]), cfg.lnEps);
    const crossCtx = attention(
      linear(c, `${l}.xattn.q_proj`, d, d),
      linear(imgTokens, `${l}.xattn.k_proj`, d, d),
      linear(imgTokens, `${l}.xattn.v_proj`, d, d),
      N,
      null,
    );
    x = g.add(x, linear(crossCtx, `${l}.xattn.o_proj`, d, d));
    const m = g.layerNorm(x, W(`${l}.ln3.weight`, [d]), W(`${l}.ln3.bias`, [d]), cfg.lnEps);
    x = g.add(x, linear(g.gelu(linear(m, `${l}.mlp.fc1`, d, cfg.mlpDim)), `${l}.mlp.fc2`, cfg.mlpDim, d));
  }

  const xf = g.layerNorm(x, W('final_ln.weight', [d]), W('final_ln.bias', [d]), cfg.lnEps);
  const wordStates = P > 0 ? g.slice(xf, [P], [T], [1]) : xf; // [B, L, d]
  const count = g.add(g.reduceSum(inputs.textMask, [1], true), g.scalar(1e-6));
  const poolWeights = g.reshape(g.div(inputs.textMask, count), [B, L, 1]);
  const pooled = g.reduceSum(g.mul(wordStates, poolWeights), [1]); // [B, d]
  const bag = g.reduceSum(g.mul(words, poolWeights), [1]); // [B, d]
  const imageMean = g.reduceMean(imgTokens, [1]); // [B, d]
  const feat = g.concat([pooled, bag, imageMean, inputs.sketch], 1);
  const hd = featHeadInputDim(cfg);
  return g.add(g.matmul(feat, W('head.weight', [hd, spec.numAnswers])), W('head.bias', [spec.numAnswers]));
}
