import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { loadCheckpoint } from './checkpoint.node.js';
import { loraModules } from './config.js';
import { LanguageModel, pickToken } from './engine.node.js';
import { initLora, type LoraAdapter } from './model.js';
import { FIXTURES } from './testing.node.js';

const models: LanguageModel[] = [];
afterAll(async () => {
  for (const m of models) await m.release();
});

async function open(name: string) {
  const ckpt = await loadCheckpoint(`${FIXTURES}${name}`);
  const model = new LanguageModel(ckpt.config, ckpt.weights);
  models.push(model);
  return { ckpt, model };
}

/** Greedy continuation by a full causal forward over the whole sequence for every new token. */
async function greedyByFullForwards(model: LanguageModel, prompt: number[], n: number, lora?: LoraAdapter) {
  const seq = [...prompt];
  const V = model.config.vocabSize;
  for (let i = 0; i < n; i++) {
    const logits = await model.logits(Int32Array.from(seq), 1, seq.length, lora);
    const last = logits.subarray((seq.length - 1) * V, seq.length * V);
    let best = 0;
    for (let j = 1; j < V; j++) if (last[j]! > last[best]!) best = j;
    seq.push(best);
  }
  return seq.slice(prompt.length);
}

describe.each(['gpt2-tiny', 'llama-gqa-sharded', 'qwen2-bias-tied'])(
  'generation with a KV cache: %s',
  (name) => {
    const ready = open(name);

    it('greedy decoding equals the argmax of repeated full forwards (with a LoRA adapter)', async () => {
      const { ckpt, model } = await ready;
      const lora = initLora(ckpt.config, { rank: 4, alpha: 8, targets: loraModules(ckpt.config) }, 3);
      // Non-zero B so that the adapter changes the model.
      const rng = new Rng(5);
      for (const [n, t] of lora.tensors)
        if (n.endsWith('lora_B')) t.forEach((_, i) => (t[i] = rng.normal() * 0.2));
      const prompt = ckpt.tokenizer.encode('is there a mass in the lung').ids;
      const result = await model.generate(prompt, { maxNewTokens: 10, eosTokenIds: [] }, lora);
      expect(result.stop).toBe('max_tokens');
      expect(result.tokens).toEqual(await greedyByFullForwards(model, prompt, 10, lora));
      const base = await model.generate(prompt, { maxNewTokens: 10, eosTokenIds: [] });
      expect(base.tokens).toEqual(await greedyByFullForwards(model, prompt, 10));
      expect(base.tokens).not.toEqual(result.tokens);
    });

    it('stops at an end-of-sequence token', async () => {
      const { model } = await ready;
      const free = await model.generate([1, 2, 3], { maxNewTokens: 6, eosTokenIds: [] });
      const stopAt = free.tokens[2]!;
      const stopped = await model.generate([1, 2, 3], { maxNewTokens: 6, eosTokenIds: [stopAt] });
      expect(stopped.stop).toBe('eos');
      expect(stopped.tokens).toEqual(free.tokens.slice(0, free.tokens.indexOf(stopAt) + 1));
    });

    it('samples reproducibly from a seed', async () => {
      const { model } = await ready;
      const opts = { maxNewTokens: 8, temperature: 1.5, topK: 20, eosTokenIds: [] };
      const a = await model.generate([5, 6], { ...opts, seed: 1 });
      const b = await model.generate([5, 6], { ...opts, seed: 1 });
      const c = await model.generate([5, 6], { ...opts, seed: 2 });
      expect(a.tokens).toEqual(b.tokens);
      expect(a.tokens).not.toEqual(c.tokens);
    });
  },
);

describe('pickToken', () => {
  const logits = Float32Array.from([0.1, 3, 2.9, -1, 3]);
  it('greedy picks the first maximum; top-k 1 is greedy', () => {
    expect(pickToken(logits, { maxNewTokens: 1 }, new Rng(1))).toBe(1);
    for (let s = 0; s < 20; s++)
      expect(pickToken(logits, { maxNewTokens: 1, temperature: 5, topK: 1 }, new Rng(s))).toBe(1);
  });
  it('top-k never picks outside the k most likely; temperature spreads the samples', () => {
    const rng = new Rng(7);
    const seen = new Set<number>();
    for (let i = 0; i < 300; i++)
      seen.add(pickToken(logits, { maxNewTokens: 1, temperature: 1, topK: 3 }, rng));
    expect([...seen].sort()).toEqual([1, 2, 4]);
  });
});
