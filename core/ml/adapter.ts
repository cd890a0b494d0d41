/**
 * Adapters on a frozen TinyMed-VQA base: LoRA on attention (optionally MLP) projections, a soft prompt,
 * and a new answer head over the federation's answer set. Each part can be switched off, and each is
 * marked `shared` (aggregated across sites) or `local` (kept at the site, for personalisation).
 */
import { z } from 'zod';
import { normalizeAnswer } from '../data/types.js';
import { headInputDim, LORA_TARGETS, loraModules, type ModelConfig } from './model.js';
import { Rng } from './rng.js';

export const adapterConfigSchema = z.object({
  lora: z.object({
    enabled: z.boolean(),
    shared: z.boolean(),
    rank: z.number().int().min(1).max(256),
    alpha: z.number().positive(),
    targets: z.array(z.enum(LORA_TARGETS)).min(1),
  }),
  prompt: z.object({
    enabled: z.boolean(),
    shared: z.boolean(),
    tokens: z.number().int().min(1).max(64),
  }),
  head: z.object({ enabled: z.boolean(), shared: z.boolean() }),
});

export type AdapterConfig = z.infer<typeof adapterConfigSchema>;
export type AdapterPart = 'lora' | 'prompt' | 'head';

export const DEFAULT_ADAPTER_CONFIG: AdapterConfig = {
  lora: {
    enabled: true,
    shared: true,
    rank: 8,
    alpha: 16,
    targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'fc1', 'fc2'],
  },
  prompt: { enabled: true, shared: true, tokens: 8 },
  head: { enabled: true, shared: true },
};

/** The default config with only the named parts on (`cohort train --adapter lora,head`). */
export function adapterConfigFor(
  parts: readonly AdapterPart[],
  base: AdapterConfig = DEFAULT_ADAPTER_CONFIG,
): AdapterConfig {
  return {
    lora: { ...base.lora, enabled: parts.includes('lora') },
    prompt: { ...base.prompt, enabled: parts.includes('prompt') },
    head: { ...base.head, enabled: parts.includes('head') },
  };
}

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

export interface Adapter {
  config: AdapterConfig;
  /** The answer set the head classifies over (normalised). */
  answers: string[];
  /** Tensor name → tensor, in a canonical order (see adapterTensorSpecs). */
  tensors: Map<string, NamedTensor>;
}

export interface TensorSpec {
  name: string;
  shape: number[];
  part: AdapterPart;
}

/** The adapter's tensors, in canonical order (this order defines the flattened shared vector). */
export function adapterTensorSpecs(
  cfg: ModelConfig,
  config: AdapterConfig,
  numAnswers: number,
): TensorSpec[] {
  const specs: TensorSpec[] = [];
  if (config.lora.enabled) {
    for (const { module, inDim, outDim } of loraModules(cfg, config.lora.targets)) {
      specs.push({ name: `lora.${module}.A`, shape: [inDim, config.lora.rank], part: 'lora' });
      specs.push({ name: `lora.${module}.B`, shape: [config.lora.rank, outDim], part: 'lora' });
    }
  }
  if (config.prompt.enabled)
    specs.push({ name: 'prompt.embeddings', shape: [config.prompt.tokens, cfg.dim], part: 'prompt' });
  if (config.head.enabled) {
    specs.push({ name: 'head.weight', shape: [headInputDim(cfg), numAnswers], part: 'head' });
    specs.push({ name: 'head.bias', shape: [numAnswers], part: 'head' });
  }
  return specs;
}

export interface BaseForAdapter {
  config: ModelConfig;
  weights: Map<string, Float32Array>;
}

/** Normalises and de-duplicates an answer set (order kept). */
export function normalizeAnswerSet(answers: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const a of answers) {
    const n = normalizeAnswer(a);
    if (n && !seen.has(n)) {
      seen.add(n);
      out.push(n);
    }
  }
  return out;
}

/**
 * A fresh adapter. LoRA A ~ N(0, 1/in) and B = 0 (so the adapted model starts equal to the base); the
 * prompt starts near the scale of token embeddings; head columns for answers the base head already
 * knows (yes, no, left, ct …) start from the base head, the rest small and random.
 */
export function initAdapter(
  base: BaseForAdapter,
  config: AdapterConfig,
  answers: readonly string[],
  seed: number,
): Adapter {
  const parsed = adapterConfigSchema.parse(config);
  const answerSet = normalizeAnswerSet(answers);
  if (answerSet.length < 2) throw new Error('the answer set needs at least two answers');
  if (!parsed.head.enabled) {
    const baseAnswers = normalizeAnswerSet(base.config.answers);
    if (baseAnswers.join('\n') !== answerSet.join('\n')) {
      throw new Error("with the head part off, the answer set must be the base model's own answer set");
    }
  }
  const rng = new Rng(seed);
  const tensors = new Map<string, NamedTensor>();
  const baseIndex = new Map(normalizeAnswerSet(base.config.answers).map((a, i) => [a, i]));
  for (const spec of adapterTensorSpecs(base.config, parsed, answerSet.length)) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (spec.name.endsWith('.A')) {
      const std = 1 / Math.sqrt(spec.shape[0]!);
      for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
    } else if (spec.name === 'prompt.embeddings') {
      for (let i = 0; i < n; i++) data[i] = rng.normal() * 0.1;
    } else if (spec.name === 'head.weight') {
      const baseW = base.weights.get('head.weight')!;
      const A = answerSet.length;
      const Abase = base.config.answers.length;
      for (let j = 0; j < A; j++) {
        const from = baseIndex.get(answerSet[j]!);
        for (let r = 0; r < headInputDim(base.config); r++) {
          data[r * A + j] = from !== undefined ? baseW[r * Abase + from]! : rng.normal() * 0.02;
        }
      }
    } else if (spec.name === 'head.bias') {
      const baseB = base.weights.get('head.bias')!;
      answerSet.forEach((a, j) => {
        const from = baseIndex.get(a);
        data[j] = from !== undefined ? baseB[from]! : 0;
      });
    }
    tensors.set(spec.name, { shape: spec.shape, data });
  }
  return { config: parsed, answers: answerSet, tensors };
}

export function cloneAdapter(adapter: Adapter): Adapter {
  return {
    config: structuredClone(adapter.config),
    answers: [...adapter.answers],
    tensors: new Map(
      [...adapter.tensors].map(([k, t]) => [k, { shape: [...t.shape], data: t.data.slice() }]),
    ),
  };
}

export function isShared(config: AdapterConfig, name: string): boolean {
  const part: AdapterPart = name.startsWith('lora.')
    ? 'lora'
    : name.startsWith('prompt.')
      ? 'prompt'
      : 'head';
  return config[part].enabled && config[part].shared;
}

/** Names of the shared tensors, in canonical order. */
export function sharedTensorNames(adapter: Adapter): string[] {
  return [...adapter.tensors.keys()].filter((name) => isShared(adapter.config, name));
}

/** Concatenates the shared tensors (canonical order) into one vector — the secure-aggregation input. */
export function flattenShared(adapter: Adapter): Float32Array {
  const names = sharedTensorNames(adapter);
  const total = names.reduce((s, n) => s + adapter.tensors.get(n)!.data.length, 0);
  const out = new Float32Array(total);
  let offset = 0;
  for (const name of names) {
    const t = adapter.tensors.get(name)!.data;
    out.set(t, offset);
    offset += t.length;
  }
  return out;
}

/** The inverse of flattenShared: a copy of `adapter` whose shared tensors are read from `vector`. */
export function unflattenShared(adapter: Adapter, vector: Float32Array): Adapter {
  const names = sharedTensorNames(adapter);
  const total = names.reduce((s, n) => s + adapter.tensors.get(n)!.data.length, 0);
  if (vector.length !== total)
    throw new Error(`shared vector has ${vector.length} values, expected ${total}`);
  const out = cloneAdapter(adapter);
  let offset = 0;
  for (const name of names) {
    const t = out.tensors.get(name)!;
    t.data.set(vector.subarray(offset, offset + t.data.length));
    offset += t.data.length;
  }
  return out;
}

export function countParams(adapter: Adapter): { total: number; shared: number } {
  let total = 0;
  let shared = 0;
  for (const [name, t] of adapter.tensors) {
    total += t.data.length;
    if (isShared(adapter.config, name)) shared += t.data.length;
  }
  return { total, shared };
}
