import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractFeatures } from '../../core/ml/encoder/extract.node.js';
import { ImageEncoder, encoderKey, readEncoderFile } from '../../core/ml/encoder/image-encoder.node.js';
import { MOBILENET_V2_SPEC } from '../../core/ml/encoder/spec.js';
import { SiteDataService } from '../data/site-data-service.js';
import { SiteStore } from './site-store.js';
import { jpegBytes, writeFile } from '../importers/testing/fixtures.js';

const SYNTH = { preset: 'general', n: 12, seed: 5 } as const;

describe('frozen image-feature cache', () => {
  let dir: string;
  let encoderDir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cohort-features-'));
    encoderDir = join(dir, 'encoders');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('encodes each stored image once, from its stored pixels, and keeps it across re-imports', async () => {
    const store = new SiteStore(join(dir, 'a.db'));
    await store.importSynthRad(SYNTH);
    const { records, images } = store.trainingData();
    const keys = [...new Set(records.map((r) => r.imageKey))];
    const events: { done: number; total: number }[] = [];
    const emitting = new SiteStore(join(dir, 'a.db'), {
      emit: (e) => events.push(e as { done: number; total: number }),
    });
    store.close();

    const first = await emitting.fillFeatures({ spec: MOBILENET_V2_SPEC, encoderDir }, 't');
    expect(first).toMatchObject({
      computed: keys.length,
      cached: 0,
      encoderKey: encoderKey(MOBILENET_V2_SPEC),
    });
    expect(first.outputs.map((o) => o.shape)).toEqual([
      [7, 7, 1280],
      [14, 14, 96],
    ]);
    expect(events.at(-1)).toMatchObject({
      type: 'feature-progress',
      token: 't',
      done: keys.length,
      total: keys.length,
    });

    // The same records again: nothing new to store, nothing to encode.
    await emitting.importSynthRad(SYNTH);
    const again = await emitting.fillFeatures({ spec: MOBILENET_V2_SPEC, encoderDir });
    expect(again).toMatchObject({ computed: 0, cached: keys.length });

    // What the cache returns is the encoder's output up to float16 rounding (relative 2⁻¹¹).
    const encoder = await ImageEncoder.open(
      readEncoderFile(encoderDir, MOBILENET_V2_SPEC),
      MOBILENET_V2_SPEC,
    );
    const direct = await extractFeatures(encoder, [images.get(keys[0]!)!]);
    const cached = emitting.cachedFeatures([keys[0]!], first.encoderKey).get(keys[0]!)!;
    direct[0]!.forEach((values, o) => {
      const got = cached.values[o]!;
      expect(got.length).toBe(values.length);
      let worst = 0;
      for (let i = 0; i < values.length; i++)
        worst = Math.max(worst, Math.abs(got[i]! - values[i]!) / Math.max(1, Math.abs(values[i]!)));
      expect(worst).toBeLessThan(1e-3);
    });
    expect(Math.max(...cached.values[0]!)).toBeGreaterThan(0);
    // Another encoder spec is another cache entry.
    expect(emitting.cachedFeatures(keys, encoderKey({ ...MOBILENET_V2_SPEC, inputSize: 192 })).size).toBe(0);
    await encoder.release();
    emitting.close();
  });

  it('computes features at import from the source at 224², and a re-import finds them', async () => {
    const data = join(dir, 'csv');
    writeFile(join(data, 'a.jpg'), await jpegBytes(41, 300, 260));
    writeFile(join(data, 'b.jpg'), await jpegBytes(42, 200, 320));
    const csv = writeFile(
      join(data, 'qa.csv'),
      [
        'image,question,answer,answer_type,split',
        'a.jpg,Ok?,yes,closed,train',
        'b.jpg,Left?,no,closed,train',
      ].join('\n'),
    );
    const events: { type: string; phase: string; done: number; total: number }[] = [];
    const store = new SiteStore(join(dir, 'c.db'), { encoderDir, emit: (e) => events.push(e as never) });
    const summary = await store.importDataset({ format: 'csv', path: csv }, 'i');
    expect(summary.images.added).toBe(2);
    const phases = events.map((e) => e.phase).filter((p, i, all) => p !== all[i - 1]);
    expect(phases.slice(-2)).toEqual(['features', 'done']);
    expect(events.filter((e) => e.phase === 'features').at(-1)).toMatchObject({ done: 2, total: 2 });

    const keys = [...new Set(store.trainingData().records.map((r) => r.imageKey))];
    const rows = store.db.prepare('SELECT source FROM image_features').all() as { source: string }[];
    expect(rows.map((r) => r.source)).toEqual(['import', 'import']);
    // Taken from the source, not from the stored 128² pixels: the two differ.
    const atImport = store.cachedFeatures(keys, encoderKey(MOBILENET_V2_SPEC)).get(keys[0]!)!.values[1]!;
    const encoder = await ImageEncoder.open(
      readEncoderFile(encoderDir, MOBILENET_V2_SPEC),
      MOBILENET_V2_SPEC,
    );
    const fromStored = (await extractFeatures(encoder, [store.trainingData().images.get(keys[0]!)!]))[0]![1]!;
    expect(Math.max(...atImport.map((v, i) => Math.abs(v - fromStored[i]!)))).toBeGreaterThan(0.01);
    await encoder.release();

    expect(await store.fillFeatures({ spec: MOBILENET_V2_SPEC, encoderDir })).toMatchObject({
      computed: 0,
      cached: 2,
    });
    const again = await store.importDataset({ format: 'csv', path: csv });
    expect(again.images).toMatchObject({ added: 0, existing: 2 });
    expect(store.features.count(encoderKey(MOBILENET_V2_SPEC))).toBe(2);
    store.close();
  });

  it('keeps an import whose features cannot be computed, and says they will come later', async () => {
    const data = join(dir, 'csv2');
    writeFile(join(data, 'a.jpg'), await jpegBytes(43));
    const csv = writeFile(join(data, 'qa.csv'), 'image,question,answer\na.jpg,Ok?,yes\n');
    // A file where the encoder directory should be: the converted encoder cannot be written.
    const notADir = writeFile(join(dir, 'not-a-dir'), 'x');
    const store = new SiteStore(join(dir, 'd.db'), { encoderDir: notADir });
    const summary = await store.importDataset({ format: 'csv', path: csv });
    expect(summary.images.added).toBe(1);
    expect(summary.notes.at(-1)).toMatch(
      /^image features were not computed at import \(.*\); they will be computed from the stored images before training$/,
    );
    expect(store.features.count(encoderKey(MOBILENET_V2_SPEC))).toBe(0);
    store.close();
  });

  it('serves featuresFor through the store worker, with progress, and names unknown images', async () => {
    const service = await SiteDataService.open(join(dir, 'b.db'));
    await service.generateSynthRad({ ...SYNTH, n: 4 });
    const { records } = await service.loadTrainingData();
    const keys = [...new Set(records.map((r) => r.imageKey))];
    const progress: number[] = [];
    const features = await service.featuresFor(keys, MOBILENET_V2_SPEC, {
      encoderDir,
      onProgress: (done) => progress.push(done),
    });
    expect(features.computed).toBe(keys.length);
    expect(progress.at(-1)).toBe(keys.length);
    expect(features.byImage.size).toBe(keys.length);
    expect(features.byImage.get(keys[0]!)!.map((v) => v.length)).toEqual([7 * 7 * 1280, 14 * 14 * 96]);
    const cachedOnly = await service.featuresFor(keys.slice(0, 1), MOBILENET_V2_SPEC, {
      encoderDir,
      outputs: ['block_10_project_BN'],
    });
    expect(cachedOnly.computed).toBe(0);
    expect(cachedOnly.outputs).toEqual([{ name: 'block_10_project_BN', shape: [14, 14, 96] }]);
    expect(cachedOnly.byImage.get(keys[0]!)).toEqual([features.byImage.get(keys[0]!)![1]]);
    await expect(service.featuresFor(['00'.repeat(32)], MOBILENET_V2_SPEC, { encoderDir })).rejects.toThrow(
      /image 000000000000… is not in the site store/,
    );
    await service.close();
  });
});
