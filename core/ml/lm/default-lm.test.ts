import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSynthRad } from '../../data/synthrad.js';
import { loadCheckpoint } from './checkpoint.node.js';
import { LanguageModel } from './engine.node.js';
import { hashCheckpoint } from './registry.node.js';

const DIR = fileURLToPath(new URL('../../../models/cohort-lm-tiny/', import.meta.url));
const models: LanguageModel[] = [];
afterAll(async () => {
  for (const m of models) await m.release();
});

describe('the embedded default LM (models/cohort-lm-tiny, npm run build:default-lm)', () => {
  const ready = (async () => {
    const ckpt = await loadCheckpoint(DIR);
    const model = new LanguageModel(ckpt.config, ckpt.weights);
    models.push(model);
    return { ckpt, model };
  })();

  it('is named by its registry content hash', async () => {
    const { ckpt } = await ready;
    const { hash } = await hashCheckpoint(DIR, ckpt.files);
    expect(readFileSync(`${DIR}SHA256`, 'utf8').trim()).toBe(hash);
  });

  it('has learnt radiology question/answer text it never saw (unseen seed)', async () => {
    const { ckpt, model } = await ready;
    const [B, T] = [4, 32];
    const eos = ckpt.config.eosTokenIds[0]!;
    const records = generateSynthRad({ preset: 'general', n: 40, seed: 424242 }).records;
    const ids = new Int32Array(B * T).fill(eos);
    const labels = new Int32Array(B * T).fill(-100);
    for (let b = 0; b < B; b++) {
      const r = records[b]!;
      const tokens = ckpt.tokenizer.encode(`Question: ${r.question}\nAnswer: ${r.answer}`).ids.slice(0, T);
      ids.set(tokens, b * T);
      labels.set(tokens, b * T);
    }
    const { loss } = await model.lossAndGrads(ids, labels, B, T);
    // Uniform guessing over the vocabulary costs ln(V) ≈ 7.1 nats per token.
    expect(loss).toBeLessThan(0.4 * Math.log(ckpt.config.vocabSize));
  });

  it('answers a closed question with yes or no', async () => {
    const { ckpt, model } = await ready;
    const prompt = ckpt.tokenizer.encode('Question: is there a pleural effusion?\nAnswer:').ids;
    const { tokens } = await model.generate(prompt, { maxNewTokens: 3 });
    expect(ckpt.tokenizer.decode(tokens, { skip_special_tokens: true }).trim()).toMatch(/^(yes|no)\b/);
  });
});
