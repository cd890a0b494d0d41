import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';

export type SqliteDatabase = Database.Database;

/** One schema step. Migrations are append-only: never edit or reorder a released one, add a new one. */
export interface Migration {
  version: number;
  description: string;
  up: (db: SqliteDatabase) => void;
}

export class DatabaseFromTheFutureError extends Error {
  constructor(path: string, found: number, known: number) {
    super(
      `${path} has schema version ${found}, but this build of Cohort only knows up to ${known}; ` +
        'it was written by a newer version. Upgrade Cohort rather than opening it with this one.',
    );
    this.name = 'DatabaseFromTheFutureError';
  }
}

/**
 * Opens (creating if needed) a SQLite database with the project's pragmas and brings its schema up to
 * date: each pending migration and the `user_version` bump run in one transaction, so a crash mid-upgrade
 * leaves the previous version intact.
 */
export function openDatabase(
  path: string,
  migrations: readonly Migration[],
  options: { readonly?: boolean } = {},
): SqliteDatabase {
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) throw new Error(`migration ${index} must have version ${index + 1}`);
  });
  if (!options.readonly) restrictToOwner(path);
  const db = new Database(path, {
    readonly: options.readonly ?? false,
    fileMustExist: options.readonly ?? false,
  });
  try {
    if (!options.readonly) db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > migrations.length) throw new DatabaseFromTheFutureError(path, current, migrations.length);
    if (!options.readonly) {
      for (const migration of migrations.slice(current)) {
        db.transaction(() => {
          migration.up(db);
          db.pragma(`user_version = ${migration.version}`);
        })();
      }
    }
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * Both stores hold secrets or records, so only their owner may read them. The file is created owner-only
 * before SQLite opens it, because SQLite gives the -wal and -shm files (which hold recent pages too) the
 * database file's mode when it creates them; files from older builds are tightened here.
 */
function restrictToOwner(path: string): void {
  if (path === ':memory:') return;
  if (!existsSync(path)) closeSync(openSync(path, 'wx', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, 0o600);
}
