import { chmodSync, existsSync } from 'node:fs';
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
    const row = this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as
      { value: string } | undefined;
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  setSetting(key: string, value: unknown): void {
    this.db
      .prepare(
        `INSERT INTO settings (key, value) VALUES (?, ?)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`,
      )
      .run(key, JSON.stringify(value));
  }

  close(): void {
    this.db.close();
  }
}
