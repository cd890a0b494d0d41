import { fromBase64 } from './bytes.js';
import { refuse } from './errors.js';
import { SITE_ID_PATTERN } from './params.js';

/** The pinned identities of a federation: site id → Ed25519 public key (bytes or URL-safe base64). */
export type Roster = Readonly<Record<string, Uint8Array | string>>;

export function normaliseRoster(roster: Roster): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const [site, key] of Object.entries(roster)) {
    if (!SITE_ID_PATTERN.test(site)) refuse('invalid-config', `bad site id '${site}'`);
    let bytes: Uint8Array;
    try {
      bytes = typeof key === 'string' ? fromBase64(key) : key;
    } catch {
      refuse('invalid-config', `identity key of ${site} is not base64`);
    }
    if (bytes.length !== 32) refuse('invalid-config', `identity key of ${site} must be 32 bytes`);
    out.set(site, bytes);
  }
  return out;
}

/** Throws 'duplicate-site' or 'unknown-site' for a list that is not a set of known sites. */
export function checkSiteList(
  list: readonly string[],
  known: ReadonlySet<string> | ReadonlyMap<string, unknown>,
  what: string,
): Set<string> {
  const seen = new Set<string>();
  for (const site of list) {
    if (seen.has(site)) refuse('duplicate-site', `${site} appears twice in the ${what}`);
    if (!known.has(site)) refuse('unknown-site', `${site} in the ${what} is not a participant`);
    seen.add(site);
  }
  return seen;
}

export function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}
