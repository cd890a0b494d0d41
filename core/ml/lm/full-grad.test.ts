import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { loadCheckpoint } from './checkpoint.node.js';
import { LanguageModel } from './engine.node.js';
import { FIXTURES, readReference } from './testing.node.js';

const models: LanguageModel[] = [];
afterAll(async () => {
  for (const m of models) await m.release();
});

/**
 * Full-parameter training (no adapter: gradients of every base weight, used to pretrain the default
 * LM) against a central finite difference of the loss along one random direction over all weights.
 */
describe.each(['gpt2-tiny', 'llama-gqa-sharded', 'qwen2-bias-tied'])(
  'full-parameter gradients: %s',
  (name) => {
    it('match a finite difference of the loss', async () => {
      const ckpt = await loadCheckpoint(`${FIXTURES}${name}`);
      const model = new LanguageModel(ckpt.config, ckpt.weights);
      models.push(model);
      const ref = readReference(name);
      const { grads } = await model.lossAndGrads(ref.ids, ref.labels, ref.batch, ref.seq);
      expect([...grads.keys()].sort()).toEqual([...ckpt.weights.keys()].sort());
      const rng = new Rng(11);
      const dir = new Map([...ckpt.weights].map(([n, w]) => [n, Float32Array.from(w, () => rng.normal())]));
      let analytic = 0;
      for (const [n, g] of grads) g.forEach((v, i) => (analytic += v * dir.get(n)![i]!));
      const original = new Map([...ckpt.weights].map(([n, w]) => [n, Float32Array.from(w)]));
      const lossAt = async (eps: number) => {
        for (const [n, w] of ckpt.weights)
          w.forEach((_, i) => (w[i] = original.get(n)![i]! + eps * dir.get(n)![i]!));
        return (await model.lossAndGrads(ref.ids, ref.labels, ref.batch, ref.seq)).loss;
      };
      const eps = 1e-3;
      const numeric = ((await lossAt(eps)) - (await lossAt(-eps))) / (2 * eps);
      expect(Math.abs(analytic)).toBeGreaterThan(0.1);
      expect(Math.abs(analytic - numeric) / Math.abs(analytic)).toBeLessThan(1e-2);
    });
  },
);
