import { chmodSync, existsSync } from 'node:fs';
import { readSetting, writeSetting } from '../../core/store/settings.node.js';
import { openDatabase, type SqliteDatabase } from '../../core/store/sqlite.node.js';
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

export type RedeemResult =
  | { ok: true; site: SiteRow }
  | { ok: false; reason: 'unknown' | 'used' | 'expired' | 'key-in-use' | 'name-in-use'; expiresAt?: string };

/**
 * The coordinator's SQLite store. Synchronous: it runs in the store worker, off the event loop that
 * serves sites and the console.
 */
export class CoordinatorStore {
  readonly db: SqliteDatabase;

  constructor(readonly path: string) {
    const isNew = !existsSync(path);
    this.db = openDatabase(path, coordinatorMigrations);
    if (isNew) chmodSync(path, 0o600);
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
        .prepare('SELECT site_name, expires_at, used_at FROM enrollment_tokens WHERE token_hash = ?')
        .get(input.tokenHash) as
        { site_name: string; expires_at: string; used_at: string | null } | undefined;
      if (!token) return { ok: false, reason: 'unknown' };
      if (token.used_at) return { ok: false, reason: 'used' };
      if (token.expires_at <= input.now) return { ok: false, reason: 'expired', expiresAt: token.expires_at };
      if (this.db.prepare('SELECT 1 FROM sites WHERE identity_public_key = ?').get(input.identityPublicKey)) {
        return { ok: false, reason: 'key-in-use' };
      }
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
      this.audit('site-enrolled', siteId, { name: token.site_name });
      return { ok: true, site: this.getSite(siteId)! };
    })();
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
