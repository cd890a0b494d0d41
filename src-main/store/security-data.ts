import type { SqliteDatabase } from '../../core/store/sqlite.node.js';

/**
 * Migration 4: what protects this site from its own coordinator. The security policy its operator set,
 * the federation configuration the operator approved (by hash: later versions and rounds must carry the
 * same one) or the hash approved ahead of the offer, a configuration offered and waiting for approval, every decline with its reason, and the
 * model versions this site has already sent a contribution for (each at most once: see
 * src-main/federation/SECURITY.md, "Counters cannot be differenced").
 */
export function createSecurityTables(db: SqliteDatabase): void {
  db.exec(`
    CREATE TABLE security_policy (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      policy TEXT NOT NULL,
      updated_at TEXT NOT NULL
    ) STRICT;

    CREATE TABLE pinned_configs (
      federation_id TEXT PRIMARY KEY,
      config_hash TEXT NOT NULL,
      config TEXT NOT NULL,
      approved_at TEXT NOT NULL,
      approved_by TEXT NOT NULL CHECK (approved_by IN ('operator', 'auto-accept'))
    ) STRICT;

    -- A hash the operator approved before the coordinator offered its configuration (the consortium
    -- circulated it out of band): the first offer with exactly this hash is pinned.
    CREATE TABLE preapproved_configs (
      federation_id TEXT PRIMARY KEY,
      config_hash TEXT NOT NULL,
      approved_at TEXT NOT NULL
    ) STRICT;

    CREATE TABLE pending_configs (
      federation_id TEXT PRIMARY KEY,
      config_hash TEXT NOT NULL,
      config TEXT NOT NULL,
      received_at TEXT NOT NULL
    ) STRICT;

    CREATE TABLE declines (
      id INTEGER PRIMARY KEY,
      at TEXT NOT NULL,
      federation_id TEXT NOT NULL,
      round INTEGER,
      version INTEGER,
      reason TEXT NOT NULL
    ) STRICT;

    -- What this site let the coordinator sum from one version: the first set of sites it answered an
    -- unmasking request for (or, in a locally allowed insecure round, that round). SECURITY.md.
    CREATE TABLE contributed_versions (
      federation_id TEXT NOT NULL,
      model_hash TEXT NOT NULL,
      round INTEGER NOT NULL,
      summed_with TEXT NOT NULL,
      at TEXT NOT NULL,
      PRIMARY KEY (federation_id, model_hash)
    ) STRICT;
  `);
}

export interface ConfigRow {
  federationId: string;
  configHash: string;
  /** The configuration (JSON). */
  config: string;
}

export interface PinnedConfigRow extends ConfigRow {
  approvedAt: string;
  approvedBy: 'operator' | 'auto-accept';
}

export interface PreapprovedConfigRow {
  federationId: string;
  configHash: string;
  approvedAt: string;
}

export interface PendingConfigRow extends ConfigRow {
  receivedAt: string;
}

export interface DeclineRow {
  at: string;
  federationId: string;
  round: number | null;
  version: number | null;
  reason: string;
}

/** Declines kept: the newest ones are what an operator reads; older ones are in the round history. */
const DECLINES_KEPT = 500;

export class SecurityData {
  constructor(private readonly db: SqliteDatabase) {}

  /** The stored policy (JSON, validated by the caller), or undefined before the operator set one. */
  policy(): unknown {
    const row = this.db.prepare('SELECT policy FROM security_policy WHERE id = 1').get() as
      { policy: string } | undefined;
    return row ? (JSON.parse(row.policy) as unknown) : undefined;
  }

  setPolicy(policy: unknown, now: string): void {
    this.db
      .prepare(
        `INSERT INTO security_policy (id, policy, updated_at) VALUES (1, ?, ?)
         ON CONFLICT(id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at`,
      )
      .run(JSON.stringify(policy), now);
  }

  pinned(federationId?: string): PinnedConfigRow[] {
    return this.db
      .prepare(
        `SELECT federation_id AS federationId, config_hash AS configHash, config, approved_at AS approvedAt,
                approved_by AS approvedBy
         FROM pinned_configs WHERE ? IS NULL OR federation_id = ? ORDER BY federation_id`,
      )
      .all(federationId ?? null, federationId ?? null) as PinnedConfigRow[];
  }

  pending(federationId?: string): PendingConfigRow[] {
    return this.db
      .prepare(
        `SELECT federation_id AS federationId, config_hash AS configHash, config, received_at AS receivedAt
         FROM pending_configs WHERE ? IS NULL OR federation_id = ? ORDER BY federation_id`,
      )
      .all(federationId ?? null, federationId ?? null) as PendingConfigRow[];
  }

  preapproved(federationId?: string): PreapprovedConfigRow[] {
    return this.db
      .prepare(
        `SELECT federation_id AS federationId, config_hash AS configHash, approved_at AS approvedAt
         FROM preapproved_configs WHERE ? IS NULL OR federation_id = ? ORDER BY federation_id`,
      )
      .all(federationId ?? null, federationId ?? null) as PreapprovedConfigRow[];
  }

  preapprove(row: PreapprovedConfigRow): void {
    this.db
      .prepare(
        `INSERT INTO preapproved_configs (federation_id, config_hash, approved_at) VALUES (?, ?, ?)
         ON CONFLICT(federation_id) DO UPDATE SET config_hash = excluded.config_hash, approved_at = excluded.approved_at`,
      )
      .run(row.federationId, row.configHash, row.approvedAt);
  }

  /** The latest offer replaces an earlier one still waiting: the operator approves what is current. */
  savePending(row: PendingConfigRow): void {
    this.db
      .prepare(
        `INSERT INTO pending_configs (federation_id, config_hash, config, received_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(federation_id) DO UPDATE SET config_hash = excluded.config_hash, config = excluded.config,
           received_at = CASE WHEN config_hash = excluded.config_hash THEN received_at ELSE excluded.received_at END`,
      )
      .run(row.federationId, row.configHash, row.config, row.receivedAt);
  }

  /** Pins a configuration and clears the offer (or advance approval) it answers, in one transaction. */
  pin(row: PinnedConfigRow): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO pinned_configs (federation_id, config_hash, config, approved_at, approved_by) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(federation_id) DO UPDATE SET config_hash = excluded.config_hash, config = excluded.config,
             approved_at = excluded.approved_at, approved_by = excluded.approved_by`,
        )
        .run(row.federationId, row.configHash, row.config, row.approvedAt, row.approvedBy);
      this.db
        .prepare('DELETE FROM pending_configs WHERE federation_id = ? AND config_hash = ?')
        .run(row.federationId, row.configHash);
      this.db.prepare('DELETE FROM preapproved_configs WHERE federation_id = ?').run(row.federationId);
    })();
  }

  recordDecline(row: DeclineRow): void {
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO declines (at, federation_id, round, version, reason) VALUES (?, ?, ?, ?, ?)')
        .run(row.at, row.federationId, row.round, row.version, row.reason);
      this.db
        .prepare('DELETE FROM declines WHERE id <= (SELECT MAX(id) FROM declines) - ?')
        .run(DECLINES_KEPT);
    })();
  }

  declines(limit = 50): DeclineRow[] {
    return this.db
      .prepare(
        `SELECT at, federation_id AS federationId, round, version, reason FROM declines ORDER BY id DESC LIMIT ?`,
      )
      .all(limit) as DeclineRow[];
  }

  /**
   * Records, before anything that lets the coordinator compute a sum leaves this site, which sum its
   * contribution from a version goes into (`summedWith`: the sorted alive set of an unmasking request,
   * or the round of a plain update). True if this is the first, or the same sum again (a retry over the
   * same sites reveals nothing new); false (nothing written) for any other: the two sums could be
   * subtracted.
   */
  claimContribution(
    federationId: string,
    modelHash: string,
    round: number,
    summedWith: string,
    now: string,
  ): { ok: true } | { ok: false; round: number } {
    this.db
      .prepare(
        'INSERT OR IGNORE INTO contributed_versions (federation_id, model_hash, round, summed_with, at) VALUES (?, ?, ?, ?, ?)',
      )
      .run(federationId, modelHash, round, summedWith, now);
    const row = this.db
      .prepare(
        'SELECT round, summed_with AS summedWith FROM contributed_versions WHERE federation_id = ? AND model_hash = ?',
      )
      .get(federationId, modelHash) as { round: number; summedWith: string };
    return row.summedWith === summedWith ? { ok: true } : { ok: false, round: row.round };
  }
}
