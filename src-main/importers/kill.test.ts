import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { SiteStore } from '../store/site-store.js';
import { runImport } from './run-import.js';
import { cleanupTempDirs, jpegBytes, tempDir, writeFile } from './testing/fixtures.js';

afterAll(cleanupTempDirs);

/** Every row of every table, schema and user_version, hashed: "the database as it was". */
function fingerprint(store: SiteStore): string {
  const hash = createHash('sha256');
  hash.update(String(store.db.pragma('user_version', { simple: true })));
  const tables = store.db
    .prepare("SELECT name, sql FROM sqlite_master WHERE type IN ('table', 'index', 'trigger') ORDER BY name")
    .all() as { name: string; sql: string | null }[];
  for (const { name, sql } of tables) {
    hash.update(`${name}\n${sql}\n`);
    if (!sql?.startsWith('CREATE TABLE')) continue;
    for (const row of store.db.prepare(`SELECT * FROM "${name}"`).all()) {
      hash.update(JSON.stringify(row, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v)));
    }
  }
  return hash.digest('hex');
}

async function dataset(images: number, seed: number): Promise<string> {
  const dir = tempDir();
  const rows = [];
  for (let i = 0; i < images; i++) {
    const name = `img${seed}-${i}.jpg`;
    writeFile(join(dir, 'images', name), await jpegBytes(seed * 1000 + i, 64, 48));
    rows.push({
      qid: i * 2,
      image_name: name,
      question: `Is ${i} visible?`,
      answer: 'yes',
      answer_type: 'CLOSED',
    });
    rows.push({
      qid: i * 2 + 1,
      image_name: name,
      question: `Where is ${i}?`,
      answer: 'left',
      answer_type: 'OPEN',
    });
  }
  writeFile(join(dir, 'trainset.json'), JSON.stringify(rows));
  return dir;
}

describe('an import killed mid-transaction', () => {
  it('leaves the database exactly as before (SIGKILL while the write transaction is open), and it opens fine', async () => {
    const dbPath = join(tempDir(), 'site.db');
    const before = new SiteStore(dbPath);
    await runImport(before.data, { format: 'vqa-rad', path: await dataset(5, 1) });
    const state = fingerprint(before);
    before.close();

    // 300 images × 16 KiB of pixels overflow the child's 256 KiB page cache: uncommitted pages reach the WAL.
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        resolve(import.meta.dirname, 'testing', 'kill-child.ts'),
        dbPath,
        await dataset(300, 2),
      ],
      { cwd: resolve(import.meta.dirname, '..', '..'), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((done) =>
      child.on('exit', (_code, signal) => done(signal)),
    );
    const seen: string[] = [];
    for await (const line of createInterface({ input: child.stdout })) {
      seen.push(line);
      if (line === 'PARKED' || line === 'COMMITTED') break;
    }
    expect(seen.at(-1), stderr).toBe('PARKED');
    expect(seen.some((l) => l.includes('"phase":"decode","done":300'))).toBe(true);
    const wal = `${dbPath}-wal`;
    expect(existsSync(wal) && statSync(wal).size > 2 ** 20, 'uncommitted pages in the WAL').toBe(true);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const after = new SiteStore(dbPath);
    expect(after.db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(fingerprint(after)).toBe(state);
    expect(after.data.counts()).toMatchObject({ images: 5, questions: 10 });
    // And the same import, run to the end, now succeeds.
    const summary = await runImport(after.data, { format: 'vqa-rad', path: await dataset(300, 2) });
    expect(summary.questions.added).toBe(600);
    after.close();
  });
});
