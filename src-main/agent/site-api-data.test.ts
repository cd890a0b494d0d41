import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImportJob, SiteEvent } from '../../core/site-api/contract.js';
import { SiteAgent } from './site-agent.js';
import { handleSiteApiCall } from './site-api-handlers.js';

/** The SiteApi's data channels as every transport reaches them: through the one validating entry point. */
describe('SiteApi data channels', () => {
  let dir: string;
  let agent: SiteAgent;
  const jobEvents: ImportJob[] = [];
  const call = async (channel: string, input?: unknown) => handleSiteApiCall(agent, channel, input);
  const ok = async <T>(channel: string, input?: unknown): Promise<T> => {
    const result = await call(channel, input);
    if (!result.ok) throw new Error(`${channel}: ${result.error.message}`);
    return result.value as T;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cohort-site-api-'));
    agent = await SiteAgent.open({ dataDir: join(dir, 'site') });
    agent.on('event', (event: SiteEvent) => {
      if (event.type === 'import') jobEvents.push(event.job);
    });
  });
  afterAll(async () => {
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('generates SynthRad data with progress events, then counts, browses and shows it', async () => {
    const presets = await ok<{ name: string }[]>('data.synthPresets');
    expect(presets.map((p) => p.name)).toContain('chest-clinic');

    const summary = await ok<{ questions: { added: number }; nothingNew: boolean }>('data.synth', {
      jobId: 'synth-1',
      preset: 'chest-clinic',
      n: 40,
      seed: 7,
    });
    expect(summary.questions.added).toBe(40);
    const mine = jobEvents.filter((job) => job.jobId === 'synth-1');
    expect(mine[0]!.state).toBe('queued');
    expect(mine.some((job) => job.state === 'running' && job.progress !== null)).toBe(true);
    expect(mine.at(-1)).toMatchObject({
      state: 'completed',
      format: 'synthrad',
      message: expect.any(String),
    });
    expect(await ok('data.jobs')).toEqual([]);

    const counts = await ok<{ questions: number; questionsBySplit: { train: number; val: number } }>(
      'data.counts',
    );
    expect(counts.questions).toBe(40);
    expect(counts.questionsBySplit.train + counts.questionsBySplit.val).toBe(40);

    const page = await ok<{ total: number; rows: { imageId: number }[]; thumbnails: Record<string, string> }>(
      'data.records',
      { limit: 5, split: 'train' },
    );
    expect(page.rows).toHaveLength(5);
    for (const row of page.rows)
      expect(page.thumbnails[String(row.imageId)]).toMatch(/^data:image\/jpeg;base64,/);
    const bare = await ok<{ thumbnails: object }>('data.records', { limit: 5, thumbnails: false });
    expect(bare.thumbnails).toEqual({});

    const images = await ok<{ rows: { id: number }[]; thumbnails: Record<string, string> }>('data.images', {
      limit: 3,
    });
    expect(Object.keys(images.thumbnails)).toEqual(images.rows.map((row) => String(row.id)));

    const detail = await ok<{ modelInput: string; questions: { imageId: number }[] }>('data.image', {
      imageId: page.rows[0]!.imageId,
    });
    expect(detail.modelInput).toMatch(/^data:image\/png;base64,/);
    expect(detail.questions.every((q) => q.imageId === page.rows[0]!.imageId)).toBe(true);

    const again = await ok<{ nothingNew: boolean }>('data.synth', {
      jobId: 'synth-2',
      preset: 'chest-clinic',
      n: 40,
      seed: 7,
    });
    expect(again.nothingNew).toBe(true);
    const history = await ok<{ format: string; status: string }[]>('data.imports', { limit: 10 });
    expect(history.map((h) => h.status)).toEqual(['completed', 'completed']);
  });

  it('explains a bad path, records the failed import, and validates every input', async () => {
    const missing = join(dir, 'no-such-dataset');
    const failed = await call('data.import', { jobId: 'bad-path', format: 'vqa-rad', path: missing });
    expect(failed).toMatchObject({
      ok: false,
      error: { message: expect.stringContaining('does not exist') },
    });
    expect(jobEvents.filter((job) => job.jobId === 'bad-path').at(-1)).toMatchObject({
      state: 'failed',
      message: expect.stringContaining('does not exist'),
    });
    const relative = await call('data.import', { jobId: 'rel', format: 'csv', path: 'data/q.csv' });
    expect(relative).toMatchObject({ ok: false, error: { message: expect.stringContaining('full path') } });
    const notCsv = await call('data.import', { jobId: 'not-csv', format: 'csv', path: dir });
    expect(notCsv).toMatchObject({ ok: false });
    const history = await ok<{ status: string; failure: string | null }[]>('data.imports', {});
    expect(history[0]).toMatchObject({ status: 'failed', failure: expect.any(String) });

    for (const [channel, input] of [
      ['data.import', { jobId: 'x', format: 'xml', path: '/tmp' }],
      ['data.import', { format: 'csv', path: '/tmp/a.csv' }],
      ['data.synth', { jobId: 'bad id!', preset: 'general', n: 5 }],
      ['data.records', { limit: 100_000 }],
      ['data.records', { surprise: true }],
      ['data.image', { imageId: 'one' }],
    ] as const) {
      const result = await call(channel, input);
      expect(result, `${channel} ${JSON.stringify(input)}`).toMatchObject({
        ok: false,
        error: { code: 'invalid_input' },
      });
    }
    expect(await call('data.image', { imageId: 999_999 })).toMatchObject({
      ok: false,
      error: { message: expect.stringContaining('no image 999999') },
    });
  });

  it('cancels a queued generation: nothing is stored and the job says so', async () => {
    const before = await ok<{ questions: number }>('data.counts');
    const big = call('data.synth', { jobId: 'big', preset: 'general', n: 400, seed: 1 });
    const queued = call('data.synth', { jobId: 'queued', preset: 'general', n: 400, seed: 2 });
    expect((await ok<ImportJob[]>('data.jobs')).map((job) => job.jobId)).toEqual(['big', 'queued']);
    expect(await ok('data.cancelImport', { jobId: 'queued' })).toEqual({ cancelled: true });
    expect((await big).ok).toBe(true);
    expect(await queued).toMatchObject({ ok: false });
    expect(jobEvents.filter((job) => job.jobId === 'queued').at(-1)?.state).toBe('cancelled');
    expect(await ok('data.cancelImport', { jobId: 'queued' })).toEqual({ cancelled: false });
    const after = await ok<{ questions: number }>('data.counts');
    expect(after.questions).toBe(before.questions + 400);
  });
});
