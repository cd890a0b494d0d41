import { federationConfigSchema } from '../../core/protocol/federation.js';
import type { FederationSecurity, SitePolicy } from '../../core/site-api/contract.js';
import type {
  DeclineRow,
  PendingConfigRow,
  PinnedConfigRow,
  PreapprovedConfigRow,
} from '../store/security-data.js';
import { configPolicyProblems, diffConfigs } from './security-policy.js';

type MaybeAsync<T> = T | Promise<T>;

/** What approval needs of the site store: the store itself (CLI) or its worker proxy (site agent). */
export interface SecurityStore {
  sitePolicy(): MaybeAsync<SitePolicy>;
  pendingConfigs(federationId?: string): MaybeAsync<PendingConfigRow[]>;
  pinnedConfigs(federationId?: string): MaybeAsync<PinnedConfigRow[]>;
  pinConfig(row: PinnedConfigRow): MaybeAsync<void>;
  preapprovedConfigs(federationId?: string): MaybeAsync<PreapprovedConfigRow[]>;
  preapproveConfig(row: PreapprovedConfigRow): MaybeAsync<void>;
  declines(limit?: number): MaybeAsync<DeclineRow[]>;
}

const FULL_HASH = /^[0-9a-f]{64}$/;

/**
 * The operator approves the configuration the coordinator offered for a federation. With `expectedHash`
 * (what the operator reviewed), approval fails if a newer offer replaced it meanwhile. A configuration
 * below the site's policy cannot be approved: the operator changes the policy first, knowingly.
 *
 * Before any offer arrived, a full hash approves in advance: the consortium circulates its config hash
 * out of band (like the sites' fingerprints) and the first offer with exactly that hash is pinned, after
 * the same policy check every offer gets.
 */
export async function approvePendingConfig(
  store: SecurityStore,
  federationId: string,
  expectedHash?: string,
): Promise<{ configHash: string; approvedAt: string; inAdvance: boolean }> {
  const [pending] = await store.pendingConfigs(federationId);
  if (!pending && expectedHash !== undefined && FULL_HASH.test(expectedHash)) {
    const row = { federationId, configHash: expectedHash, approvedAt: new Date().toISOString() };
    await store.preapproveConfig(row);
    return { ...row, inAdvance: true };
  }
  if (!pending)
    throw new Error(
      `no configuration of federation '${federationId}' is awaiting approval (give its full 64-digit hash to approve it in advance)`,
    );
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
  return { configHash: row.configHash, approvedAt: row.approvedAt, inAdvance: false };
}

/** The policy, pinned configurations, pending changes field by field, and recent declines. */
export async function securityView(store: SecurityStore): Promise<FederationSecurity> {
  const [policy, pinned, pending, declines, preapproved] = await Promise.all([
    store.sitePolicy(),
    store.pinnedConfigs(),
    store.pendingConfigs(),
    store.declines(50),
    store.preapprovedConfigs(),
  ]);
  return {
    policy,
    preapproved,
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
