import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSynthRad } from '../../core/data/synthrad.js';
import { SiteStore } from '../store/site-store.js';
import { cleanupTempDirs, tempDir } from './testing/fixtures.js';

afterAll(cleanupTempDirs);

describe('SynthRad-VQA through the store', () => {
  it('gives the trainer the same records, splits and pixels as the generator itself', async () => {
    const store = new SiteStore(join(tempDir(), 'site.db'));
    const params = { preset: 'neuro-center', n: 60, seed: 9 };
    const summary = await store.importSynthRad(params);
    expect(summary.questions.added).toBe(60);
    const direct = generateSynthRad(params);
    const stored = store.trainingData();
    const key = (r: {
      question: string;
      answer: string;
      split: string;
      answerType: string;
      organ?: string;
    }) => JSON.stringify([r.question, r.answer, r.split, r.answerType, r.organ]);
    expect(stored.records.map(key).sort()).toEqual(direct.records.map(key).sort());
    const directPixels = new Set(
      [...direct.images.values()].map((i) => Buffer.from(i.pixels).toString('base64')),
    );
    for (const image of stored.images.values()) {
      expect(directPixels.has(Buffer.from(image.pixels).toString('base64'))).toBe(true);
    }
    expect((await store.importSynthRad(params)).nothingNew).toBe(true);
    store.close();
  });
});
