import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSynthRad } from '../../data/synthrad.js';
import { loadCheckpoint } from './checkpoint.node.js';
import { loraModules } from './config.js';
import { LanguageModel } from './engine.node.js';
import { encodeQa, evaluateQa, finetuneLora, flattenLora, unflattenLora } from './finetune.node.js';
import { initLora } from './model.js';

const DIR = fileURLToPath(new URL('../../../models/cohort-lm-tiny/', import.meta.url));
const models: LanguageModel[] = [];
afterAll(async () => {
  for (const m of models) await m.release();
});

const ready = (async () => {
  const ckpt = await loadCheckpoint(DIR);
  const model = new LanguageModel(ckpt.config, ckpt.weights);
  models.push(model);
  return { ckpt, model, eos: ckpt.config.eosTokenIds[0]! };
})();

describe('LM LoRA fine-tuning on question/answer text', () => {
  it('puts the loss on the answer and its end token only, and keeps the answer when truncating', async () => {
    const { ckpt, eos } = await ready;
    const [ex] = encodeQa(ckpt.tokenizer, [{ question: 'is the liver enlarged?', answer: 'no' }], eos, 64);
    const answer = [...ckpt.tokenizer.encode(' no').ids, eos];
    expect(ex!.labels.slice(-answer.length)).toEqual(answer);
    expect(ex!.labels.slice(0, -answer.length).every((l) => l === -100)).toBe(true);
    const [short] = encodeQa(ckpt.tokenizer, [{ question: 'is the liver enlarged?', answer: 'no' }], eos, 6);
    expect(short!.ids.length).toBe(6);
    expect(short!.labels.slice(-answer.length)).toEqual(answer);
  });

  it('flattens the adapter in a canonical order and back', async () => {
    const { ckpt } = await ready;
    const lora = initLora(ckpt.config, { rank: 4, alpha: 8, targets: loraModules(ckpt.config) }, 1);
    const v = flattenLora(lora, ckpt.config);
    expect(v.length).toBe(4 * 4 * (128 + 384 + (128 + 128) + (128 + 512) + (512 + 128))); // layers · r · Σ(in + out)
    const back = unflattenLora(lora, ckpt.config, v);
    for (const [n, t] of lora.tensors) expect(back.tensors.get(n)).toEqual(t);
    expect(() => unflattenLora(lora, ckpt.config, v.subarray(1))).toThrow(/expected/);
  });

  it('learns an answer vocabulary the base model never produces (affirmative/negative)', async () => {
    const { ckpt, model, eos } = await ready;
    const closed = generateSynthRad({ preset: 'general', n: 400, seed: 777 })
      .records.filter((r) => r.answer === 'yes' || r.answer === 'no')
      .map((r) => ({ question: r.question, answer: r.answer === 'yes' ? 'affirmative' : 'negative' }));
    const train = closed.slice(0, 128);
    const test = closed.slice(128, 152);
    // The answer depends on the image, which a text-only model does not see: what is checked is that
    // the adapter moves every answer into the new vocabulary, which the base model never uses.
    const newWords = (answers: string[]) =>
      answers.filter((a) => a === 'affirmative' || a === 'negative').length;
    const before = await evaluateQa(model, ckpt.tokenizer, test);
    expect(newWords(before.answers)).toBe(0);
    const lora = initLora(ckpt.config, { rank: 8, alpha: 16, targets: loraModules(ckpt.config) }, 2);
    const examples = encodeQa(ckpt.tokenizer, train, eos, 48);
    const { adapter, steps } = await finetuneLora(model, lora, examples, {
      epochs: 4,
      batchSize: 16,
      seq: 48,
      lr: 5e-3,
      clipNorm: 1,
      seed: 3,
    });
    expect(steps).toBe(32);
    const after = await evaluateQa(model, ckpt.tokenizer, test, adapter);
    expect(newWords(after.answers), after.answers.join(' | ')).toBe(test.length);
    expect(after.correct).toBeGreaterThan(0);
  }, 180_000); // ~25 s on the loaded 2-core machine
});
