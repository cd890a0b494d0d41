import type { Migration } from '../../core/store/sqlite.node.js';

/**
 * The site database's schema, one append-only step at a time. Never edit a migration that has shipped;
 * add the next one. Each runs in one transaction together with its `user_version` bump.
 */
export const siteMigrations: readonly Migration[] = [
  {
    version: 1,
    description: 'settings',
    up(db) {
      db.exec(`
        CREATE TABLE settings (
          key TEXT PRIMARY KEY,
          value TEXT NOT NULL,
          updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        ) STRICT;
      `);
    },
  },
];
