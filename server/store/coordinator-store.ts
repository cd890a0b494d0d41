import { readSetting, writeSetting } from '../../core/store/settings.node.js';
import { openDatabase, type SqliteDatabase } from '../../core/store/sqlite.node.js';
import type { RosterDelta } from '../../core/protocol/session.js';
import { coordinatorMigrations } from './migrations.js';

export interface SiteRow {
  id: string;
  name: string;
  identityPublicKey: string;
  enrolledAt: string;
  revokedAt: string | null;
}

/** A readable id prefix from a site's name: "St. Mary's Hospital" → "st-mary-s-hospital". */
export function siteSlug(name: string): string {
  return (
    name
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'site'
  );
}

export interface VersionRow {
  federationId: string;
  version: number;
  hash: string;
  parentHash: string | null;
  round: number | null;
  /** The shared tensors, float32 little-endian. */
  shared: Uint8Array;
  optimizerState: Uint8Array | null;
  signature: string;
  createdAt: string;
}

export interface FederationRow {
  id: string;
  name: string;
  config: unknown;
  configHash: string;
  createdAt: string;
}

export type RoundState = 'running' | 'completed' | 'aborted';

export interface RoundRow {
  federationId: string;
  round: number;
  state: RoundState;
  baseVersion: number;
  startedAt: string;
  finishedAt: string | null;
  participants: string[];
  included: string[];
  dropped: string[];
  metrics: unknown;
  timings: unknown;
  error: string | null;
}

export type RedeemResult =
  | { ok: true; site: SiteRow }
  | {
      ok: false;
      reason: 'unknown' | 'used' | 'cancelled' | 'expired' | 'key-in-use' | 'key-revoked' | 'name-in-use';
      expiresAt?: string;
    };

/**
 * The coordinator's SQLite store. Synchronous: it runs in the store worker, off the event loop that
 * serves sites and the console.
 */
export class CoordinatorStore {
  readonly db: SqliteDatabase;

  constructor(readonly path: string) {
    this.db = openDatabase(path, coordinatorMigrations);
  }

  getSetting<T>(key: string): T | undefined {
    return readSetting<T>(this.db, key);
  }

  setSetting(key: string, value: unknown): void {
    writeSetting(this.db, key, value);
  }

  /** Records an invitation. Refuses a name an active site already has: names are how operators tell sites apart. */
  createInvitation(input: {
    tokenHash: string;
    siteName: string;
    createdAt: string;
    expiresAt: string;
  }): void {
    const taken = this.db
      .prepare('SELECT 1 FROM sites WHERE name = ? AND revoked_at IS NULL')
      .get(input.siteName);
    if (taken)
      throw Object.assign(new Error(`a site named '${input.siteName}' is already enrolled`), {
        code: 'name_in_use',
      });
    this.db
      .prepare(
        'INSERT INTO enrollment_tokens (token_hash, site_name, created_at, expires_at) VALUES (?, ?, ?, ?)',
      )
      .run(input.tokenHash, input.siteName, input.createdAt, input.expiresAt);
    this.audit('invitation-created', null, { siteName: input.siteName, expiresAt: input.expiresAt });
  }

  /**
   * Spends a token and enrolls the site in one transaction, so two concurrent uses of one token cannot
   * both succeed.
   */
  redeemInvitation(input: {
    tokenHash: string;
    idSuffix: string;
    identityPublicKey: string;
    now: string;
  }): RedeemResult {
    return this.db.transaction((): RedeemResult => {
      const token = this.db
        .prepare(
          'SELECT site_name, expires_at, used_at, cancelled_at FROM enrollment_tokens WHERE token_hash = ?',
        )
        .get(input.tokenHash) as
        | { site_name: string; expires_at: string; used_at: string | null; cancelled_at: string | null }
        | undefined;
      if (!token) return { ok: false, reason: 'unknown' };
      if (token.used_at) return { ok: false, reason: 'used' };
      if (token.cancelled_at) return { ok: false, reason: 'cancelled' };
      if (token.expires_at <= input.now) return { ok: false, reason: 'expired', expiresAt: token.expires_at };
      // A key stays bound to the site it enrolled, revoked or not: a revoked site cannot come back with it.
      const holder = this.db
        .prepare('SELECT revoked_at FROM sites WHERE identity_public_key = ?')
        .get(input.identityPublicKey) as { revoked_at: string | null } | undefined;
      if (holder) return { ok: false, reason: holder.revoked_at ? 'key-revoked' : 'key-in-use' };
      if (this.db.prepare('SELECT 1 FROM sites WHERE name = ? AND revoked_at IS NULL').get(token.site_name)) {
        return { ok: false, reason: 'name-in-use' };
      }
      const siteId = `${siteSlug(token.site_name)}-${input.idSuffix}`;
      this.db
        .prepare('INSERT INTO sites (id, name, identity_public_key, enrolled_at) VALUES (?, ?, ?, ?)')
        .run(siteId, token.site_name, input.identityPublicKey, input.now);
      this.db
        .prepare('UPDATE enrollment_tokens SET used_at = ?, site_id = ? WHERE token_hash = ?')
        .run(input.now, siteId, input.tokenHash);
      this.db.prepare(`INSERT INTO roster_changes (site_id, change) VALUES (?, 'added')`).run(siteId);
      this.audit('site-enrolled', siteId, { name: token.site_name });
      return { ok: true, site: this.getSite(siteId)! };
    })();
  }

  /**
   * Cancels the site name's invitations that are still open (neither used nor cancelled); returns how
   * many.
   */
  cancelInvitations(siteName: string, now: string): number {
    const cancelled = this.db
      .prepare(
        'UPDATE enrollment_tokens SET cancelled_at = ? WHERE site_name = ? AND used_at IS NULL AND cancelled_at IS NULL',
      )
      .run(now, siteName).changes;
    if (cancelled > 0) this.audit('invitation-cancelled', null, { siteName, count: cancelled });
    return cancelled;
  }

  /**
   * Revokes a site: it is refused from now on, its name becomes free, and its key can never enroll
   * again. Returns the site, or why not.
   */
  revokeSite(
    id: string,
    now: string,
  ): { ok: true; site: SiteRow } | { ok: false; reason: 'unknown' | 'revoked' } {
    const site = this.getSite(id);
    if (!site) return { ok: false, reason: 'unknown' };
    if (site.revokedAt) return { ok: false, reason: 'revoked' };
    this.db.transaction(() => {
      this.db.prepare('UPDATE sites SET revoked_at = ? WHERE id = ?').run(now, id);
      this.db.prepare(`INSERT INTO roster_changes (site_id, change) VALUES (?, 'removed')`).run(id);
      this.audit('site-revoked', id, { name: site.name });
    })();
    return { ok: true, site: { ...site, revokedAt: now } };
  }

  /** The roster's version: its number of changes. */
  rosterVersion(): number {
    return (
      this.db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM roster_changes').get() as { v: number }
    ).v;
  }

  /**
   * The roster changes after version `since`, up to the current version. A `since` ahead of the store (a
   * site that knew a coordinator since reset) gets every change, from 0.
   */
  rosterDelta(since: number): RosterDelta {
    const to = this.rosterVersion();
    const from = since > to ? 0 : since;
    const rows = this.db
      .prepare(
        `SELECT c.change, s.id, s.name, s.identity_public_key AS identityPublicKey
         FROM roster_changes c JOIN sites s ON s.id = c.site_id WHERE c.version > ? ORDER BY c.version`,
      )
      .all(from) as { change: 'added' | 'removed'; id: string; name: string; identityPublicKey: string }[];
    return {
      type: 'roster-delta',
      from,
      to,
      changes: rows.map(({ change, ...site }) => ({ change, site })),
    };
  }

  getSite(id: string): SiteRow | undefined {
    return this.db
      .prepare(
        `SELECT id, name, identity_public_key AS identityPublicKey, enrolled_at AS enrolledAt, revoked_at AS revokedAt
         FROM sites WHERE id = ?`,
      )
      .get(id) as SiteRow | undefined;
  }

  listSites(): SiteRow[] {
    return this.db
      .prepare(
        `SELECT id, name, identity_public_key AS identityPublicKey, enrolled_at AS enrolledAt, revoked_at AS revokedAt
         FROM sites ORDER BY enrolled_at, id`,
      )
      .all() as SiteRow[];
  }

  /** A federation and its version 0, together. */
  createFederation(
    federation: FederationRow,
    initial: Omit<VersionRow, 'federationId' | 'version' | 'round' | 'parentHash'>,
  ): void {
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO federations (id, name, config, config_hash, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(
          federation.id,
          federation.name,
          JSON.stringify(federation.config),
          federation.configHash,
          federation.createdAt,
        );
      this.insertVersion({
        ...initial,
        federationId: federation.id,
        version: 0,
        round: null,
        parentHash: null,
      });
      this.audit('federation-created', null, { federationId: federation.id, name: federation.name });
    })();
  }

  getFederation(id: string): FederationRow | undefined {
    const row = this.db
      .prepare(
        'SELECT id, name, config, config_hash AS configHash, created_at AS createdAt FROM federations WHERE id = ?',
      )
      .get(id) as (Omit<FederationRow, 'config'> & { config: string }) | undefined;
    return row ? { ...row, config: JSON.parse(row.config) as unknown } : undefined;
  }

  listFederations(): (FederationRow & { latestVersion: number; completedRounds: number })[] {
    const rows = this.db
      .prepare(
        `SELECT f.id, f.name, f.config, f.config_hash AS configHash, f.created_at AS createdAt,
                (SELECT MAX(version) FROM model_versions v WHERE v.federation_id = f.id) AS latestVersion,
                (SELECT COUNT(*) FROM rounds r WHERE r.federation_id = f.id AND r.state = 'completed') AS completedRounds
         FROM federations f ORDER BY f.created_at`,
      )
      .all() as (Omit<FederationRow, 'config'> & {
      config: string;
      latestVersion: number;
      completedRounds: number;
    })[];
    return rows.map((row) => ({ ...row, config: JSON.parse(row.config) as unknown }));
  }

  getVersion(federationId: string, version?: number): VersionRow | undefined {
    const columns = `federation_id AS federationId, version, hash, parent_hash AS parentHash, round, shared,
                     optimizer_state AS optimizerState, signature, created_at AS createdAt`;
    const row =
      version === undefined
        ? this.db
            .prepare(
              `SELECT ${columns} FROM model_versions WHERE federation_id = ? ORDER BY version DESC LIMIT 1`,
            )
            .get(federationId)
        : this.db
            .prepare(`SELECT ${columns} FROM model_versions WHERE federation_id = ? AND version = ?`)
            .get(federationId, version);
    return row as VersionRow | undefined;
  }

  /** The next round number (rounds are numbered from 1 and never reused, aborted ones included). */
  nextRound(federationId: string): number {
    const row = this.db
      .prepare('SELECT MAX(round) AS last FROM rounds WHERE federation_id = ?')
      .get(federationId) as { last: number | null };
    return (row.last ?? 0) + 1;
  }

  beginRound(
    row: Pick<RoundRow, 'federationId' | 'round' | 'baseVersion' | 'startedAt' | 'participants'>,
  ): void {
    this.db
      .prepare(
        `INSERT INTO rounds (federation_id, round, state, base_version, started_at, participants) VALUES (?, ?, 'running', ?, ?, ?)`,
      )
      .run(row.federationId, row.round, row.baseVersion, row.startedAt, JSON.stringify(row.participants));
  }

  /**
   * Publishes the round's version and closes the round in one transaction: both or neither. Evaluation
   * rounds close without a version.
   */
  completeRound(
    round: Pick<
      RoundRow,
      'federationId' | 'round' | 'finishedAt' | 'included' | 'dropped' | 'metrics' | 'timings'
    >,
    version?: VersionRow,
  ): void {
    this.db.transaction(() => {
      if (version) this.insertVersion(version);
      const changed = this.db
        .prepare(
          `UPDATE rounds SET state = 'completed', finished_at = ?, included = ?, dropped = ?, metrics = ?, timings = ?
           WHERE federation_id = ? AND round = ? AND state = 'running'`,
        )
        .run(
          round.finishedAt,
          JSON.stringify(round.included),
          JSON.stringify(round.dropped),
          JSON.stringify(round.metrics),
          JSON.stringify(round.timings),
          round.federationId,
          round.round,
        ).changes;
      if (changed !== 1) throw new Error(`round ${round.round} of ${round.federationId} is not running`);
      if (version) {
        const { federationId, version: number, hash } = version;
        this.audit('version-published', null, { federationId, version: number, hash });
      }
    })();
  }

  abortRound(
    round: Pick<RoundRow, 'federationId' | 'round' | 'finishedAt' | 'included' | 'dropped' | 'timings'>,
    reason: string,
  ): void {
    this.db
      .prepare(
        `UPDATE rounds SET state = 'aborted', finished_at = ?, included = ?, dropped = ?, timings = ?, error = ?
         WHERE federation_id = ? AND round = ? AND state = 'running'`,
      )
      .run(
        round.finishedAt,
        JSON.stringify(round.included),
        JSON.stringify(round.dropped),
        JSON.stringify(round.timings),
        reason,
        round.federationId,
        round.round,
      );
    this.audit('round-aborted', null, { federationId: round.federationId, round: round.round, reason });
  }

  /**
   * At start-up: a round still 'running' belonged to a coordinator that died. Its secure-aggregation keys
   * died with it, so it cannot resume; it is closed as aborted (its version was never written).
   */
  abortInterruptedRounds(now: string): { federationId: string; round: number }[] {
    const interrupted = this.db
      .prepare(`SELECT federation_id AS federationId, round FROM rounds WHERE state = 'running'`)
      .all() as {
      federationId: string;
      round: number;
    }[];
    for (const { federationId, round } of interrupted) {
      this.abortRound(
        { federationId, round, finishedAt: now, included: [], dropped: [], timings: null },
        'the coordinator restarted during the round',
      );
    }
    return interrupted;
  }

  listRounds(federationId: string): RoundRow[] {
    const rows = this.db
      .prepare(
        `SELECT federation_id AS federationId, round, state, base_version AS baseVersion, started_at AS startedAt,
                finished_at AS finishedAt, participants, included, dropped, metrics, timings, error
         FROM rounds WHERE federation_id = ? ORDER BY round`,
      )
      .all(federationId) as (Omit<RoundRow, 'participants' | 'included' | 'dropped' | 'metrics' | 'timings'> &
      Record<'participants' | 'included' | 'dropped', string> & {
        metrics: string | null;
        timings: string | null;
      })[];
    return rows.map((row) => ({
      ...row,
      participants: JSON.parse(row.participants) as string[],
      included: JSON.parse(row.included) as string[],
      dropped: JSON.parse(row.dropped) as string[],
      metrics: row.metrics ? (JSON.parse(row.metrics) as unknown) : null,
      timings: row.timings ? (JSON.parse(row.timings) as unknown) : null,
    }));
  }

  private insertVersion(version: VersionRow): void {
    this.db
      .prepare(
        `INSERT INTO model_versions (federation_id, version, hash, parent_hash, round, shared, optimizer_state, signature, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        version.federationId,
        version.version,
        version.hash,
        version.parentHash,
        version.round,
        version.shared,
        version.optimizerState,
        version.signature,
        version.createdAt,
      );
  }

  audit(kind: string, siteId: string | null, detail: Record<string, unknown> = {}): void {
    this.db
      .prepare('INSERT INTO audit_log (kind, site_id, detail) VALUES (?, ?, ?)')
      .run(kind, siteId, JSON.stringify(detail));
  }

  recentAudit(limit = 100): { at: string; kind: string; siteId: string | null; detail: string }[] {
    return this.db
      .prepare('SELECT at, kind, site_id AS siteId, detail FROM audit_log ORDER BY id DESC LIMIT ?')
      .all(limit) as { at: string; kind: string; siteId: string | null; detail: string }[];
  }

  close(): void {
    this.db.close();
  }
}
