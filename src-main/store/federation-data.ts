import type { SiteRoundStatus } from '../../core/protocol/round-vocabulary.js';
import type { SqliteDatabase } from '../../core/store/sqlite.node.js';

/**
 * Migration 3: what a site keeps about federated training. Global versions it accepted (signed
 * descriptor + shared tensors), its personal adapter (all parts, including the local ones that never
 * leave), its own record of every round, and the audit log of every byte it sent.
 */
export function createFederationTables(db: SqliteDatabase): void {
  db.exec(`
    CREATE TABLE global_versions (
      federation_id TEXT NOT NULL,
      version INTEGER NOT NULL,
      hash TEXT NOT NULL,
      config TEXT NOT NULL,
      descriptor TEXT NOT NULL,
      shared BLOB NOT NULL,
      received_at TEXT NOT NULL,
      PRIMARY KEY (federation_id, version)
    ) STRICT;

    CREATE TABLE personal_adapters (
      federation_id TEXT PRIMARY KEY,
      adapter_json TEXT NOT NULL,
      weights BLOB NOT NULL,
      trained_in_round INTEGER NOT NULL,
      updated_at TEXT NOT NULL
    ) STRICT;

    -- The site's own view of each round. Its local figures never leave the site.
    CREATE TABLE local_rounds (
      federation_id TEXT NOT NULL,
      round INTEGER NOT NULL,
      status TEXT NOT NULL,
      reason TEXT,
      started_at TEXT NOT NULL,
      finished_at TEXT,
      starting_version INTEGER NOT NULL,
      published_version INTEGER,
      details TEXT NOT NULL DEFAULT '{}',
      PRIMARY KEY (federation_id, round)
    ) STRICT;

    CREATE TABLE audit_log (
      id INTEGER PRIMARY KEY,
      at TEXT NOT NULL,
      kind TEXT NOT NULL,
      recipient TEXT NOT NULL,
      bytes INTEGER NOT NULL,
      sha256 TEXT NOT NULL,
      detail TEXT NOT NULL DEFAULT '{}'
    ) STRICT;
    CREATE INDEX audit_log_at ON audit_log (at);
  `);
}

export interface GlobalVersionRow {
  federationId: string;
  version: number;
  hash: string;
  /** The federation config (JSON) the version was published under. */
  config: string;
  /** The signed ModelVersion (JSON). */
  descriptor: string;
  shared: Uint8Array;
  receivedAt: string;
}

export interface PersonalAdapterRow {
  federationId: string;
  adapterJson: string;
  weights: Uint8Array;
  trainedInRound: number;
  updatedAt: string;
}

export interface LocalRoundRow {
  federationId: string;
  round: number;
  status: SiteRoundStatus;
  reason: string | null;
  startedAt: string;
  finishedAt: string | null;
  startingVersion: number;
  publishedVersion: number | null;
  details: Record<string, unknown>;
}

export interface AuditEntry {
  id: number;
  at: string;
  kind: string;
  recipient: string;
  bytes: number;
  sha256: string;
  detail: Record<string, unknown>;
}

/** Versions kept per federation: enough to show history, bounded so the store does not grow per round. */
const VERSIONS_KEPT = 20;

export class FederationData {
  constructor(private readonly db: SqliteDatabase) {}

  saveGlobalVersion(row: GlobalVersionRow): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT OR IGNORE INTO global_versions (federation_id, version, hash, config, descriptor, shared, received_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(row.federationId, row.version, row.hash, row.config, row.descriptor, row.shared, row.receivedAt);
      this.db
        .prepare(
          `DELETE FROM global_versions WHERE federation_id = ? AND version <=
             (SELECT MAX(version) FROM global_versions WHERE federation_id = ?) - ?`,
        )
        .run(row.federationId, row.federationId, VERSIONS_KEPT);
    })();
  }

  latestGlobalVersion(federationId: string): GlobalVersionRow | undefined {
    return this.db
      .prepare(
        `SELECT federation_id AS federationId, version, hash, config, descriptor, shared, received_at AS receivedAt
         FROM global_versions WHERE federation_id = ? ORDER BY version DESC LIMIT 1`,
      )
      .get(federationId) as GlobalVersionRow | undefined;
  }

  /** The latest version of every federation this site knows, without the tensors. */
  federations(): Omit<GlobalVersionRow, 'shared'>[] {
    return this.db
      .prepare(
        `SELECT federation_id AS federationId, MAX(version) AS version, hash, config, descriptor, received_at AS receivedAt
         FROM global_versions GROUP BY federation_id ORDER BY federation_id`,
      )
      .all() as Omit<GlobalVersionRow, 'shared'>[];
  }

  savePersonalAdapter(row: PersonalAdapterRow): void {
    this.db
      .prepare(
        `INSERT INTO personal_adapters (federation_id, adapter_json, weights, trained_in_round, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(federation_id) DO UPDATE SET adapter_json = excluded.adapter_json, weights = excluded.weights,
           trained_in_round = excluded.trained_in_round, updated_at = excluded.updated_at`,
      )
      .run(row.federationId, row.adapterJson, row.weights, row.trainedInRound, row.updatedAt);
  }

  personalAdapter(federationId: string): PersonalAdapterRow | undefined {
    return this.db
      .prepare(
        `SELECT federation_id AS federationId, adapter_json AS adapterJson, weights, trained_in_round AS trainedInRound,
                updated_at AS updatedAt
         FROM personal_adapters WHERE federation_id = ?`,
      )
      .get(federationId) as PersonalAdapterRow | undefined;
  }

  /** Inserts or updates the site's record of a round. */
  recordRound(row: LocalRoundRow): void {
    this.db
      .prepare(
        `INSERT INTO local_rounds (federation_id, round, status, reason, started_at, finished_at, starting_version, published_version, details)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(federation_id, round) DO UPDATE SET status = excluded.status, reason = excluded.reason,
           finished_at = excluded.finished_at, published_version = excluded.published_version, details = excluded.details`,
      )
      .run(
        row.federationId,
        row.round,
        row.status,
        row.reason,
        row.startedAt,
        row.finishedAt,
        row.startingVersion,
        row.publishedVersion,
        JSON.stringify(row.details),
      );
  }

  /**
   * Rounds this site was in the middle of when its agent stopped: closed as interrupted at start-up
   * (their secure-aggregation keys lived only in memory, so they cannot resume).
   */
  closeInterruptedRounds(now: string): number {
    return this.db
      .prepare(
        `UPDATE local_rounds SET status = 'interrupted', reason = 'the site agent stopped during the round', finished_at = ? WHERE finished_at IS NULL`,
      )
      .run(now).changes;
  }

  rounds(federationId: string, limit = 200): LocalRoundRow[] {
    const rows = this.db
      .prepare(
        `SELECT federation_id AS federationId, round, status, reason, started_at AS startedAt, finished_at AS finishedAt,
                starting_version AS startingVersion, published_version AS publishedVersion, details
         FROM local_rounds WHERE federation_id = ? ORDER BY round DESC LIMIT ?`,
      )
      .all(federationId, limit) as (Omit<LocalRoundRow, 'details'> & { details: string })[];
    return rows.map((row) => ({ ...row, details: JSON.parse(row.details) as Record<string, unknown> }));
  }

  audit(entry: Omit<AuditEntry, 'id'>): void {
    this.db
      .prepare('INSERT INTO audit_log (at, kind, recipient, bytes, sha256, detail) VALUES (?, ?, ?, ?, ?, ?)')
      .run(entry.at, entry.kind, entry.recipient, entry.bytes, entry.sha256, JSON.stringify(entry.detail));
  }

  /** Newest first, with totals over the whole log. */
  auditLog(offset = 0, limit = 100): { total: number; totalBytes: number; entries: AuditEntry[] } {
    const totals = this.db
      .prepare('SELECT COUNT(*) AS total, COALESCE(SUM(bytes), 0) AS totalBytes FROM audit_log')
      .get() as {
      total: number;
      totalBytes: number;
    };
    const rows = this.db
      .prepare(
        'SELECT id, at, kind, recipient, bytes, sha256, detail FROM audit_log ORDER BY id DESC LIMIT ? OFFSET ?',
      )
      .all(limit, offset) as (Omit<AuditEntry, 'detail'> & { detail: string })[];
    return {
      ...totals,
      entries: rows.map((row) => ({ ...row, detail: JSON.parse(row.detail) as Record<string, unknown> })),
    };
  }
}
