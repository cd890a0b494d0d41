import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SiteStore } from './site-store.js';
import { openSiteStoreWorker } from './open-store.js';

const tempDb = () => join(mkdtempSync(join(tmpdir(), 'cohort-site-')), 'site.db');

describe('SiteStore', () => {
  it('round-trips settings and restricts the file to its owner', () => {
    const path = tempDb();
    const store = new SiteStore(path);
    store.setSetting('coordinator', { url: 'https://127.0.0.1:1', fingerprint: 'ab' });
    store.setSetting('coordinator', { url: 'https://127.0.0.1:2', fingerprint: 'cd' });
    expect(store.getSetting('coordinator')).toEqual({ url: 'https://127.0.0.1:2', fingerprint: 'cd' });
    expect(store.getSetting('missing')).toBeUndefined();
    store.close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('refuses a database written by a newer version', () => {
    const path = tempDb();
    new SiteStore(path).close();
    const raw = new Database(path);
    raw.pragma('user_version = 999');
    raw.close();
    expect(() => new SiteStore(path)).toThrow(/schema version 999.*newer version/);
  });

  it('runs in a worker thread behind an async proxy', async () => {
    const handle = await openSiteStoreWorker(tempDb());
    await handle.remote.setSetting('k', [1, 2, 3]);
    expect(await handle.remote.getSetting('k')).toEqual([1, 2, 3]);
    await handle.close();
  });
});
