import { federationConfigSchema } from '../../core/protocol/federation.js';
import type { FederationSecurity, SitePolicy } from '../../core/site-api/contract.js';
import type { DeclineRow, PendingConfigRow, PinnedConfigRow } from '../store/security-data.js';
import { configPolicyProblems, diffConfigs } from './security-policy.js';

type MaybeAsync<T> = T | Promise<T>;

/** What approval needs of the site store: the store itself (CLI) or its worker proxy (site agent). */
export interface SecurityStore {
  sitePolicy(): MaybeAsync<SitePolicy>;
  pendingConfigs(federationId?: string): MaybeAsync<PendingConfigRow[]>;
  pinnedConfigs(federationId?: string): MaybeAsync<PinnedConfigRow[]>;
  pinConfig(row: PinnedConfigRow): MaybeAsync<void>;
  declines(limit?: number): MaybeAsync<DeclineRow[]>;
}

/**
 * The operator approves the configuration the coordinator offered for a federation. With `expectedHash`
 * (what the operator reviewed), approval fails if a newer offer replaced it meanwhile. A configuration
 * below the site's policy cannot be approved: the operator changes the policy first, knowingly.
 */
export async function approvePendingConfig(
  store: SecurityStore,
  federationId: string,
  expectedHash?: string,
): Promise<PinnedConfigRow> {
  const [pending] = await store.pendingConfigs(federationId);
  if (!pending) throw new Error(`no configuration of federation '${federationId}' is awaiting approval`);
  if (expectedHash !== undefined && !pending.configHash.startsWith(expectedHash))
    throw new Error(
      `the configuration awaiting approval is ${pending.configHash.slice(0, 12)}…, not ${expectedHash.slice(0, 12)}…: review it again`,
    );
  const config = federationConfigSchema.parse(JSON.parse(pending.config));
  const problems = configPolicyProblems(config, await store.sitePolicy());
  if (problems.length > 0)
    throw new Error(`this configuration is below the site's security policy: ${problems.join('; ')}`);
  const row: PinnedConfigRow = {
    federationId,
    configHash: pending.configHash,
    config: pending.config,
    approvedAt: new Date().toISOString(),
    approvedBy: 'operator',
  };
  await store.pinConfig(row);
  return row;
}

/** The policy, pinned configurations, pending changes field by field, and recent declines. */
export async function securityView(store: SecurityStore): Promise<FederationSecurity> {
  const [policy, pinned, pending, declines] = await Promise.all([
    store.sitePolicy(),
    store.pinnedConfigs(),
    store.pendingConfigs(),
    store.declines(50),
  ]);
  return {
    policy,
    pinned: pinned.map((row) => ({ ...row, config: JSON.parse(row.config) as Record<string, unknown> })),
    pending: pending.map((row) => {
      const offered = federationConfigSchema.parse(JSON.parse(row.config));
      const approved = pinned.find((p) => p.federationId === row.federationId);
      return {
        federationId: row.federationId,
        configHash: row.configHash,
        config: JSON.parse(row.config) as Record<string, unknown>,
        receivedAt: row.receivedAt,
        changes: approved
          ? diffConfigs(federationConfigSchema.parse(JSON.parse(approved.config)), offered)
          : null,
        policyProblems: configPolicyProblems(offered, policy),
      };
    }),
    declines,
  };
}
