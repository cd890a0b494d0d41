/**
 * Adapter formats: Cohort's own (safetensors + JSON config, lossless), the layout Hugging Face PEFT reads
 * (`adapter_model.safetensors` + `adapter_config.json`), and a merged ONNX model (base + adapter folded
 * into plain weights) that any ONNX Runtime can run for inference.
 */
import { z } from 'zod';
import { adapterConfigSchema, adapterTensorSpecs, type Adapter, type NamedTensor } from './adapter.js';
import { numPatches } from './features.js';
import { Graph, type Shape, type Tensor } from './graph.js';
import { buildModelForward, loraModules, type ModelConfig, type Weights } from './model.js';
import { encodeModel } from './onnx-proto.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';

export const ADAPTER_FILES = { config: 'adapter.json', weights: 'adapter.safetensors' } as const;
export const ADAPTER_FORMAT = 'cohort-adapter/v1';

const adapterFileSchema = z.object({
  format: z.literal(ADAPTER_FORMAT),
  base: z.object({
    arch: z.enum(['tinymed-vqa', 'feat-vqa']),
    hash: z.string().regex(/^[0-9a-f]{64}$/),
  }),
  config: adapterConfigSchema,
  answers: z.array(z.string()).min(2),
  tensors: z.array(z.string()),
  meta: z.record(z.string(), z.unknown()).optional(),
});

/** Which base model an adapter belongs to: its architecture and content hash. */
export interface BaseRef {
  arch: ModelConfig['arch'];
  hash: string;
}

export const baseRef = (base: { config: { arch: ModelConfig['arch'] }; hash: string }): BaseRef => ({
  arch: base.config.arch,
  hash: base.hash,
});

export interface EncodedAdapter {
  json: string;
  weights: Uint8Array;
}

export function encodeAdapter(
  adapter: Adapter,
  base: BaseRef,
  meta: Record<string, unknown> = {},
): EncodedAdapter {
  const names = [...adapter.tensors.keys()];
  const file = {
    format: ADAPTER_FORMAT,
    base: { arch: base.arch, hash: base.hash },
    config: adapter.config,
    answers: adapter.answers,
    tensors: names,
    ...(Object.keys(meta).length ? { meta } : {}),
  };
  return {
    json: `${JSON.stringify(file, null, 2)}\n`,
    weights: encodeSafetensors(names.map((n) => [n, adapter.tensors.get(n)!])),
  };
}

export function decodeAdapter(
  json: string,
  weights: Uint8Array,
  cfg?: ModelConfig,
): { adapter: Adapter; baseHash: string; meta: Record<string, unknown> } {
  const file = adapterFileSchema.parse(JSON.parse(json));
  const { tensors } = decodeSafetensors(weights);
  const map = new Map<string, NamedTensor>();
  for (const name of file.tensors) {
    const t = tensors.get(name);
    if (!t) throw new Error(`adapter weights lack tensor ${name}`);
    map.set(name, { shape: t.shape, data: t.data });
  }
  if (cfg) {
    if (file.base.arch !== cfg.arch)
      throw new Error(`adapter is for a ${file.base.arch} base, not ${cfg.arch}`);
    const expected = adapterTensorSpecs(cfg, file.config, file.answers.length);
    const ok =
      expected.length === map.size &&
      expected.every((s) => map.get(s.name)?.shape.join(',') === s.shape.join(','));
    if (!ok) throw new Error('adapter tensors do not match its config and the base model');
  }
  return {
    adapter: { config: file.config, answers: file.answers, tensors: map },
    baseHash: file.base.hash,
    meta: file.meta ?? {},
  };
}

/** torch's nn.Linear stores weight as [out, in]; Cohort stores [in, out]. */
function transpose2d(t: NamedTensor): NamedTensor {
  const [r, c] = t.shape as [number, number];
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = t.data[i * c + j]!;
  return { shape: [c, r], data: out };
}

/**
 * PEFT layout. LoRA tensors become `base_model.model.<module>.lora_A.weight` [r, in] and `lora_B.weight`
 * [out, r] (torch layout); the head and the soft prompt are saved whole, listed in `modules_to_save`
 * (PEFT's LoRA config cannot express a soft prompt alongside LoRA, so it travels as a saved module).
 */
export function exportPeft(adapter: Adapter, base: BaseRef): { config: string; weights: Uint8Array } {
  const out: [string, NamedTensor][] = [];
  const modules = new Set<string>();
  for (const [name, t] of adapter.tensors) {
    if (name.startsWith('lora.')) {
      const module = name.slice('lora.'.length, -2);
      const which = name.endsWith('.A') ? 'lora_A' : 'lora_B';
      out.push([`base_model.model.${module}.${which}.weight`, transpose2d(t)]);
      modules.add(module.split('.').pop()!);
    } else if (name === 'head.weight') out.push(['base_model.model.head.weight', transpose2d(t)]);
    else if (name === 'head.bias') out.push(['base_model.model.head.bias', t]);
    else if (name === 'prompt.embeddings') out.push(['base_model.model.prompt.embedding.weight', t]);
  }
  const saved = [
    ...(adapter.config.head.enabled ? ['head'] : []),
    ...(adapter.config.prompt.enabled ? ['prompt'] : []),
  ];
  const config = {
    peft_type: 'LORA',
    task_type: null,
    base_model_name_or_path: `${base.arch}@sha256:${base.hash}`,
    r: adapter.config.lora.rank,
    lora_alpha: adapter.config.lora.alpha,
    lora_dropout: 0,
    target_modules: adapter.config.lora.enabled ? [...modules].sort() : [],
    bias: 'none',
    fan_in_fan_out: false,
    modules_to_save: saved.length ? saved : null,
    inference_mode: true,
    init_lora_weights: true,
    cohort: {
      answers: adapter.answers,
      prompt_tokens: adapter.config.prompt.enabled ? adapter.config.prompt.tokens : 0,
    },
  };
  return {
    config: `${JSON.stringify(config, null, 2)}\n`,
    weights: encodeSafetensors(out, { format: 'pt' }),
  };
}

/** Base weights with every LoRA pair folded in: W' = W + (α/r)·A·B. */
export function mergeLora(cfg: ModelConfig, weights: Weights, adapter: Adapter): Weights {
  const merged: Weights = new Map(weights);
  if (!adapter.config.lora.enabled) return merged;
  const scale = adapter.config.lora.alpha / adapter.config.lora.rank;
  const r = adapter.config.lora.rank;
  for (const { module, inDim, outDim } of loraModules(cfg, adapter.config.lora.targets)) {
    const a = adapter.tensors.get(`lora.${module}.A`)!;
    const b = adapter.tensors.get(`lora.${module}.B`)!;
    const out = new Float32Array(weights.get(`${module}.weight`)!);
    for (let i = 0; i < inDim; i++) {
      for (let k = 0; k < r; k++) {
        const aik = a.data[i * r + k]! * scale;
        if (aik === 0) continue;
        for (let j = 0; j < outDim; j++) out[i * outDim + j]! += aik * b.data[k * outDim + j]!;
      }
    }
    merged.set(`${module}.weight`, out);
  }
  return merged;
}

/**
 * A standalone ONNX inference model: inputs patches [B, N, p²] (TinyMed-VQA) or image_features
 * [B, tokens, channels] (FeatVQA: the encoder's output, which this model does not contain), token_ids [B, L, K] (int32),
 * token_weights [B, L, K, 1], text_mask [B, L], question_sketch [B, sketchDim]; output logits [B, answers]. The answer list and the
 * preprocessing are recorded in the model's metadata_props.
 */
export function exportMergedOnnx(
  cfg: ModelConfig,
  weights: Weights,
  adapter: Adapter | null,
  batch: number,
  baseHash: string,
): Uint8Array {
  const merged = adapter ? mergeLora(cfg, weights, adapter) : weights;
  const g = new Graph(`${cfg.arch}-merged`);
  const resolved = new Map<string, Tensor>();
  const weight = (name: string, shape: Shape) => {
    let t = resolved.get(name);
    if (!t) {
      const data = adapter?.tensors.get(name)?.data ?? merged.get(name);
      if (!data) throw new Error(`no weight ${name}`);
      t = g.initializer(name, data, shape);
      resolved.set(name, t);
    }
    return t;
  };
  const answers = adapter ? adapter.answers : cfg.answers;
  const logits = buildModelForward(g, {
    cfg,
    batch,
    weight,
    promptTokens: adapter?.config.prompt.enabled ? adapter.config.prompt.tokens : 0,
    numAnswers: answers.length,
  });
  g.output(logits, 'logits');
  return encodeModel(g, 'cohort', {
    'cohort.base_model': `${cfg.arch}@sha256:${baseHash}`,
    'cohort.answers': JSON.stringify(answers),
    'cohort.preprocessing': JSON.stringify({
      image:
        cfg.arch === 'feat-vqa'
          ? `the outputs ${cfg.encoder.outputs.join(', ')} of the image encoder with sha256 ${cfg.encoder.sha256}, each resampled to ${cfg.featureTokens} positions, concatenated channel-wise (${cfg.featureGroups.join(' + ')})`
          : `grayscale, resized to ${cfg.imageSize}x${cfg.imageSize} (box filter), standardised per image, split into ${numPatches(cfg)} row-major ${cfg.patchSize}x${cfg.patchSize} patches`,
      text: `lower-cased words split on non-alphanumerics (first ${cfg.maxTokens}); per word ${cfg.ngramSlots} slots of hashed n-grams (whole word + character trigrams, FNV-1a/murmur3 mod ${cfg.hashBuckets}), weight 1/count`,
      question_sketch: `mean over words of the mean of their n-grams' fixed random vectors (rows of ${cfg.sketchDim} normals from Rng(stableHash32("cohort/sketch/v1:<id>"))), scaled to unit RMS`,
    }),
  });
}
