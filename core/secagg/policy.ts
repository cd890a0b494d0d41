import { DEFAULT_NEIGHBOURS, thresholdFloor, type RoundParams } from './params.js';

/**
 * The floor a site holds secure aggregation's parameters to, whatever the coordinator proposes (issue 12).
 * The protocol itself refuses only t ≤ ⌊n/2⌋ (`resolveParams`); a floor adds to that. The site's whole
 * policy (secure aggregation required, least sites, auto-accept) is `SitePolicy` in core/site-api, which
 * carries these fields; README "Threat model" says what each bound buys.
 */

/** A fraction in integers: 2/3 is not exact in binary (2/3 · 6 = 3.9999…), so no float compares it. */
export interface Fraction {
  numerator: number;
  denominator: number;
}

export interface SecAggFloor {
  /** The threshold must exceed this fraction of the roster, and of a SecAgg+ neighbourhood (k + 1). */
  minThreshold: Fraction;
  /** SecAgg+ only: the least neighbourhood degree k (a complete graph's neighbourhood is the roster). */
  minNeighbours: number;
}

/**
 * t > 2n/3: a lying coordinator's split view needs about n/3 colluding sites (Bonawitz et al.'s active
 * bound). k ≥ 100 with t_k > 2(k + 1)/3: the README's safe rows.
 */
export const DEFAULT_SECAGG_FLOOR: Readonly<SecAggFloor> = Object.freeze({
  minThreshold: Object.freeze({ numerator: 2, denominator: 3 }),
  minNeighbours: DEFAULT_NEIGHBOURS,
});

export const formatFraction = (f: Fraction) => `${f.numerator}/${f.denominator}`;

/** Whether t of n satisfies t > fraction · n and the protocol's floor t ≥ ⌊n/2⌋ + 1. */
export function thresholdMeetsFloor(t: number, n: number, fraction: Fraction): boolean {
  return t * fraction.denominator > fraction.numerator * n && t >= thresholdFloor(n);
}

/** The least t a roster of n passes with: shown to operators next to a refusal. */
export function leastThreshold(n: number, fraction: Fraction): number {
  let t = thresholdFloor(n);
  while (!thresholdMeetsFloor(t, n, fraction)) t++;
  return t;
}

/** Why a threshold t of n sites falls below the floor's fraction, or undefined when it does not. */
export function thresholdBelowFloor(t: number, n: number, fraction: Fraction): string | undefined {
  return thresholdMeetsFloor(t, n, fraction)
    ? undefined
    : `threshold ${t} of ${n} sites; this site requires more than ${formatFraction(fraction)} of the roster and a strict majority (at least ${leastThreshold(n, fraction)})`;
}

/**
 * Why parameters a round would run with fall below `floor`: the first failed bound, one line for the
 * operator; undefined when the site may take part. Pure: the caller declines and records the reason.
 */
export function paramsBelowFloor(params: RoundParams, floor: Readonly<SecAggFloor>): string | undefined {
  const fraction = floor.minThreshold;
  const global = thresholdBelowFloor(params.threshold, params.rosterSize, fraction);
  if (global) return global;
  const k = params.neighbours;
  if (k === undefined) return undefined;
  if (k < floor.minNeighbours)
    return `SecAgg+ neighbourhoods of ${k} sites; this site requires at least ${floor.minNeighbours}`;
  if (!thresholdMeetsFloor(params.neighbourhoodThreshold, k + 1, fraction))
    return `neighbourhood threshold ${params.neighbourhoodThreshold} of ${k + 1}; this site requires at least ${leastThreshold(k + 1, fraction)}`;
  return undefined;
}
