import {
  DEFAULT_SECAGG_FLOOR,
  SecAggError,
  paramsBelowFloor,
  resolveParams,
  thresholdBelowFloor,
} from '../../core/secagg/index.js';
import type { FederationConfig } from '../../core/protocol/federation.js';
import type { ConfigFieldChange, SitePolicy } from '../../core/site-api/contract.js';

/**
 * What this site requires before it joins a round (DESIGN §3), and how a federation configuration is
 * compared with the one its operator approved. Pure functions: the federation client applies them to
 * every version and round the coordinator offers, the CLI and the UI show their verdicts. The threshold
 * and neighbourhood bounds are core/secagg's floor (`paramsBelowFloor`), judged on the parameters the
 * round would actually run with.
 */

/**
 * Secure aggregation on, core/secagg's default floor (t > 2n/3; k ≥ 100 with t_k > 2(k + 1)/3), at least
 * 2 sites, changes asked for. Two sites, not three: a two-hospital consortium is a real one, and secure
 * aggregation still hides each site's update from the coordinator; but each of the two can subtract its
 * own update from the published model and read the other's, so an operator who minds raises --min-sites.
 */
export const DEFAULT_SITE_POLICY: SitePolicy = {
  secureRequired: true,
  minThreshold: { ...DEFAULT_SECAGG_FLOOR.minThreshold },
  minNeighbours: DEFAULT_SECAGG_FLOOR.minNeighbours,
  minSites: 2,
  autoAcceptConfig: false,
};

/**
 * Where a configuration falls below the policy on its own (before any roster is known): secure
 * aggregation off, or a federation minimum below the site's. Empty when none.
 */
export function configPolicyProblems(config: FederationConfig, policy: SitePolicy): string[] {
  const problems: string[] = [];
  if (!config.secure.enabled && policy.secureRequired)
    problems.push(
      'secure aggregation is off: this site would send its update and its counters in the clear, and its policy requires secure aggregation',
    );
  if (config.minSites < policy.minSites)
    problems.push(`minSites is ${config.minSites}, this site requires at least ${policy.minSites}`);
  return problems;
}

/**
 * Where a round with this roster size falls below the policy: too few sites, a threshold at or below the
 * policy's fraction (or a strict majority), a SecAgg+ neighbourhood smaller than the site's least k or
 * with too low a threshold. Uses core/secagg's own parameter resolution, so what is checked is exactly
 * what the round would run with. Undefined when the round may run.
 */
export function rosterPolicyProblem(
  config: FederationConfig,
  rosterSize: number,
  policy: SitePolicy,
): string | undefined {
  const least = Math.max(2, policy.minSites, config.minSites);
  if (rosterSize < least)
    return `${rosterSize} site(s); this site requires at least ${least} (its policy and the federation's minimum)`;
  if (!config.secure.enabled) return undefined;
  // A fixed threshold is judged by this site's policy first, whatever core/secagg itself would accept.
  const fixed = config.secure.threshold;
  const fixedProblem =
    fixed === undefined ? undefined : thresholdBelowFloor(fixed, rosterSize, policy.minThreshold);
  if (fixedProblem) return fixedProblem;
  try {
    const params = resolveParams(rosterSize, {
      vectorLength: 1,
      ...(config.secure.threshold !== undefined ? { threshold: config.secure.threshold } : {}),
      ...(config.secure.neighbours !== undefined ? { neighbours: config.secure.neighbours } : {}),
    });
    return paramsBelowFloor(params, policy);
  } catch (error) {
    if (error instanceof SecAggError) return `invalid secure-aggregation parameters: ${error.message}`;
    throw error;
  }
}

/** Every leaf of a configuration by dotted path; arrays are leaves (the answer set is one field). */
function leaves(value: unknown, path = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, child] of Object.entries(value)) leaves(child, path ? `${path}.${key}` : key, out);
  } else out.set(path, value);
  return out;
}

const PARTS = ['lora', 'prompt', 'head'] as const;

/**
 * Whether changing `field` from `approved` to `offered` lowers what protects this site's data. Secure
 * aggregation switched off, a lower or newly fixed threshold or neighbourhood (a fixed value may be below
 * the default the site approved), a lower minimum of sites, or an adapter part newly leaving the site
 * (enabled and shared). Everything else (answers, strategy, local training, deadlines) changes what is
 * trained, not what is revealed.
 */
function weakens(
  field: string,
  approved: unknown,
  offered: unknown,
  offeredConfig: FederationConfig,
): boolean {
  const lower = () =>
    offered === undefined ||
    (typeof approved === 'number' && typeof offered === 'number'
      ? offered < approved
      : approved === undefined);
  switch (field) {
    case 'secure.enabled':
      return offered !== true;
    case 'secure.threshold':
    case 'secure.neighbours':
    case 'minSites':
      return lower();
    default: {
      const part = PARTS.find((p) => field === `adapter.${p}.shared` || field === `adapter.${p}.enabled`);
      return part !== undefined && offeredConfig.adapter[part].enabled && offeredConfig.adapter[part].shared;
    }
  }
}

/** The approved and the offered configuration, field by field: only the fields that differ. */
export function diffConfigs(approved: FederationConfig, offered: FederationConfig): ConfigFieldChange[] {
  const a = leaves(approved);
  const b = leaves(offered);
  const fields = [...new Set([...a.keys(), ...b.keys()])].sort();
  const changes: ConfigFieldChange[] = [];
  for (const field of fields) {
    const before = a.get(field);
    const after = b.get(field);
    if (JSON.stringify(before) === JSON.stringify(after)) continue;
    changes.push({
      field,
      approved: before,
      offered: after,
      weakens: weakens(field, before, after, offered),
    });
  }
  return changes;
}
