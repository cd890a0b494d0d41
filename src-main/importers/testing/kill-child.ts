// Test-only child process for the real-kill test (src-main/importers/kill.test.ts). It runs an import
// with the production code path (prepare, then SiteData.commitImport's one transaction) and, once three
// quarters of the rows are written inside the still-open transaction, reports it on stdout and blocks
// forever, so the test can SIGKILL it at a known point instead of guessing with a sleep.
import { writeSync } from 'node:fs';
import { SiteStore } from '../../store/site-store.js';
import { prepareImport, splitOptions } from '../run-import.js';
import type { ImportProgress, ImportRequest } from '../types.js';

const [dbPath, datasetDir] = process.argv.slice(2);
const say = (line: string) => writeSync(1, `${line}\n`);
const store = new SiteStore(dbPath!);
// A small page cache (better-sqlite3's default is 16 MiB) makes SQLite spill the open transaction's pages
// into the WAL before commit, so the kill leaves uncommitted frames behind that recovery must ignore.
store.db.pragma('cache_size = -256');
const request: ImportRequest = { format: 'vqa-rad', path: datasetDir! };
const split = splitOptions(request);
const prepared = await prepareImport(store.data, request, split, {
  onProgress: (p) => say(JSON.stringify(p)),
});
store.data.commitImport(prepared, { startedAt: new Date().toISOString(), ...split }, (p: ImportProgress) => {
  say(JSON.stringify(p));
  if (p.phase === 'write' && p.done >= p.total * 0.75) {
    say('PARKED');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  }
});
say('COMMITTED');
