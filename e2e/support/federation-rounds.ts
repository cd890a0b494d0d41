import { defaultBaseModelDir, loadBaseModel } from '../../core/ml/base-model.node.js';
import { configHash, type FederationConfig } from '../../core/protocol/federation.js';
import type { RunningCoordinator } from '../../server/coordinator.js';
import { readAnswerSet } from '../../core/data/answers.node.js';
import { defaultFederationConfig, initialSharedVector } from '../../server/federations.js';
import type { SiteAgent } from '../../src-main/agent/site-agent.js';
import { approvePendingConfig } from '../../src-main/federation/config-approval.js';
import { PARTICIPATION_SETTING } from '../../src-main/federation/federation-client.js';
import { invite, makeCoordinator, openSite, start, waitForConnection } from './federation.js';

export const SITE_PRESETS = ['chest-clinic', 'neuro-center', 'abdominal-imaging'] as const;

/** A running coordinator with `n` enrolled, connected, participating sites holding SynthRad data. */
export async function federationOf(n: number, questionsPerSite = 60) {
  const coordinator = await makeCoordinator('Round test consortium');
  const server = await start(coordinator);
  const sites: SiteAgent[] = [];
  for (let i = 0; i < n; i++) {
    const site = await openSite();
    await site.enroll(await invite(coordinator.dataDir, `Site ${i + 1}`));
    await site.storeRemote.setSetting(PARTICIPATION_SETTING, {
      participate: true,
      window: null,
      autoAcceptRoster: true,
    });
    await site.data.generateSynthRad({
      preset: SITE_PRESETS[i % SITE_PRESETS.length]!,
      n: questionsPerSite,
      seed: 100 + i,
    });
    await waitForConnection(site, 'connected');
    sites.push(site);
  }
  return { coordinator, server, sites };
}

/** A small, fast federation config for tests (one local epoch, short deadlines). */
export async function testFederationConfig(
  overrides: Partial<FederationConfig> = {},
): Promise<{ config: FederationConfig; initialShared: Float32Array }> {
  const base = await loadBaseModel(defaultBaseModelDir());
  const config = defaultFederationConfig(base, 'test federation', await readAnswerSet('synth'), {
    local: { epochs: 1, batchSize: 16, lr: 3e-3, weightDecay: 0, gradClip: 1 },
    deadlines: { trainingMs: 60_000, stageMs: 10_000 },
    ...overrides,
  });
  return { config, initialShared: initialSharedVector(base, config) };
}

/**
 * Creates a federation; each site's operator approves its configuration by the hash the consortium
 * circulates (config pinning: the first offer with that hash is pinned).
 */
export async function createFederation(
  { server, sites }: { server: RunningCoordinator; sites: SiteAgent[] },
  id: string,
  overrides: Partial<FederationConfig> = {},
) {
  const { config, initialShared } = await testFederationConfig(overrides);
  await server.rounds.createFederation(id, config, initialShared);
  const hash = await configHash(config);
  for (const site of sites) await approvePendingConfig(site.storeRemote, id, hash);
  return config;
}
