import { z } from 'zod';
import { DEFAULT_NEIGHBOURS, thresholdFloor, type RoundParams } from './params.js';

/**
 * What a site accepts, whatever the coordinator proposes (issue 12): the parameters a round runs with come
 * from the coordinator's config, so the site checks them against its own floor and declines a round that
 * falls below it. The protocol itself already refuses t ≤ ⌊n/2⌋ (`resolveParams`); a policy only adds to
 * that. See README "Threat model" for what each bound buys.
 */
export interface SecurityPolicy {
  /** The threshold must exceed this fraction of the roster: t > f·n (and never t ≤ ⌊n/2⌋). */
  minThresholdFraction: number;
  /** SecAgg+ only: the least neighbourhood degree k (a complete graph's neighbourhood is the roster). */
  minNeighbours: number;
  /** SecAgg+ only: the neighbourhood threshold must exceed this fraction of k + 1. */
  minNeighbourhoodThresholdFraction: number;
  /** The least number of sites in the round's roster. */
  minSites: number;
}

export const securityPolicySchema = z.strictObject({
  minThresholdFraction: z.number().min(0.5).lt(1),
  minNeighbours: z.number().int().min(2),
  minNeighbourhoodThresholdFraction: z.number().min(0.5).lt(1),
  minSites: z.number().int().min(2),
});

/**
 * t > 2n/3: a lying coordinator's split view needs about n/3 colluding sites (Bonawitz et al.'s active
 * bound). k ≥ 100 with t_k > 2(k + 1)/3: the README's safe rows. Three sites: with two, each site can
 * subtract its own update from the published sum and read the other's.
 */
export const DEFAULT_SECURITY_POLICY: Readonly<SecurityPolicy> = Object.freeze({
  minThresholdFraction: 2 / 3,
  minNeighbours: DEFAULT_NEIGHBOURS,
  minNeighbourhoodThresholdFraction: 2 / 3,
  minSites: 3,
});

/**
 * The least t with t > fraction·n, and never below the protocol's floor ⌊n/2⌋ + 1. Fractions such as 2/3
 * are not exact in binary (2/3 · 6 = 3.9999…), so products within 1e-9 of an integer count as it.
 */
export function leastThreshold(n: number, fraction: number): number {
  return Math.max(thresholdFloor(n), Math.floor(fraction * n + 1e-9) + 1);
}

/**
 * Why a round with these parameters falls below `policy`, one line per failed bound for the operator;
 * empty when the site may take part. Pure: the caller declines and records the reasons.
 */
export function checkSiteParams(
  params: RoundParams,
  policy: Readonly<SecurityPolicy> = DEFAULT_SECURITY_POLICY,
): string[] {
  const reasons: string[] = [];
  const n = params.rosterSize;
  if (n < policy.minSites)
    reasons.push(`${n} sites in the round, this site's policy requires at least ${policy.minSites}`);
  const least = leastThreshold(n, policy.minThresholdFraction);
  if (params.threshold < least)
    reasons.push(
      `threshold ${params.threshold} of ${n} sites is below this site's policy (at least ${least})`,
    );
  const k = params.neighbours;
  if (k !== undefined) {
    if (k < policy.minNeighbours)
      reasons.push(
        `neighbourhoods of ${k} sites are below this site's policy (at least ${policy.minNeighbours})`,
      );
    const leastK = leastThreshold(k + 1, policy.minNeighbourhoodThresholdFraction);
    if (params.neighbourhoodThreshold < leastK)
      reasons.push(
        `neighbourhood threshold ${params.neighbourhoodThreshold} of ${k + 1} is below this site's policy (at least ${leastK})`,
      );
  }
  return reasons;
}
