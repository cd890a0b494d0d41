/**
 * Decoder language models as graphs of standard ONNX ops: GPT-2 (learned positions, LayerNorm, GELU
 * MLP, tied embeddings) and the Llama family (RMSNorm, rotary embeddings with HF's rotate_half
 * convention, SwiGLU, grouped-query attention, optional q/k/v bias), with LoRA on the linear modules.
 *
 * Base weights are graph *inputs* under their HF names, not initializers: the training, evaluation and
 * decode graphs of one model then share the one copy of the weights held in JavaScript (ORT wraps fed
 * typed arrays without copying), and a 124 M-parameter model is not serialised into every graph.
 *
 * Activations are kept 2-D ([B·T, d]) between attention blocks so that every linear module is one Gemm
 * on the weight as stored (GPT-2 Conv1D [in, out]; Llama nn.Linear [out, in] with transB).
 */
import { gradients } from '../autodiff.js';
import { Graph, type Tensor } from '../graph.js';
import { Rng } from '../rng.js';
import { layerPrefix, loraModules, moduleDims, expectedWeights, type LmConfig } from './config.js';

export interface LoraSpec {
  rank: number;
  alpha: number;
  /** Module names relative to a layer, e.g. 'attn.c_attn' or 'self_attn.q_proj'. */
  targets: string[];
}

export interface LmGraphOptions {
  batch: number;
  /** New tokens per row. */
  seq: number;
  /** Key/value cache slots fed as inputs (decode graphs); 0 for a plain causal forward. */
  cache?: number;
  /** Also output every layer's keys/values of the new tokens (always on with a cache): prefill. */
  presents?: boolean;
  lora?: LoraSpec;
  /**
   * 'train' adds the masked causal-LM loss and gradients as outputs: of the LoRA tensors when `lora` is
   * given, else of every base weight (full-parameter training, used to pretrain the default LM).
   */
  mode: 'logits' | 'train';
}

export interface LoraAdapter {
  spec: LoraSpec;
  /** By LoRA tensor name (`<module path>.lora_A` [r, in] / `.lora_B` [out, r]). */
  tensors: Map<string, Float32Array>;
}

/** LoRA tensor names: the PEFT name without `base_model.model.` and `.weight`. */
export const loraName = (module: string, which: 'A' | 'B') => `${module}.lora_${which}`;

/** Every adapted module's full path and its LoRA tensor shapes (A [r, in], B [out, r], PEFT's layout). */
export function loraShapes(cfg: LmConfig, spec: LoraSpec): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (let i = 0; i < cfg.layers; i++) {
    for (const m of loraModules(cfg)) {
      if (!spec.targets.includes(m)) continue;
      const [fi, fo] = moduleDims(cfg, m);
      shapes.set(loraName(layerPrefix(cfg, i) + m, 'A'), [spec.rank, fi]);
      shapes.set(loraName(layerPrefix(cfg, i) + m, 'B'), [fo, spec.rank]);
    }
  }
  return shapes;
}

export function validateLoraSpec(cfg: LmConfig, spec: LoraSpec): void {
  const known = loraModules(cfg);
  const bad = spec.targets.filter((t) => !known.includes(t));
  if (bad.length)
    throw new Error(
      `LoRA targets ${bad.join(', ')} are not modules of ${cfg.modelType} (${known.join(', ')})`,
    );
  if (!Number.isInteger(spec.rank) || spec.rank < 1) throw new Error('LoRA rank must be a positive integer');
}

/** PEFT's initialisation: A ~ kaiming-uniform(a=√5) = U(±1/√in), B = 0 (the adapted model equals the base). */
export function initLora(cfg: LmConfig, spec: LoraSpec, seed: number): LoraAdapter {
  validateLoraSpec(cfg, spec);
  const rng = new Rng(seed);
  const tensors = new Map<string, Float32Array>();
  for (const [name, shape] of loraShapes(cfg, spec)) {
    const data = new Float32Array(shape[0]! * shape[1]!);
    if (name.endsWith('.lora_A')) {
      const bound = 1 / Math.sqrt(shape[1]!);
      for (let i = 0; i < data.length; i++) data[i] = rng.range(-bound, bound);
    }
    tensors.set(name, data);
  }
  return { spec, tensors };
}

/** Rotary cos/sin for the given positions, [positions.length, headDim], as HF computes them. */
export function rotaryTables(
  cfg: LmConfig,
  positions: ArrayLike<number>,
): { cos: Float32Array; sin: Float32Array } {
  const hd = cfg.headDim;
  const half = hd / 2;
  const cos = new Float32Array(positions.length * hd);
  const sin = new Float32Array(positions.length * hd);
  for (let p = 0; p < positions.length; p++) {
    for (let j = 0; j < half; j++) {
      const angle = positions[p]! / cfg.ropeTheta ** ((2 * j) / hd);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[p * hd + j] = cos[p * hd + j + half] = c;
      sin[p * hd + j] = sin[p * hd + j + half] = s;
    }
  }
  return { cos, sin };
}

/** Additive mask: 0 where attention is allowed, this where it is not (exp underflows to exactly 0). */
export const MASKED = -1e9;

export interface LmGraph {
  graph: Graph;
  /** Names of the trained tensors, in the order of the `grad:<name>` outputs (train mode). */
  trainable: string[];
}

/**
 * Inputs: every base weight (HF names), `input_ids` int32 [B,T], and
 * - GPT-2: `position_ids` int32 [B,T]; Llama: `rope_cos`, `rope_sin` [B,T,headDim];
 * - cache > 0: `past_key.<i>` / `past_value.<i>` [B,KV,L,headDim] and `attn_bias` [B,T,L+T]
 *   (0 or MASKED; the caller masks empty cache slots and future tokens);
 * - train: `target_index` int32 [B·T] (row·V + next token) and `target_weight` [B·T] (1/count, or 0).
 * Outputs: `logits` [B,T,V] (logits mode), `present_key.<i>` / `present_value.<i>` [B,KV,T,hd] (cache > 0 or presents),
 * or `loss` and `grad:<lora tensor>` (train mode).
 */
export function buildLmGraph(cfg: LmConfig, opts: LmGraphOptions): LmGraph {
  const { batch: B, seq: T, mode } = opts;
  const L = opts.cache ?? 0;
  const N = B * T;
  const { hidden: d, heads: H, kvHeads: KV, headDim: hd, vocabSize: V } = cfg;
  const G = H / KV;
  const g = new Graph(`${cfg.modelType}-${mode}`);
  const w = new Map<string, Tensor>();
  for (const [name, shape] of expectedWeights(cfg)) w.set(name, g.input(name, 'float32', shape));
  const weight = (name: string) => w.get(name) ?? missing(name);
  const lora = new Map<string, Tensor>();
  if (opts.lora) {
    validateLoraSpec(cfg, opts.lora);
    for (const [name, shape] of loraShapes(cfg, opts.lora)) lora.set(name, g.input(name, 'float32', shape));
  }
  const scale = opts.lora ? opts.lora.alpha / opts.lora.rank : 0;

  const ids = g.input('input_ids', 'int32', [B, T]);
  let positions: Tensor | undefined;
  let cos: Tensor | undefined;
  let sin: Tensor | undefined;
  if (cfg.arch === 'gpt2') positions = g.input('position_ids', 'int32', [B, T]);
  else {
    cos = g.reshape(g.input('rope_cos', 'float32', [B, T, hd]), [B, T, 1, 1, hd]);
    sin = g.reshape(g.input('rope_sin', 'float32', [B, T, hd]), [B, T, 1, 1, hd]);
  }
  let mask: Tensor;
  if (L > 0) mask = g.reshape(g.input('attn_bias', 'float32', [B, T, L + T]), [B, 1, 1, T, L + T]);
  else {
    const causal = new Float32Array(T * T);
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) causal[i * T + j] = MASKED;
    mask = g.constant(causal, [T, T]);
  }

  /** A linear module on 2-D activations, plus its LoRA delta (α/r)·(x·Aᵀ)·Bᵀ when adapted. */
  const linear = (x: Tensor, path: string, bias: boolean): Tensor => {
    const W = weight(`${path}.weight`);
    const b = bias ? weight(`${path}.bias`) : null;
    const y = g.gemm(x, W, b, { transB: cfg.arch === 'llama' });
    const A = lora.get(loraName(path, 'A'));
    if (!A) return y;
    const xa = g.gemm(x, A, null, { transB: true });
    return g.gemm(xa, lora.get(loraName(path, 'B'))!, y, { transB: true, alpha: scale });
  };

  const rotate = (x: Tensor): Tensor => {
    // HF rotate_half: [x1, x2] → [−x2, x1] on the last axis
    const x1 = g.slice(x, [0], [hd / 2], [-1]);
    const x2 = g.slice(x, [hd / 2], [hd], [-1]);
    return g.add(g.mul(x, cos!), g.mul(g.concat([g.neg(x2), x1], -1), sin!));
  };

  const presents: [Tensor, Tensor][] = [];
  const attention = (q2: Tensor, k2: Tensor, v2: Tensor, layer: number): Tensor => {
    let q = g.reshape(q2, [B, T, KV, G, hd]);
    let k = g.reshape(k2, [B, T, KV, 1, hd]);
    if (cos) {
      q = rotate(q);
      k = rotate(k);
    }
    q = g.transpose(g.mul(q, g.scalar(1 / Math.sqrt(hd))), [0, 2, 3, 1, 4]); // [B,KV,G,T,hd]
    k = g.transpose(k, [0, 2, 3, 1, 4]); // [B,KV,1,T,hd]
    let v = g.transpose(g.reshape(v2, [B, T, KV, 1, hd]), [0, 2, 3, 1, 4]);
    if (L > 0 || opts.presents) presents.push([k, v]);
    if (L > 0) {
      const pk = g.reshape(g.input(`past_key.${layer}`, 'float32', [B, KV, L, hd]), [B, KV, 1, L, hd]);
      const pv = g.reshape(g.input(`past_value.${layer}`, 'float32', [B, KV, L, hd]), [B, KV, 1, L, hd]);
      k = g.concat([pk, k], 3);
      v = g.concat([pv, v], 3);
    }
    const scores = g.add(g.matmul(q, g.transposeLast(k)), mask); // [B,KV,G,T,S]
    const out = g.matmul(g.softmax(scores, -1), v); // [B,KV,G,T,hd]
    return g.reshape(g.transpose(out, [0, 3, 1, 2, 4]), [N, H * hd]);
  };

  const rmsNorm = (x: Tensor, scaleW: Tensor): Tensor => {
    const ms = g.reduceMean(g.mul(x, x), [-1], true);
    return g.mul(g.mul(x, g.pow(g.add(ms, g.scalar(cfg.normEps)), -0.5)), scaleW);
  };

  let h: Tensor;
  if (cfg.arch === 'gpt2') {
    h = g.add(
      g.gather(weight('transformer.wte.weight'), ids),
      g.gather(weight('transformer.wpe.weight'), positions!),
    );
    h = g.reshape(h, [N, d]);
    for (let i = 0; i < cfg.layers; i++) {
      const p = layerPrefix(cfg, i);
      let x = g.layerNorm(h, weight(`${p}ln_1.weight`), weight(`${p}ln_1.bias`), cfg.normEps);
      const qkv = linear(x, `${p}attn.c_attn`, true);
      const q = g.slice(qkv, [0], [d], [1]);
      const k = g.slice(qkv, [d], [2 * d], [1]);
      const v = g.slice(qkv, [2 * d], [3 * d], [1]);
      h = g.add(h, linear(attention(q, k, v, i), `${p}attn.c_proj`, true));
      x = g.layerNorm(h, weight(`${p}ln_2.weight`), weight(`${p}ln_2.bias`), cfg.normEps);
      const act = g.gelu(linear(x, `${p}mlp.c_fc`, true), cfg.activation === 'gelu' ? 'none' : 'tanh');
      h = g.add(h, linear(act, `${p}mlp.c_proj`, true));
    }
    h = g.layerNorm(h, weight('transformer.ln_f.weight'), weight('transformer.ln_f.bias'), cfg.normEps);
  } else {
    h = g.reshape(g.gather(weight('model.embed_tokens.weight'), ids), [N, d]);
    for (let i = 0; i < cfg.layers; i++) {
      const p = layerPrefix(cfg, i);
      let x = rmsNorm(h, weight(`${p}input_layernorm.weight`));
      const q = linear(x, `${p}self_attn.q_proj`, cfg.qkvBias);
      const k = linear(x, `${p}self_attn.k_proj`, cfg.qkvBias);
      const v = linear(x, `${p}self_attn.v_proj`, cfg.qkvBias);
      h = g.add(h, linear(attention(q, k, v, i), `${p}self_attn.o_proj`, false));
      x = rmsNorm(h, weight(`${p}post_attention_layernorm.weight`));
      const gate = linear(x, `${p}mlp.gate_proj`, false);
      const up = linear(x, `${p}mlp.up_proj`, false);
      h = g.add(h, linear(g.mul(g.mul(gate, g.sigmoid(gate)), up), `${p}mlp.down_proj`, false));
    }
    h = rmsNorm(h, weight('model.norm.weight'));
  }
  const head = weight(
    cfg.arch === 'gpt2'
      ? 'transformer.wte.weight'
      : cfg.tieEmbeddings
        ? 'model.embed_tokens.weight'
        : 'lm_head.weight',
  );
  const logits = g.gemm(h, head, null, { transB: true }); // [N, V]

  if (mode === 'logits') {
    g.output(g.reshape(logits, [B, T, V]), 'logits');
    presents.forEach(([k, v], i) => {
      g.output(g.reshape(k, [B, KV, T, hd]), `present_key.${i}`);
      g.output(g.reshape(v, [B, KV, T, hd]), `present_value.${i}`);
    });
    return { graph: g, trainable: [] };
  }
  if (L > 0) throw new Error('training graphs have no key/value cache');
  const trained = opts.lora ? lora : w;
  const trainable = [...trained.keys()];
  // Masked causal-LM loss: Σ −log p(next token)·weight, picked from the flattened log-probabilities.
  const index = g.input('target_index', 'int32', [N]);
  const tw = g.input('target_weight', 'float32', [N]);
  const logp = g.reshape(g.logSoftmax(logits, -1), [N * V]);
  const loss = g.neg(g.reduceSum(g.mul(g.gather(logp, index), tw), [0]));
  g.output(loss, 'loss');
  const grads = gradients(
    g,
    loss,
    trainable.map((n) => trained.get(n)!),
  );
  grads.forEach((gr, i) => g.output(gr, `grad:${trainable[i]}`));
  return { graph: g, trainable };
}

function missing(name: string): never {
  throw new Error(`model weight ${name} is not declared`);
}

/**
 * Training targets in HF's convention: position t predicts labels[t + 1]; labels of -100 (the prompt,
 * padding) are ignored; the loss is the mean over the counted tokens.
 */
export function causalTargets(labels: Int32Array, batch: number, seq: number, vocab: number) {
  const index = new Int32Array(batch * seq);
  const weight = new Float32Array(batch * seq);
  let count = 0;
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t + 1 < seq; t++) {
      const next = labels[b * seq + t + 1]!;
      const row = b * seq + t;
      index[row] = row * vocab + Math.max(0, next);
      if (next !== -100) {
        if (next < 0 || next >= vocab) throw new Error(`label ${next} is outside the vocabulary`);
        weight[row] = 1;
        count++;
      }
    }
  }
  if (count > 0) for (let i = 0; i < weight.length; i++) weight[i] = weight[i]! / count;
  return { index, weight, count };
}
