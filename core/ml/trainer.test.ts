import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_ADAPTER_CONFIG, flattenShared, initAdapter } from './adapter.js';
import { releaseGraphs, trainLocal, type Progress } from './engine.node.js';
import { synthExamples, tinyBase } from './testing.js';
import { startTrainer } from './trainer.node.js';

afterAll(() => releaseGraphs());

describe('trainer worker', () => {
  const base = tinyBase();
  const examples = synthExamples(base.config, 24);
  const adapter = initAdapter(base, DEFAULT_ADAPTER_CONFIG, base.config.answers, 2);
  const options = { base, adapter, examples, epochs: 2, batchSize: 8, lr: 0.01, seed: 3, threads: 1 };

  it('trains off the event loop with progress events, matching in-process training exactly', async () => {
    const trainer = startTrainer();
    try {
      const events: Progress[] = [];
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      const remote = await trainer.train({ ...options, onProgress: (p) => events.push(p) });
      clearInterval(timer);
      expect(events.map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(events.at(-1)!.steps).toBe(6);
      expect(ticks).toBeGreaterThan(0); // the caller's event loop kept running while the worker trained
      const local = await trainLocal(options);
      expect(flattenShared(remote.adapter)).toEqual(flattenShared(local.adapter));
      expect(remote.stats.steps).toBe(6);
      const evalResult = await trainer.evaluate({ base, adapter: remote.adapter, examples });
      expect(evalResult.n).toBe(24);
      expect(evalResult.closed.n + evalResult.open.n).toBe(24);
    } finally {
      await trainer.close();
    }
  });

  it('cancels a running job through an AbortSignal and stays usable', async () => {
    const trainer = startTrainer();
    try {
      const controller = new AbortController();
      let seen = 0;
      const run = trainer.train({
        ...options,
        epochs: 500,
        signal: controller.signal,
        onProgress: () => {
          seen++;
          controller.abort();
        },
      });
      await expect(run).rejects.toMatchObject({ name: 'AbortError' });
      expect(seen).toBeGreaterThan(0);
      expect(seen).toBeLessThan(500 * 3);
      const again = await trainer.train({ ...options, epochs: 1 });
      expect(again.stats.steps).toBe(3);
      const already = new AbortController();
      already.abort();
      await expect(trainer.train({ ...options, signal: already.signal })).rejects.toMatchObject({
        name: 'AbortError',
      });
    } finally {
      await trainer.close();
    }
  });
});
