import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dataCountsSchema,
  imagePageSchema,
  importRecordSchema,
  importSummarySchema,
  recordPageSchema,
} from '../../core/data/site-data-api.js';
import { splitForImage } from '../../core/data/split.js';
import { DEFAULT_SPLIT } from '../../core/data/vqa-rad.node.js';
import { SiteDataService } from '../data/site-data-service.js';
import type { ImportProgress } from './types.js';
import { cleanupTempDirs, tempDir } from './testing/fixtures.js';

// The real dataset lives beside the repository, never in it (see its README).
const DATASET = resolve(import.meta.dirname, '..', '..', '..', 'shared', 'datasets', 'vqa-rad');
const present = existsSync(join(DATASET, 'trainset.json'));
if (!present) console.warn(`skipping VQA-RAD import tests: ${DATASET} not found`);

afterAll(cleanupTempDirs);

describe.skipIf(!present)('VQA-RAD import (real data, through the store worker)', () => {
  let service: Awaited<ReturnType<typeof SiteDataService.open>>;
  const progress: ImportProgress[] = [];
  let first: Awaited<ReturnType<SiteDataService['importDataset']>>;

  beforeAll(async () => {
    service = await SiteDataService.open(join(tempDir(), 'site.db'));
    first = await service.importDataset({ format: 'vqa-rad', path: DATASET }, (p) => progress.push(p));
  });
  afterAll(() => service?.close());

  it('yields exactly 3,064 questions and 315 images', async () => {
    expect(first.images).toEqual({ added: 315, existing: 0, failed: 0 });
    expect(first.questions).toEqual({ added: 3064, existing: 0, failed: 0, skipped: 0 });
    expect(first.errorCount).toBe(0);
    const counts = await service.counts();
    expect(counts).toMatchObject({
      images: 315,
      questions: 3064,
      questionsByAnswerType: { closed: 1823, open: 1241 },
    });
    const byOrgan = Object.fromEntries(counts.byOrgan.map((o) => [o.organ, o.questions]));
    expect(byOrgan).toEqual({ HEAD: 977, CHEST: 1088, ABD: 999, null: 0 });
  });

  it('reports progress through read, decode and write, in that order', () => {
    const phases = progress.map((p) => p.phase).filter((p, i, all) => p !== all[i - 1]);
    expect(phases).toEqual(['read', 'decode', 'write', 'done']);
    const decode = progress.filter((p) => p.phase === 'decode');
    expect(decode.at(-1)).toEqual({ phase: 'decode', done: 315, total: 315 });
    expect(progress.filter((p) => p.phase === 'write').at(-1)).toEqual({
      phase: 'write',
      done: 3379,
      total: 3379,
    });
  });

  it('adds nothing when imported again, and says so', async () => {
    const again = await service.importDataset({ format: 'vqa-rad', path: DATASET });
    expect(again).toMatchObject({
      nothingNew: true,
      images: { added: 0, existing: 315 },
      questions: { added: 0, existing: 3064 },
    });
    expect(again.message).toBe('nothing new: all 315 images and 3,064 questions were already in the store');
    expect((await service.counts()).questions).toBe(3064);
    const history = await service.imports();
    expect(history.map((h) => [h.status, h.questions.added])).toEqual([
      ['completed', 0],
      ['completed', 3064],
    ]);
  });

  it('stores the seeded by-image split: same as splitForImage on the file name, no image straddles', async () => {
    const { rows } = await service.listImages({ limit: 500 });
    expect(rows).toHaveLength(315);
    for (const image of rows) {
      expect(image.split).toBe(
        splitForImage(image.sourceName!, DEFAULT_SPLIT.seed, DEFAULT_SPLIT.validationFraction),
      );
    }
    const data = await service.loadTrainingData();
    const splitsByImage = new Map<string, Set<string>>();
    for (const r of data.records)
      splitsByImage.set(r.imageKey, (splitsByImage.get(r.imageKey) ?? new Set()).add(r.split));
    expect([...splitsByImage.values()].every((s) => s.size === 1)).toBe(true);
    expect(first.split).toMatchObject({ seed: 42, validationFraction: 0.2 });
    expect(first.split.train + first.split.val).toBe(3064);
    expect(first.split.val / 3064).toBeGreaterThan(0.1);
    expect(first.split.val / 3064).toBeLessThan(0.3);
  });

  it('gives the trainer records and 128×128 images, filtered by split', async () => {
    const train = await service.loadTrainingData({ split: 'train' });
    const val = await service.loadTrainingData({ split: 'val' });
    expect(train.records.length + val.records.length).toBe(3064);
    expect(train.records.length).toBe(first.split.train);
    for (const r of val.records) expect(val.images.get(r.imageKey)!.pixels).toHaveLength(128 * 128);
    expect(val.records[0]).toMatchObject({
      split: 'val',
      answerType: expect.stringMatching(/^(closed|open)$/),
    });
  });

  it('browses: filters, search, paging, thumbnails', async () => {
    const page = await service.listRecords({ organ: 'HEAD', answerType: 'closed', limit: 10 });
    expect(page.rows).toHaveLength(10);
    expect(page.total).toBeGreaterThan(100);
    expect(page.rows.every((r) => r.organ === 'HEAD' && r.answerType === 'closed')).toBe(true);
    const search = await service.listRecords({ search: 'INFARCT', limit: 500 });
    expect(search.total).toBeGreaterThan(0);
    expect(search.rows.every((r) => /infarct/i.test(`${r.question} ${r.answer}`))).toBe(true);
    const next = await service.listRecords({ organ: 'HEAD', answerType: 'closed', limit: 10, offset: 10 });
    expect(next.rows[0]!.id).toBeGreaterThan(page.rows[9]!.id);
    const url = await service.thumbnailDataUrl(page.rows[0]!.imageId);
    expect(url).toMatch(/^data:image\/jpeg;base64,\/9j\//);
    const png = await service.modelInputPng(page.rows[0]!.imageId);
    expect([...png!.subarray(1, 4)]).toEqual([0x50, 0x4e, 0x47]);
    expect(await service.thumbnail(999_999)).toBeUndefined();
  });

  it('imports one organ for a per-organ site', async () => {
    const site = await SiteDataService.open(join(tempDir(), 'site.db'));
    try {
      const head = await site.importDataset({
        format: 'vqa-rad',
        path: DATASET,
        options: { organs: ['head'] },
      });
      expect(head.questions).toMatchObject({ added: 977, skipped: 2087 });
      expect(head.images.added).toBe(103);
    } finally {
      await site.close();
    }
  });

  it('answers in the shapes the SiteApi contract declares', async () => {
    // strict parses: an extra or missing field in what the store returns would fail here
    expect(() => importSummarySchema.strict().parse(first)).not.toThrow();
    expect(() => recordPageSchema.parse(service.listRecords({ limit: 5 }))).toThrow(); // a promise is not a page
    recordPageSchema.parse(await service.listRecords({ limit: 5 }));
    imagePageSchema.parse(await service.listImages({ limit: 5 }));
    dataCountsSchema.strict().parse(await service.counts());
    for (const entry of await service.imports()) importRecordSchema.strict().parse(entry);
  });
});
