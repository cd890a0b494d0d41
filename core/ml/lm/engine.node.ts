/**
 * Runs decoder language models: logits, the masked causal-LM loss with LoRA gradients, and generation
 * with a key/value cache (greedy, or sampled with temperature/top-k from a seeded Rng). Compiled graphs
 * are cached per shape; the base weights are fed to each from the one copy held here.
 */
import { Rng } from '../rng.js';
import { CompiledGraph, type FeedData } from '../runtime.node.js';
import type { LmConfig } from './config.js';
import {
  buildLmGraph,
  causalTargets,
  MASKED,
  rotaryTables,
  type LmGraphOptions,
  type LoraAdapter,
} from './model.js';

export interface GenerateOptions {
  maxNewTokens: number;
  /** 0 (default) = greedy. */
  temperature?: number;
  /** Sample among the k most likely tokens only (0 = all). */
  topK?: number;
  seed?: number;
  /** Stop after emitting one of these (default: the config's eos_token_id). */
  eosTokenIds?: number[];
}

export interface GenerateResult {
  tokens: number[];
  stop: 'eos' | 'max_tokens' | 'context';
  /** Time spent on the new tokens only (after the prompt was read), for tokens/s. */
  decodeMs: number;
}

interface Entry {
  compiled: CompiledGraph;
  trainable: string[];
}

export class LanguageModel {
  private readonly graphs = new Map<string, Promise<Entry>>();
  private readonly baseFeeds: Record<string, FeedData>;

  constructor(
    readonly config: LmConfig,
    readonly weights: Map<string, Float32Array>,
    readonly options: { threads?: number } = {},
  ) {
    this.baseFeeds = Object.fromEntries(weights);
  }

  private graph(opts: LmGraphOptions): Promise<Entry> {
    const l = opts.lora;
    const key = JSON.stringify([
      opts.mode,
      opts.batch,
      opts.seq,
      opts.cache ?? 0,
      l ? [l.rank, l.alpha, l.targets] : null,
    ]);
    let entry = this.graphs.get(key);
    if (!entry) {
      entry = (async () => {
        const { graph, trainable } = buildLmGraph(this.config, opts);
        return {
          compiled: await CompiledGraph.create(graph, { threads: this.options.threads ?? 1 }),
          trainable,
        };
      })();
      this.graphs.set(key, entry);
      entry.catch(() => this.graphs.delete(key));
    }
    return entry;
  }

  private positionFeeds(batch: number, seq: number, start: number): Record<string, FeedData> {
    if (start + seq > this.config.maxPositions && this.config.arch === 'gpt2')
      throw new Error(
        `sequence of ${start + seq} tokens exceeds the model's ${this.config.maxPositions} positions`,
      );
    const positions = Array.from({ length: seq }, (_, t) => start + t);
    if (this.config.arch === 'gpt2') {
      const ids = new Int32Array(batch * seq);
      for (let i = 0; i < ids.length; i++) ids[i] = positions[i % seq]!;
      return { position_ids: ids };
    }
    const { cos, sin } = rotaryTables(this.config, positions);
    const rep = (t: Float32Array) => {
      const out = new Float32Array(batch * t.length);
      for (let b = 0; b < batch; b++) out.set(t, b * t.length);
      return out;
    };
    return { rope_cos: rep(cos), rope_sin: rep(sin) };
  }

  private checkIds(ids: Int32Array): void {
    for (const id of ids)
      if (id < 0 || id >= this.config.vocabSize) throw new Error(`token id ${id} is outside the vocabulary`);
  }

  /** Logits [batch, seq, vocab] of a causal forward (right padding does not affect earlier positions). */
  async logits(ids: Int32Array, batch: number, seq: number, lora?: LoraAdapter): Promise<Float32Array> {
    this.checkIds(ids);
    const { compiled } = await this.graph({
      mode: 'logits',
      batch,
      seq,
      ...(lora ? { lora: lora.spec } : {}),
    });
    const out = await compiled.run({
      ...this.baseFeeds,
      ...(lora ? Object.fromEntries(lora.tensors) : {}),
      input_ids: ids,
      ...this.positionFeeds(batch, seq, 0),
    });
    return out.logits!;
  }

  /**
   * The masked causal-LM loss (labels -100 ignored, HF's shift) and its gradient for every LoRA tensor,
   * or, without an adapter, for every base weight (full-parameter training).
   */
  async lossAndGrads(
    ids: Int32Array,
    labels: Int32Array,
    batch: number,
    seq: number,
    lora?: LoraAdapter,
  ): Promise<{ loss: number; grads: Map<string, Float32Array>; tokens: number }> {
    this.checkIds(ids);
    const { compiled, trainable } = await this.graph({
      mode: 'train',
      batch,
      seq,
      ...(lora ? { lora: lora.spec } : {}),
    });
    const { index, weight, count } = causalTargets(labels, batch, seq, this.config.vocabSize);
    const out = await compiled.run({
      ...this.baseFeeds,
      ...(lora ? Object.fromEntries(lora.tensors) : {}),
      input_ids: ids,
      ...this.positionFeeds(batch, seq, 0),
      target_index: index,
      target_weight: weight,
    });
    return {
      loss: out.loss![0]!,
      grads: new Map(trainable.map((n) => [n, out[`grad:${n}`]!])),
      tokens: count,
    };
  }

  /**
   * Continues `prompt` until an end-of-sequence token, `maxNewTokens`, or the cache is full. All but
   * the last prompt token are read by one causal forward (prefill, its length rounded up to a power of
   * two so that prompts of similar length share a graph; right padding cannot affect earlier positions)
   * whose keys/values fill the cache; then the decode graph (one new token, `cache` past key/value slots
   * as inputs) runs once per token.
   */
  async generate(prompt: number[], opts: GenerateOptions, lora?: LoraAdapter): Promise<GenerateResult> {
    if (prompt.length === 0) throw new Error('generation needs a non-empty prompt');
    this.checkIds(Int32Array.from(prompt));
    const cfg = this.config;
    const want = prompt.length + opts.maxNewTokens;
    const limit = cfg.arch === 'gpt2' ? cfg.maxPositions : Math.max(cfg.maxPositions, want);
    // Power-of-two cache sizes, so that prompts of similar length reuse one compiled graph.
    let cache = 16;
    while (cache < want) cache *= 2;
    cache = Math.min(cache, limit);
    const { compiled } = await this.graph({
      mode: 'logits',
      batch: 1,
      seq: 1,
      cache,
      ...(lora ? { lora: lora.spec } : {}),
    });
    const { kvHeads: KV, headDim: hd, vocabSize: V } = cfg;
    const past: Record<string, Float32Array> = {};
    for (let i = 0; i < cfg.layers; i++) {
      past[`past_key.${i}`] = new Float32Array(KV * cache * hd);
      past[`past_value.${i}`] = new Float32Array(KV * cache * hd);
    }
    const bias = new Float32Array(cache + 1).fill(MASKED);
    bias[cache] = 0; // the new token attends to itself
    const eos = new Set(opts.eosTokenIds ?? cfg.eosTokenIds);
    const rng = new Rng(opts.seed ?? 0);
    const loraFeeds = lora ? Object.fromEntries(lora.tensors) : {};
    const copyPresents = (out: Record<string, Float32Array>, len: number, count: number, at: number) => {
      for (let i = 0; i < cfg.layers; i++) {
        for (const kind of ['key', 'value']) {
          const present = out[`present_${kind}.${i}`]!;
          const cacheBuf = past[`past_${kind}.${i}`]!;
          for (let h = 0; h < KV; h++)
            cacheBuf.set(present.subarray(h * len * hd, (h * len + count) * hd), (h * cache + at) * hd);
        }
      }
    };
    const read = Math.min(prompt.length - 1, cache);
    if (read > 0) {
      let bucket = 8;
      while (bucket < read) bucket *= 2;
      bucket = Math.min(bucket, cache);
      const prefill = await this.graph({
        mode: 'logits',
        batch: 1,
        seq: bucket,
        presents: true,
        ...(lora ? { lora: lora.spec } : {}),
      });
      const ids = new Int32Array(bucket).fill(prompt[0]!);
      ids.set(prompt.slice(0, read));
      const out = await prefill.compiled.run({
        ...this.baseFeeds,
        ...loraFeeds,
        input_ids: ids,
        ...this.positionFeeds(1, bucket, 0),
      });
      copyPresents(out, bucket, read, 0);
      bias.fill(0, 0, read);
    }
    const tokens: number[] = [];
    let next = prompt[read]!;
    let stop: GenerateResult['stop'] = 'max_tokens';
    let decodeStart = 0;
    for (let pos = read; ; pos++) {
      if (pos >= cache) {
        stop = 'context';
        break;
      }
      if (pos === prompt.length - 1) decodeStart = performance.now();
      const out = await compiled.run({
        ...this.baseFeeds,
        ...loraFeeds,
        ...past,
        input_ids: Int32Array.of(next),
        attn_bias: bias,
        ...this.positionFeeds(1, 1, pos),
      });
      copyPresents(out, 1, 1, pos);
      bias[pos] = 0;
      if (pos + 1 < prompt.length) {
        next = prompt[pos + 1]!;
        continue;
      }
      next = pickToken(out.logits!.subarray(0, V), opts, rng);
      tokens.push(next);
      if (eos.has(next)) {
        stop = 'eos';
        break;
      }
      if (tokens.length >= opts.maxNewTokens) break;
    }
    return { tokens, stop, decodeMs: performance.now() - decodeStart };
  }

  async release(): Promise<void> {
    const entries = [...this.graphs.values()];
    this.graphs.clear();
    for (const e of entries) await (await e).compiled.release();
  }
}

/** Greedy (argmax, first on ties) or a temperature/top-k sample. */
export function pickToken(logits: Float32Array, opts: GenerateOptions, rng: Rng): number {
  const temperature = opts.temperature ?? 0;
  if (temperature <= 0) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
    return best;
  }
  let order = Array.from(logits.keys());
  const k = opts.topK ?? 0;
  if (k > 0 && k < order.length) order = order.sort((a, b) => logits[b]! - logits[a]! || a - b).slice(0, k);
  let max = -Infinity;
  for (const i of order) max = Math.max(max, logits[i]!);
  const p = order.map((i) => Math.exp((logits[i]! - max) / temperature));
  const total = p.reduce((a, b) => a + b, 0);
  let r = rng.next() * total;
  for (let j = 0; j < order.length; j++) {
    r -= p[j]!;
    if (r < 0) return order[j]!;
  }
  return order[order.length - 1]!;
}
