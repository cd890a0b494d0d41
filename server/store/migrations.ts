import { createSettingsTable } from '../../core/store/settings.node.js';
import type { Migration } from '../../core/store/sqlite.node.js';

/** The coordinator database's schema, append-only (never edit a shipped migration; add the next one). */
export const coordinatorMigrations: readonly Migration[] = [
  {
    version: 1,
    description: 'settings, sites, enrollment tokens, audit log',
    up(db) {
      createSettingsTable(db);
      db.exec(`
        CREATE TABLE sites (
          id TEXT PRIMARY KEY,
          name TEXT NOT NULL,
          identity_public_key TEXT NOT NULL UNIQUE,
          enrolled_at TEXT NOT NULL,
          revoked_at TEXT
        ) STRICT;
        CREATE UNIQUE INDEX sites_active_name ON sites (name) WHERE revoked_at IS NULL;

        -- Tokens are stored as SHA-256 hashes: a copy of this database cannot enroll anyone.
        CREATE TABLE enrollment_tokens (
          token_hash TEXT PRIMARY KEY,
          site_name TEXT NOT NULL,
          created_at TEXT NOT NULL,
          expires_at TEXT NOT NULL,
          used_at TEXT,
          site_id TEXT REFERENCES sites (id)
        ) STRICT;

        CREATE TABLE audit_log (
          id INTEGER PRIMARY KEY,
          at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
          kind TEXT NOT NULL,
          site_id TEXT,
          detail TEXT NOT NULL DEFAULT '{}'
        ) STRICT;
      `);
    },
  },
];
