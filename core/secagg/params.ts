import { frame } from './bytes.js';
import { refuse } from './errors.js';
import { libsodiumPrg } from './prg.js';
import { sodium } from './sodium.js';

/** Site ids: ASCII only, so JavaScript's string order equals byte order on every platform. */
export const SITE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

/** Shamir in GF(2^8) (`shamir-secret-sharing`) allows at most 255 shares: one per neighbour plus self. */
export const MAX_NEIGHBOURHOOD = 255;

/** Roster sizes up to this use the complete graph by default; larger ones use `DEFAULT_NEIGHBOURS`. */
export const COMPLETE_GRAPH_MAX_SITES = 100;
/**
 * Default k for SecAgg+ (see README "Choosing k"): with k = 100 and per-neighbourhood threshold 68 of 101,
 * for 500 sites the chance that any neighbourhood has ≥ 68 corrupt members when a third of all sites are
 * corrupt is < 2e-9, and that 10 % random dropouts leave any neighbourhood below threshold is < 5e-8.
 */
export const DEFAULT_NEIGHBOURS = 100;

/** What the caller passes to bind a round. */
export interface SessionInfo {
  federationId: string;
  round: number;
  /** Content hash of the global model version this round starts from. */
  modelHash: string;
  /** Hash of the round's training configuration. */
  configHash: string;
}

export interface SecAggOptions {
  /** Length of the (already encoded) input vector, in 32-bit words. */
  vectorLength: number;
  /**
   * Minimum number of sites in the sum, t. Default max(2, ⌊2n/3⌋ + 1) for a roster of n sites; never
   * below ⌊n/2⌋ + 1 (`thresholdFloor`).
   */
  threshold?: number;
  /**
   * SecAgg+ neighbourhood degree k (even): each site masks with and shares to k neighbours of a k-regular
   * Harary graph drawn from every site's committed and then revealed randomness (`graphSeed`). Default: complete graph for rosters of up to 100 sites, k = 100
   * above. Pass `'complete'` to force the complete graph.
   */
  neighbours?: number | 'complete';
  /** Shares needed per neighbourhood (SecAgg+ only). Default max(2, ⌊2(k+1)/3⌋ + 1); at least ⌊(k+1)/2⌋ + 1. */
  neighbourhoodThreshold?: number;
}

/** Parameters every party derives identically from the roster and the options. */
export interface RoundParams {
  rosterSize: number;
  vectorLength: number;
  threshold: number;
  /** k, or undefined for the complete graph. */
  neighbours: number | undefined;
  neighbourhoodThreshold: number;
}

export function defaultThreshold(n: number): number {
  return Math.max(2, Math.floor((2 * n) / 3) + 1);
}

/**
 * The least threshold the protocol accepts for n share holders: ⌊n/2⌋ + 1. At t ≤ n/2 a lying
 * coordinator can show two disjoint halves two different alive lists, each signed by its own t members,
 * and get b_v from one half and s_v^SK from the other (the split view, `refusals.test.ts`). Above n/2 any
 * two views of t signers share a site, which signs only one.
 */
export function thresholdFloor(n: number): number {
  return Math.max(2, Math.floor(n / 2) + 1);
}

export function resolveParams(rosterSize: number, options: SecAggOptions): RoundParams {
  const { vectorLength } = options;
  if (!Number.isSafeInteger(vectorLength) || vectorLength < 1 || vectorLength > 2 ** 32) {
    refuse('invalid-config', `vectorLength must be a positive integer (got ${vectorLength})`);
  }
  if (rosterSize < 2) refuse('invalid-config', 'secure aggregation needs at least 2 sites');
  const threshold = options.threshold ?? defaultThreshold(rosterSize);
  const floor = thresholdFloor(rosterSize);
  if (!Number.isInteger(threshold) || threshold < floor || threshold > rosterSize) {
    refuse(
      'invalid-config',
      `threshold must be an integer from ${floor} to ${rosterSize} (more than half of ${rosterSize} sites; got ${threshold})`,
    );
  }
  let k: number | undefined;
  if (options.neighbours === undefined)
    k = rosterSize > COMPLETE_GRAPH_MAX_SITES ? DEFAULT_NEIGHBOURS : undefined;
  else if (options.neighbours !== 'complete') k = options.neighbours;
  if (k !== undefined && (!Number.isInteger(k) || k < 2 || k % 2 !== 0)) {
    refuse('invalid-config', `neighbours must be an even integer ≥ 2 (got ${k})`);
  }
  if (k !== undefined && k >= rosterSize - 1) k = undefined;
  if (k === undefined) {
    if (rosterSize > MAX_NEIGHBOURHOOD) {
      refuse(
        'invalid-config',
        `the complete graph supports at most ${MAX_NEIGHBOURHOOD} sites; set neighbours`,
      );
    }
    return { rosterSize, vectorLength, threshold, neighbours: undefined, neighbourhoodThreshold: threshold };
  }
  if (k + 1 > MAX_NEIGHBOURHOOD)
    refuse('invalid-config', `neighbours must be at most ${MAX_NEIGHBOURHOOD - 1}`);
  const neighbourhoodThreshold = options.neighbourhoodThreshold ?? defaultThreshold(k + 1);
  const neighbourhoodFloor = thresholdFloor(k + 1);
  if (
    !Number.isInteger(neighbourhoodThreshold) ||
    neighbourhoodThreshold < neighbourhoodFloor ||
    neighbourhoodThreshold > k + 1
  ) {
    refuse(
      'invalid-config',
      `neighbourhoodThreshold must be an integer from ${neighbourhoodFloor} to ${k + 1} (more than half of the neighbourhood; got ${neighbourhoodThreshold})`,
    );
  }
  return { rosterSize, vectorLength, threshold, neighbours: k, neighbourhoodThreshold };
}

/** The parameters as bound into session_id, so sites that disagree on them never share a session. */
export function paramsTag(p: RoundParams): string {
  return `n=${p.rosterSize};len=${p.vectorLength};t=${p.threshold};k=${p.neighbours ?? 'complete'};tk=${p.neighbourhoodThreshold}`;
}

const GRAPH_DOMAIN = 'cohort/secagg/graph/v1';

/**
 * The neighbours of every site in U1. Complete graph: everyone else (`seed` unused). SecAgg+: a k-regular
 * Harary graph on a ring whose order is a uniformly random permutation of U1 drawn from a ChaCha20 stream
 * keyed by BLAKE2b(seed), `seed` being the commit-reveal graph seed (`graphSeed`), so every party
 * derives the same graph and nobody chooses it. Each site is joined to the k/2 sites before and after it
 * on the ring. With `only`, just those sites' entries (a site needs its own; the graph is the same).
 */
export function neighbourhoods(
  seed: Uint8Array,
  u1: readonly string[],
  k: number | undefined,
  only?: ReadonlySet<string>,
): Map<string, string[]> {
  const sorted = [...u1].sort();
  const result = new Map<string, string[]>();
  if (k === undefined || k >= sorted.length - 1) {
    for (const site of sorted) {
      if (only && !only.has(site)) continue;
      result.set(
        site,
        sorted.filter((other) => other !== site),
      );
    }
    return result;
  }
  const key = sodium.crypto_generichash(32, frame(GRAPH_DOMAIN, seed), null);
  // The ring holds positions in `sorted`, so each neighbour list is sorted as numbers (a typed-array sort)
  // rather than as strings; position order is string order.
  const positions = sorted.map((_, i) => i);
  const ring = shuffle(positions, key);
  const n = ring.length;
  const list = new Int32Array(k);
  for (let p = 0; p < n; p++) {
    const site = sorted[ring[p]!]!;
    if (only && !only.has(site)) continue;
    for (let d = 1; d <= k / 2; d++) {
      list[2 * d - 2] = ring[(p + d) % n]!;
      list[2 * d - 1] = ring[(p - d + n) % n]!;
    }
    list.sort();
    const names = Array.from(list, (i) => sorted[i]!);
    result.set(site, names);
  }
  return result;
}

/** Fisher–Yates with unbiased (rejection-sampled) indices from a ChaCha20 keystream. */
function shuffle<T>(items: T[], key: Uint8Array): T[] {
  const out = [...items];
  const reader = libsodiumPrg.open(key);
  let pool = new Uint32Array(0);
  let used = 0;
  const nextWord = () => {
    if (used >= pool.length) {
      pool = new Uint32Array(reader.next(256).slice().buffer);
      used = 0;
    }
    return pool[used++]!;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const range = i + 1;
    const limit = Math.floor(2 ** 32 / range) * range;
    let word = nextWord();
    while (word >= limit) word = nextWord();
    const j = word % range;
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
