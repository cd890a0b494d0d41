import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../core/store/sqlite.node.js';
import { runImport } from '../importers/run-import.js';
import { cleanupTempDirs, jpegBytes, tempDir, writeFile } from '../importers/testing/fixtures.js';
import { siteMigrations } from './migrations.js';
import { SiteStore } from './site-store.js';

afterAll(cleanupTempDirs);

async function smallDataset(organs: string[], perImage = 2): Promise<string> {
  const dir = tempDir();
  const rows = [];
  let qid = 0;
  for (const [i, organ] of organs.entries()) {
    const name = `img${i}.jpg`;
    writeFile(join(dir, 'images', name), await jpegBytes(500 + i));
    for (let k = 0; k < perImage; k++) {
      rows.push({
        qid: qid++,
        image_name: name,
        question: k % 2 ? `What 100%_sure thing is in ${i}?` : `Is ${i} normal?`,
        answer: k % 2 ? 'left' : 'yes',
        answer_type: k % 2 ? 'OPEN' : 'CLOSED',
        ...(organ ? { image_organ: organ } : {}),
      });
    }
  }
  writeFile(join(dir, 'trainset.json'), JSON.stringify(rows));
  return dir;
}

describe('site data schema (migration 2)', () => {
  it('keeps the database, its WAL and shared-memory file owner-only', async () => {
    const path = join(tempDir(), 'site.db');
    const store = new SiteStore(path);
    await runImport(store.data, { format: 'vqa-rad', path: await smallDataset(['HEAD']) });
    for (const file of [path, `${path}-wal`, `${path}-shm`])
      expect(statSync(file).mode & 0o777, file).toBe(0o600);
    store.close();
  });

  it('upgrades a version-1 database in place, keeping its settings', () => {
    const path = join(tempDir(), 'site.db');
    const old = openDatabase(path, siteMigrations.slice(0, 1));
    old.prepare('INSERT INTO settings (key, value) VALUES (\'enrollment\', \'{"siteId":"s1"}\')').run();
    old.close();
    const store = new SiteStore(path);
    expect(store.db.pragma('user_version', { simple: true })).toBe(siteMigrations.length);
    expect(store.getSetting('enrollment')).toEqual({ siteId: 's1' });
    const tables = store.db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table'").all() as {
      name: string;
      sql: string;
    }[];
    for (const name of ['imports', 'import_errors', 'images', 'questions']) {
      expect(tables.find((t) => t.name === name)?.sql).toMatch(/\)\s*STRICT/);
    }
    store.close();
  });

  it("keeps a question's split equal to its image's split, and moves questions with their image", async () => {
    const store = new SiteStore(join(tempDir(), 'site.db'));
    await runImport(store.data, { format: 'vqa-rad', path: await smallDataset(['HEAD']) });
    const image = store.db.prepare('SELECT id, split FROM images').get() as { id: number; split: string };
    const other = image.split === 'train' ? 'val' : 'train';
    expect(() =>
      store.db
        .prepare(
          "INSERT INTO questions (image_id, source_key, question, answer, answer_type, split, import_id) VALUES (?, 'x', 'q', 'a', 'open', ?, 1)",
        )
        .run(image.id, other),
    ).toThrow(/split must equal its image's split/);
    expect(() => store.db.prepare('UPDATE questions SET split = ?').run(other)).toThrow(/split must equal/);
    store.db.prepare('UPDATE images SET split = ? WHERE id = ?').run(other, image.id);
    expect(store.data.listRecords().rows.map((r) => r.split)).toEqual([other, other]);
    // STRICT tables refuse values of the wrong type instead of storing them.
    expect(() => store.db.prepare("UPDATE images SET size = 'big'").run()).toThrow(
      /cannot store TEXT value in INTEGER/,
    );
    store.close();
  });

  it('answers the browsing queries from indexes', () => {
    const store = new SiteStore(join(tempDir(), 'site.db'));
    const plan = (sql: string) =>
      (store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[])
        .map((r) => r.detail)
        .join('; ');
    expect(plan("SELECT id FROM questions WHERE split = 'val' AND answer_type = 'open'")).toMatch(
      /questions_split_type/,
    );
    expect(plan("SELECT id FROM images WHERE organ = 'HEAD'")).toMatch(/images_organ/);
    expect(plan('SELECT id FROM questions WHERE image_id = 1')).toMatch(/USING (COVERING )?INDEX/);
    expect(plan("SELECT id FROM images WHERE content_hash = x'00'")).toMatch(/USING (COVERING )?INDEX/);
    store.close();
  });
});

describe('browsing and counting', () => {
  it('filters by split, answer type, organ (also "not recorded"), searches literally, pages', async () => {
    const store = new SiteStore(join(tempDir(), 'site.db'));
    await runImport(store.data, {
      format: 'vqa-rad',
      path: await smallDataset(['HEAD', 'CHEST', 'CHEST', '']),
    });
    const all = store.data.listRecords({ limit: 500 });
    expect(all.total).toBe(8);
    expect(store.data.listRecords({ organ: 'CHEST' }).total).toBe(4);
    expect(store.data.listRecords({ organ: null }).rows.map((r) => r.organ)).toEqual([null, null]);
    expect(store.data.listRecords({ answerType: 'open' }).rows.every((r) => r.answerType === 'open')).toBe(
      true,
    );
    // % and _ are literal characters in a search, not wildcards.
    expect(store.data.listRecords({ search: '100%_sure' }).total).toBe(4);
    expect(store.data.listRecords({ search: '100%%' }).total).toBe(0);
    const page1 = store.data.listRecords({ limit: 3 });
    const page2 = store.data.listRecords({ limit: 3, offset: 3 });
    expect(page1.rows.map((r) => r.id)).toEqual([1, 2, 3]);
    expect(page2.rows.map((r) => r.id)).toEqual([4, 5, 6]);
    expect(store.data.listRecords({ limit: 10_000 }).rows).toHaveLength(8);
    const counts = store.data.counts();
    expect(counts).toMatchObject({
      images: 4,
      questions: 8,
      questionsByAnswerType: { closed: 4, open: 4 },
      imports: 1,
    });
    expect(counts.questionsBySplit.train + counts.questionsBySplit.val).toBe(8);
    expect(counts.byOrgan).toEqual([
      { organ: 'CHEST', images: 2, questions: 4 },
      { organ: null, images: 1, questions: 2 },
      { organ: 'HEAD', images: 1, questions: 2 },
    ]);
    const images = store.data.listImages({ organ: 'CHEST' });
    expect(images.rows.map((r) => [r.sourceName, r.questions, r.sourceFormat])).toEqual([
      ['img1.jpg', 2, 'jpeg'],
      ['img2.jpg', 2, 'jpeg'],
    ]);
    expect(store.data.thumbnail(images.rows[0]!.id)!.type).toBe('image/jpeg');
    store.close();
  });

  it('a cancelled import stores nothing but its history entry', async () => {
    const store = new SiteStore(join(tempDir(), 'site.db'));
    const controller = new AbortController();
    await expect(
      runImport(
        store.data,
        { format: 'vqa-rad', path: await smallDataset(['HEAD', 'HEAD', 'HEAD', 'HEAD', 'HEAD', 'HEAD']) },
        {
          signal: controller.signal,
          onProgress: (p) => p.phase === 'decode' && p.done === 1 && controller.abort(),
        },
      ),
    ).rejects.toThrow(/import cancelled; nothing was stored/);
    expect(store.data.counts()).toMatchObject({ images: 0, questions: 0 });
    expect(store.data.imports()).toMatchObject([
      { status: 'cancelled', failure: 'import cancelled; nothing was stored' },
    ]);
    store.close();
  });
});
