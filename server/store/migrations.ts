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
  {
    version: 2,
    description: 'federations, model versions (the registry), rounds and their stage state',
    up(db) {
      db.exec(`
        CREATE TABLE federations (
          id TEXT PRIMARY KEY,
          name TEXT NOT NULL,
          config TEXT NOT NULL,
          config_hash TEXT NOT NULL,
          created_at TEXT NOT NULL
        ) STRICT;

        -- Each global version: the shared tensors (float32 LE), their hash, the signature, its parent.
        -- A version row and the round row that produced it are written in one transaction.
        CREATE TABLE model_versions (
          federation_id TEXT NOT NULL REFERENCES federations (id),
          version INTEGER NOT NULL,
          hash TEXT NOT NULL,
          parent_hash TEXT,
          round INTEGER,
          shared BLOB NOT NULL,
          optimizer_state BLOB,
          signature TEXT NOT NULL,
          created_at TEXT NOT NULL,
          PRIMARY KEY (federation_id, version)
        ) STRICT;

        CREATE TABLE rounds (
          federation_id TEXT NOT NULL REFERENCES federations (id),
          round INTEGER NOT NULL,
          state TEXT NOT NULL,
          base_version INTEGER NOT NULL,
          started_at TEXT NOT NULL,
          finished_at TEXT,
          participants TEXT NOT NULL DEFAULT '[]',
          included TEXT NOT NULL DEFAULT '[]',
          dropped TEXT NOT NULL DEFAULT '[]',
          metrics TEXT,
          timings TEXT,
          error TEXT,
          PRIMARY KEY (federation_id, round)
        ) STRICT;
      `);
    },
  },
  {
    version: 3,
    description: 'invitations can be cancelled; the roster as numbered changes',
    up(db) {
      db.exec(`
        ALTER TABLE enrollment_tokens ADD COLUMN cancelled_at TEXT;

        -- Each enrollment and revocation, numbered: the roster version a site holds is a version here.
        CREATE TABLE roster_changes (
          version INTEGER PRIMARY KEY,
          site_id TEXT NOT NULL REFERENCES sites (id),
          change TEXT NOT NULL CHECK (change IN ('added', 'removed'))
        ) STRICT;
        INSERT INTO roster_changes (site_id, change)
          SELECT id, change FROM (
            SELECT id, 'added' AS change, enrolled_at AS at FROM sites
            UNION ALL SELECT id, 'removed', revoked_at FROM sites WHERE revoked_at IS NOT NULL
          ) ORDER BY at, change, id;
      `);
    },
  },
];
