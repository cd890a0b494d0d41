/**
 * LoRA fine-tuning of a decoder LM on question/answer text — the pieces a federated round needs:
 * encoding records as prompt + answer with the loss on the answer only, local training (AdamW, clipping,
 * FedProx), the adapter as one flat vector in a canonical order (for secure aggregation), and
 * normalised-exact-match evaluation of greedy answers.
 */
import type { Tokenizer } from '@huggingface/tokenizers';
import { normalizeAnswer } from '../../data/types.js';
import { AdamW, addProximal, clipGradNorm } from '../optim.js';
import { Rng } from '../rng.js';
import type { LanguageModel } from './engine.node.js';
import { loraShapes, type LoraAdapter } from './model.js';

export interface QaRecord {
  question: string;
  answer: string;
}

export interface LmExample {
  ids: number[];
  /** -100 on the prompt (no loss), the token id on the answer and its end-of-sequence token. */
  labels: number[];
}

export const qaPrompt = (question: string) => `Question: ${question}\nAnswer:`;

/** `Question: q\nAnswer:` (no loss) then ` a<eos>` (loss); a long prompt loses its start, not the answer. */
export function encodeQa(
  tokenizer: Tokenizer,
  records: readonly QaRecord[],
  eos: number,
  maxLen: number,
): LmExample[] {
  return records.map((r) => {
    const answer = [...tokenizer.encode(` ${r.answer}`).ids, eos].slice(0, maxLen - 1);
    const prompt = tokenizer.encode(qaPrompt(r.question)).ids.slice(-(maxLen - answer.length));
    return { ids: [...prompt, ...answer], labels: [...prompt.map(() => -100), ...answer] };
  });
}

/** Right-padded batch (padding has label -100; causal attention keeps it from earlier positions). */
export function packBatch(examples: readonly LmExample[], seq: number, pad: number) {
  const ids = new Int32Array(examples.length * seq).fill(pad);
  const labels = new Int32Array(examples.length * seq).fill(-100);
  examples.forEach((e, b) => {
    ids.set(e.ids.slice(0, seq), b * seq);
    labels.set(e.labels.slice(0, seq), b * seq);
  });
  return { ids, labels };
}

/** The LoRA tensors as one vector, in the model's canonical module order (A then B per module). */
export function flattenLora(adapter: LoraAdapter, cfg: Parameters<typeof loraShapes>[0]): Float32Array {
  const names = [...loraShapes(cfg, adapter.spec).keys()];
  const out = new Float32Array(names.reduce((n, k) => n + adapter.tensors.get(k)!.length, 0));
  let offset = 0;
  for (const n of names) {
    out.set(adapter.tensors.get(n)!, offset);
    offset += adapter.tensors.get(n)!.length;
  }
  return out;
}

export function unflattenLora(
  adapter: LoraAdapter,
  cfg: Parameters<typeof loraShapes>[0],
  vector: Float32Array,
): LoraAdapter {
  const tensors = new Map<string, Float32Array>();
  let offset = 0;
  for (const [n, shape] of loraShapes(cfg, adapter.spec)) {
    const size = shape[0]! * shape[1]!;
    tensors.set(n, vector.slice(offset, offset + size));
    offset += size;
  }
  if (offset !== vector.length)
    throw new Error(`LoRA vector has ${vector.length} values, expected ${offset}`);
  return { spec: adapter.spec, tensors };
}

export interface FinetuneOptions {
  epochs: number;
  batchSize: number;
  seq: number;
  lr: number;
  weightDecay?: number;
  clipNorm?: number;
  /** FedProx μ, relative to the adapter as passed in. */
  proxMu?: number;
  seed: number;
  onStep?: (step: number, loss: number) => void;
}

/** Trains a copy of `adapter` on `examples`; the base weights stay frozen. */
export async function finetuneLora(
  model: LanguageModel,
  adapter: LoraAdapter,
  examples: readonly LmExample[],
  opts: FinetuneOptions,
): Promise<{ adapter: LoraAdapter; meanLoss: number; steps: number }> {
  const tensors = new Map([...adapter.tensors].map(([n, t]) => [n, Float32Array.from(t)]));
  const reference = adapter.tensors;
  const opt = new AdamW(tensors, { lr: opts.lr, weightDecay: opts.weightDecay ?? 0 });
  const rng = new Rng(opts.seed);
  const pad = model.config.eosTokenIds[0] ?? 0;
  const trained: LoraAdapter = { spec: adapter.spec, tensors };
  let steps = 0;
  let lossSum = 0;
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    const order = rng.shuffle([...examples.keys()]);
    // Full batches only: one compiled graph; the remainder is drawn in the next epoch's shuffle.
    for (let i = 0; i + opts.batchSize <= order.length; i += opts.batchSize) {
      const batch = order.slice(i, i + opts.batchSize).map((k) => examples[k]!);
      const { ids, labels } = packBatch(batch, opts.seq, pad);
      const { loss, grads } = await model.lossAndGrads(ids, labels, opts.batchSize, opts.seq, trained);
      if (opts.clipNorm) clipGradNorm(grads, opts.clipNorm);
      addProximal(grads, tensors, reference, opts.proxMu ?? 0);
      opt.step(grads);
      lossSum += loss;
      opts.onStep?.(steps, loss);
      steps++;
    }
  }
  return { adapter: trained, meanLoss: steps ? lossSum / steps : NaN, steps };
}

/** Greedy answers scored by normalised exact match. */
export async function evaluateQa(
  model: LanguageModel,
  tokenizer: Tokenizer,
  records: readonly QaRecord[],
  adapter?: LoraAdapter,
  maxNewTokens = 8,
): Promise<{ n: number; correct: number; answers: string[] }> {
  let correct = 0;
  const answers: string[] = [];
  for (const r of records) {
    const prompt = tokenizer.encode(qaPrompt(r.question)).ids;
    const { tokens } = await model.generate(prompt, { maxNewTokens }, adapter);
    const text = tokenizer.decode(tokens, { skip_special_tokens: true }).trim();
    answers.push(text);
    if (normalizeAnswer(text) === normalizeAnswer(r.answer)) correct++;
  }
  return { n: records.length, correct, answers };
}
