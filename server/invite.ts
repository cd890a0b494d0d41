import { createHash, randomBytes } from 'node:crypto';
import type { AdminInvitation } from '../core/protocol/admin.js';
import { formatEnrollmentLink } from '../core/protocol/enrollment.js';
import type { CoordinatorConfig } from './data-dir.js';
import type { CoordinatorStore } from './store/coordinator-store.js';

/**
 * Creates a one-time enrollment invitation. The token (256 random bits) appears only in the returned
 * link; the store keeps its SHA-256.
 */
export async function createInvitation(
  store: {
    createInvitation: (input: Parameters<CoordinatorStore['createInvitation']>[0]) => void | Promise<void>;
  },
  config: CoordinatorConfig,
  siteName: string,
  ttlMs: number,
  now = new Date(),
): Promise<AdminInvitation> {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + ttlMs).toISOString();
  await store.createInvitation({
    tokenHash: createHash('sha256').update(token).digest('hex'),
    siteName,
    createdAt: now.toISOString(),
    expiresAt,
  });
  return {
    link: formatEnrollmentLink({
      coordinatorUrl: config.publicUrl,
      token,
      certificateFingerprint: config.certificateFingerprint,
    }),
    siteName,
    expiresAt,
  };
}

/** Parses "30m", "24h", "7d" (or plain seconds) into milliseconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)\s*(s|m|h|d)?$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    (match[2] ?? 's') as 's' | 'm' | 'h' | 'd'
  ];
  const ms = Number(match[1]) * unit;
  return ms > 0 ? ms : undefined;
}
