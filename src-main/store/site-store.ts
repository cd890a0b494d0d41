import { chmodSync, existsSync } from 'node:fs';
import { readSetting, writeSetting } from '../../core/store/settings.node.js';
import { openDatabase, type SqliteDatabase } from '../../core/store/sqlite.node.js';
import { siteMigrations } from './migrations.js';

/**
 * The site's local SQLite store. Synchronous (better-sqlite3): it runs inside the store worker
 * (`store-worker.ts`), never on the event loop that serves the UI; tests may use it directly.
 */
export class SiteStore {
  readonly db: SqliteDatabase;

  constructor(readonly path: string) {
    const isNew = !existsSync(path);
    this.db = openDatabase(path, siteMigrations);
    // Records and keys live here: only the site's own user may read the file.
    if (isNew) chmodSync(path, 0o600);
  }

  getSetting<T>(key: string): T | undefined {
    return readSetting<T>(this.db, key);
  }

  setSetting(key: string, value: unknown): void {
    writeSetting(this.db, key, value);
  }

  close(): void {
    this.db.close();
  }
}
