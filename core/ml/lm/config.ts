/**
 * Decoder language-model configs: a Hugging Face `config.json` (GPT-2, or the Llama family: llama,
 * mistral without a sliding window, qwen2) normalised into one `LmConfig`, and the exact list of weight
 * tensors (HF names and shapes) that such a model's checkpoint must hold.
 */
import { z } from 'zod';

export type LmArch = 'gpt2' | 'llama';

export interface LmConfig {
  arch: LmArch;
  /** `model_type` as written in config.json (gpt2, llama, mistral, qwen2). */
  modelType: string;
  vocabSize: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediate: number;
  maxPositions: number;
  normEps: number;
  /** GPT-2 only: 'gelu_new' / 'gelu_pytorch_tanh' (tanh approximation) or 'gelu' (exact). */
  activation: 'gelu_tanh' | 'gelu' | 'silu';
  ropeTheta: number;
  /** Llama family: biases on q/k/v (Qwen2 always; Llama with attention_bias). */
  qkvBias: boolean;
  tieEmbeddings: boolean;
  eosTokenIds: number[];
}

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

const positive = z.number().int().positive();
const tokenIds = z.union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative())]).nullish();

const gpt2Schema = z.object({
  model_type: z.literal('gpt2'),
  vocab_size: positive,
  n_positions: positive,
  n_embd: positive,
  n_layer: positive,
  n_head: positive,
  n_inner: positive.nullish(),
  activation_function: z.string().default('gelu_new'),
  layer_norm_epsilon: z.number().positive().default(1e-5),
  tie_word_embeddings: z.boolean().default(true),
  scale_attn_weights: z.boolean().default(true),
  scale_attn_by_inverse_layer_idx: z.boolean().default(false),
  reorder_and_upcast_attn: z.boolean().default(false),
  eos_token_id: tokenIds,
});

const llamaSchema = z.object({
  model_type: z.enum(['llama', 'mistral', 'qwen2']),
  vocab_size: positive,
  hidden_size: positive,
  intermediate_size: positive,
  num_hidden_layers: positive,
  num_attention_heads: positive,
  num_key_value_heads: positive.nullish(),
  head_dim: positive.nullish(),
  hidden_act: z.string().default('silu'),
  max_position_embeddings: positive,
  rms_norm_eps: z.number().positive().default(1e-6),
  rope_theta: z.number().positive().default(10000),
  rope_scaling: z.unknown().nullish(),
  attention_bias: z.boolean().default(false),
  mlp_bias: z.boolean().default(false),
  sliding_window: z.number().int().nullish(),
  use_sliding_window: z.boolean().default(false),
  tie_word_embeddings: z.boolean().default(false),
  eos_token_id: tokenIds,
});

const GELU: Record<string, LmConfig['activation']> = {
  gelu_new: 'gelu_tanh',
  gelu_pytorch_tanh: 'gelu_tanh',
  gelu: 'gelu',
};

function fail(message: string): never {
  throw new CheckpointError(message);
}

function zodLine(error: z.ZodError): string {
  const issue = error.issues[0]!;
  return `${issue.path.join('.') || 'config'}: ${issue.message}`;
}

const asList = (ids: number | number[] | null | undefined) =>
  ids == null ? [] : Array.isArray(ids) ? ids : [ids];

/** Parses config.json; an unsupported architecture or option is refused with one line. */
export function parseLmConfig(raw: unknown): LmConfig {
  const type = (raw as { model_type?: unknown } | null)?.model_type;
  if (type === 'gpt2') {
    const parsed = gpt2Schema.safeParse(raw);
    if (!parsed.success) fail(`config.json: ${zodLine(parsed.error)}`);
    const c = parsed.data;
    const activation =
      GELU[c.activation_function] ?? fail(`unsupported GPT-2 activation '${c.activation_function}'`);
    if (!c.scale_attn_weights || c.scale_attn_by_inverse_layer_idx || c.reorder_and_upcast_attn)
      fail('unsupported GPT-2 attention scaling options');
    if (!c.tie_word_embeddings) fail('unsupported GPT-2 variant: untied output embeddings');
    if (c.n_embd % c.n_head !== 0)
      fail(`config.json: n_embd ${c.n_embd} is not a multiple of n_head ${c.n_head}`);
    return {
      arch: 'gpt2',
      modelType: 'gpt2',
      vocabSize: c.vocab_size,
      hidden: c.n_embd,
      layers: c.n_layer,
      heads: c.n_head,
      kvHeads: c.n_head,
      headDim: c.n_embd / c.n_head,
      intermediate: c.n_inner ?? 4 * c.n_embd,
      maxPositions: c.n_positions,
      normEps: c.layer_norm_epsilon,
      activation,
      ropeTheta: 0,
      qkvBias: true,
      tieEmbeddings: true,
      eosTokenIds: asList(c.eos_token_id),
    };
  }
  if (type === 'llama' || type === 'mistral' || type === 'qwen2') {
    const parsed = llamaSchema.safeParse(raw);
    if (!parsed.success) fail(`config.json: ${zodLine(parsed.error)}`);
    const c = parsed.data;
    if (c.hidden_act !== 'silu') fail(`unsupported activation '${c.hidden_act}' (only silu)`);
    if (c.rope_scaling != null) fail('unsupported option rope_scaling (only plain rotary embeddings)');
    if (c.mlp_bias) fail('unsupported option mlp_bias');
    const sliding = type === 'qwen2' ? c.use_sliding_window : c.sliding_window != null;
    if (sliding) fail('unsupported option: sliding-window attention');
    const kvHeads = c.num_key_value_heads ?? c.num_attention_heads;
    if (c.num_attention_heads % kvHeads !== 0)
      fail(
        `config.json: ${c.num_attention_heads} attention heads are not a multiple of ${kvHeads} key/value heads`,
      );
    const headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads;
    if (!Number.isInteger(headDim) || headDim % 2 !== 0)
      fail(`config.json: head dimension ${headDim} is not even`);
    return {
      arch: 'llama',
      modelType: type,
      vocabSize: c.vocab_size,
      hidden: c.hidden_size,
      layers: c.num_hidden_layers,
      heads: c.num_attention_heads,
      kvHeads,
      headDim,
      intermediate: c.intermediate_size,
      maxPositions: c.max_position_embeddings,
      normEps: c.rms_norm_eps,
      activation: 'silu',
      ropeTheta: c.rope_theta,
      qkvBias: type === 'qwen2' || c.attention_bias,
      tieEmbeddings: c.tie_word_embeddings,
      eosTokenIds: asList(c.eos_token_id),
    };
  }
  const arch = (raw as { architectures?: unknown } | null)?.architectures;
  fail(
    `unsupported architecture '${typeof type === 'string' ? type : JSON.stringify(arch ?? null)}' (supported: gpt2, llama, mistral, qwen2)`,
  );
}

/** The modules LoRA can adapt, as named in HF module paths (relative to one layer). */
export function loraModules(cfg: LmConfig): string[] {
  return cfg.arch === 'gpt2'
    ? ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj']
    : [
        'self_attn.q_proj',
        'self_attn.k_proj',
        'self_attn.v_proj',
        'self_attn.o_proj',
        'mlp.gate_proj',
        'mlp.up_proj',
        'mlp.down_proj',
      ];
}

export const layerPrefix = (cfg: LmConfig, layer: number) =>
  cfg.arch === 'gpt2' ? `transformer.h.${layer}.` : `model.layers.${layer}.`;

/** [in, out] of a linear module of one layer. */
export function moduleDims(cfg: LmConfig, module: string): [number, number] {
  const { hidden: d, intermediate: m, heads, kvHeads, headDim } = cfg;
  const dims: Record<string, [number, number]> = {
    'attn.c_attn': [d, 3 * d],
    'attn.c_proj': [d, d],
    'mlp.c_fc': [d, m],
    'mlp.c_proj': [m, d],
    'self_attn.q_proj': [d, heads * headDim],
    'self_attn.k_proj': [d, kvHeads * headDim],
    'self_attn.v_proj': [d, kvHeads * headDim],
    'self_attn.o_proj': [heads * headDim, d],
    'mlp.gate_proj': [d, m],
    'mlp.up_proj': [d, m],
    'mlp.down_proj': [m, d],
  };
  return dims[module] ?? fail(`unknown module ${module}`);
}

/**
 * Every weight the model needs, with HF names and shapes. GPT-2 linear weights are Conv1D [in, out];
 * Llama ones are nn.Linear [out, in]. GPT-2 names carry the `transformer.` prefix of GPT2LMHeadModel
 * (checkpoints saved from the bare GPT2Model lack it; the loader adds it).
 */
export function expectedWeights(cfg: LmConfig): Map<string, number[]> {
  const w = new Map<string, number[]>();
  const d = cfg.hidden;
  if (cfg.arch === 'gpt2') {
    w.set('transformer.wte.weight', [cfg.vocabSize, d]);
    w.set('transformer.wpe.weight', [cfg.maxPositions, d]);
    for (let i = 0; i < cfg.layers; i++) {
      const p = layerPrefix(cfg, i);
      for (const ln of ['ln_1', 'ln_2']) {
        w.set(`${p}${ln}.weight`, [d]);
        w.set(`${p}${ln}.bias`, [d]);
      }
      for (const m of loraModules(cfg)) {
        const [fi, fo] = moduleDims(cfg, m);
        w.set(`${p}${m}.weight`, [fi, fo]);
        w.set(`${p}${m}.bias`, [fo]);
      }
    }
    w.set('transformer.ln_f.weight', [d]);
    w.set('transformer.ln_f.bias', [d]);
    return w;
  }
  w.set('model.embed_tokens.weight', [cfg.vocabSize, d]);
  for (let i = 0; i < cfg.layers; i++) {
    const p = layerPrefix(cfg, i);
    w.set(`${p}input_layernorm.weight`, [d]);
    w.set(`${p}post_attention_layernorm.weight`, [d]);
    for (const m of loraModules(cfg)) {
      const [fi, fo] = moduleDims(cfg, m);
      w.set(`${p}${m}.weight`, [fo, fi]);
      if (cfg.qkvBias && /^self_attn\.[qkv]_proj$/.test(m)) w.set(`${p}${m}.bias`, [fo]);
    }
  }
  w.set('model.norm.weight', [d]);
  if (!cfg.tieEmbeddings) w.set('lm_head.weight', [cfg.vocabSize, d]);
  return w;
}
