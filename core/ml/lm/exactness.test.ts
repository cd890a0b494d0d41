/**
 * Exactness against PyTorch: the tiny random checkpoints and references in test-fixtures/lm were written
 * by bench/lm_reference.py (a plain-torch re-implementation of each architecture, float64). Our logits
 * must match within 1e-4 absolute and the LoRA gradients within 1e-3 relative.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from './checkpoint.node.js';
import { LanguageModel } from './engine.node.js';
import type { LoraAdapter } from './model.js';
import { loraModules } from './config.js';
import { FIXTURES, readReference } from './testing.node.js';

const maxAbsDiff = (a: Float32Array, b: Float32Array) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};
const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

const models: LanguageModel[] = [];
afterAll(async () => {
  for (const m of models) await m.release();
});

describe.each([
  ['gpt2-tiny', 'GPT-2'],
  ['llama-gqa-sharded', 'Llama, GQA 4:2, sharded'],
  ['qwen2-bias-tied', 'Qwen2, q/k/v bias, GQA 4:1, tied'],
])('%s (%s) against PyTorch', (name) => {
  const setup = async () => {
    const ckpt = await loadCheckpoint(`${FIXTURES}${name}`);
    const model = new LanguageModel(ckpt.config, ckpt.weights);
    models.push(model);
    const ref = readReference(name);
    const lora: LoraAdapter = {
      spec: { rank: ref.rank, alpha: ref.alpha, targets: loraModules(ckpt.config) },
      tensors: new Map(
        [...ref.tensors]
          .filter(([n]) => n.startsWith('lora:'))
          .map(([n, t]) => [n.slice('lora:'.length), t.data]),
      ),
    };
    return { ckpt, model, ref, lora };
  };
  const ready = setup();

  it('base logits within 1e-4', async () => {
    const { model, ref } = await ready;
    const logits = await model.logits(ref.ids, ref.batch, ref.seq);
    expect(maxAbsDiff(logits, ref.get('base_logits').data)).toBeLessThan(1e-4);
  });

  it('LoRA logits within 1e-4', async () => {
    const { model, ref, lora } = await ready;
    const logits = await model.logits(ref.ids, ref.batch, ref.seq, lora);
    const expected = ref.get('logits').data;
    expect(maxAbs(expected)).toBeGreaterThan(1); // the check is not vacuous
    expect(maxAbsDiff(logits, expected)).toBeLessThan(1e-4);
  });

  it('masked loss and every LoRA gradient within 1e-3 relative', async () => {
    const { model, ref, lora } = await ready;
    const { loss, grads } = await model.lossAndGrads(ref.ids, ref.labels, ref.batch, ref.seq, lora);
    expect(Math.abs(loss - ref.get('loss').data[0]!)).toBeLessThan(1e-4);
    expect(grads.size).toBe(lora.tensors.size);
    for (const [n, g] of grads) {
      const expected = ref.get(`grad:${n}`).data;
      const scale = maxAbs(expected);
      expect(scale, n).toBeGreaterThan(0);
      expect(maxAbsDiff(g, expected) / scale, n).toBeLessThan(1e-3);
    }
  });
});
