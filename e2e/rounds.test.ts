import { afterEach, describe, expect, it } from 'vitest';
import { bitsToFloats } from '../core/protocol/rounds.js';
import { quantizationErrorBound } from '../core/secagg/encoding.js';
import { roundEncodingSpec } from '../core/fl/round-vector.js';
import type { RunningCoordinator } from '../server/coordinator.js';
import type { SiteAgent } from '../src-main/agent/site-agent.js';
import { PARTICIPATION_SETTING } from '../src-main/federation/federation-client.js';
import { DEFAULT_SITE_POLICY } from '../src-main/federation/security-policy.js';
import { createFederation, federationOf } from './support/federation-rounds.js';
import { cleanupTempDirs } from './support/temp.js';

const running: { server: RunningCoordinator; sites: SiteAgent[] }[] = [];
afterEach(async () => {
  for (const { server, sites } of running.splice(0)) {
    await Promise.all(sites.map((site) => site.close()));
    await server.close();
  }
  cleanupTempDirs();
});

const sharedOf = async (server: RunningCoordinator, federationId: string, version: number) => {
  const row = await server.store.getVersion(federationId, version);
  if (!row) throw new Error(`no version ${version}`);
  return bitsToFloats(new Uint32Array(Uint8Array.from(row.shared).buffer));
};

describe('federated rounds over the network', () => {
  it('runs a secure round with three sites, publishes a signed version, and the sites adopt it', async () => {
    const federation = await federationOf(3);
    running.push(federation);
    await createFederation(federation, 'fed-a');
    const outcome = await federation.server.rounds.runRound('fed-a');
    expect(outcome.status, outcome.reason ?? '').toBe('completed');
    expect(outcome.included).toHaveLength(3);
    expect(outcome.version?.version).toBe(1);
    expect(outcome.metrics?.valExamples).toBeGreaterThan(0);
    expect(outcome.metrics?.closedAcc).not.toBeNull();
    for (const stage of ['advertise', 'share-keys', 'masked-input', 'consistency', 'unmask'])
      expect(outcome.timings.stagesMs).toHaveProperty(stage);
    // Every site received and stored version 1 (catch-up message after the round).
    await expect
      .poll(
        async () =>
          Promise.all(
            federation.sites.map(
              async (site) => (await site.storeRemote.latestGlobalVersion('fed-a'))?.version,
            ),
          ),
        { timeout: 10_000 },
      )
      .toEqual([1, 1, 1]);
    // What each site sent is in its audit log, with sizes and hashes.
    const audit = await federation.sites[0]!.storeRemote.auditLog(0, 100);
    const kinds = new Set(audit.entries.map((entry) => entry.kind));
    for (const kind of [
      'hello',
      'round-join',
      'advertise',
      'share-keys',
      'masked-input',
      'consistency',
      'unmask',
    ])
      expect(kinds).toContain(kind);
    expect(audit.entries.every((entry) => /^[0-9a-f]{64}$/.test(entry.sha256) && entry.bytes > 0)).toBe(true);
  });

  it('runs a secure round without a site that declined to join: only the joined sites are waited for and summed', async () => {
    const federation = await federationOf(3);
    running.push(federation);
    // The default threshold: over the three invited sites it would be 3, over the two that join it is 2.
    await createFederation(federation, 'fed-decline', { secure: { enabled: true, clipNorm: 1 } });
    const declining = federation.sites[2]!;
    await declining.storeRemote.setSetting(PARTICIPATION_SETTING, {
      participate: false,
      window: null,
      autoAcceptRoster: true,
    });
    const outcome = await federation.server.rounds.runRound('fed-decline');
    // The sites build their secure-aggregation session from the round-roster frame (the joined sites), the
    // coordinator from the same list: otherwise their session ids differ and every share-keys message is
    // refused, or the declined site counts against the threshold and the round stops at the adverts.
    expect(outcome.status, outcome.reason ?? '').toBe('completed');
    expect(outcome.included).toHaveLength(2);
    const declinedId = (await declining.status()).site?.id;
    expect(declinedId).toBeDefined();
    expect(outcome.participants).toContain(declinedId);
    expect(outcome.included).not.toContain(declinedId);
    expect(outcome.version?.version).toBe(1);
  });

  it('says why a round could not start: each declining site and its reason', async () => {
    const federation = await federationOf(3);
    running.push(federation);
    await createFederation(federation, 'fed-paused', { minSites: 2 });
    for (const paused of federation.sites.slice(1))
      await paused.storeRemote.setSetting(PARTICIPATION_SETTING, {
        participate: false,
        window: null,
        autoAcceptRoster: true,
      });
    const outcome = await federation.server.rounds.runRound('fed-paused');
    expect(outcome.status).toBe('aborted');
    expect(outcome.reason).toMatch(/^only 1 site\(s\) joined; the federation needs at least 2 \(/);
    for (const paused of federation.sites.slice(1)) {
      const id = (await paused.status()).site!.id;
      expect(outcome.reason).toContain(`${id}: the site operator has paused participation`);
    }
  });

  it('gives the same global model with secure aggregation on and off, up to the quantization bound', async () => {
    const federation = await federationOf(3);
    running.push(federation);
    // The same clipping bound on both sides: only the aggregation differs.
    await createFederation(federation, 'fed-secure', { secure: { enabled: true, clipNorm: 1 } });
    // Insecure mode exists only when each site's operator switches it on locally.
    for (const site of federation.sites)
      await site.storeRemote.setSitePolicy({ ...DEFAULT_SITE_POLICY, secureRequired: false });
    const config = await createFederation(federation, 'fed-plain', {
      secure: { enabled: false, clipNorm: 1 },
    });
    const secure = await federation.server.rounds.runRound('fed-secure');
    const plain = await federation.server.rounds.runRound('fed-plain');
    expect(secure.status).toBe('completed');
    expect(plain.status).toBe('completed');
    expect(plain.timings.stagesMs).toHaveProperty('plain-update');
    const a = await sharedOf(federation.server, 'fed-secure', 1);
    const b = await sharedOf(federation.server, 'fed-plain', 1);
    const start = await sharedOf(federation.server, 'fed-plain', 0);
    expect(a.length).toBe(b.length);
    let worst = 0;
    let moved = 0;
    for (let i = 0; i < a.length; i++) {
      worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
      moved = Math.max(moved, Math.abs(b[i]! - start[i]!));
    }
    const bound = quantizationErrorBound(
      roundEncodingSpec(config.secure.clipNorm, 3),
      3,
      secure.metrics!.trainExamples,
    );
    expect(moved).toBeGreaterThan(100 * bound); // the round did move the model…
    expect(worst).toBeLessThanOrEqual(bound + 1e-6); // …and both modes moved it to the same place.
    expect(secure.metrics!.closedAcc).toBe(plain.metrics!.closedAcc);
  });
});

describe('evaluation rounds', () => {
  it('measure the current version federation-wide without publishing a new one', async () => {
    const federation = await federationOf(2);
    running.push(federation);
    await createFederation(federation, 'fed-eval');
    const trained = await federation.server.rounds.runRound('fed-eval');
    const evaluation = await federation.server.rounds.runRound('fed-eval', { evaluateOnly: true });
    expect(evaluation.status, evaluation.reason ?? '').toBe('completed');
    expect(evaluation.version).toBeNull();
    expect(evaluation.metrics?.startingVersion).toBe(1);
    expect(evaluation.metrics?.trainExamples).toBe(0);
    expect(evaluation.metrics?.valExamples).toBe(trained.metrics?.valExamples);
    expect((await federation.server.store.getVersion('fed-eval'))?.version).toBe(1);
    const site = federation.sites[0]!;
    await expect
      .poll(
        async () =>
          (await site.storeRemote.localRounds('fed-eval')).map((r) => [r.round, r.status, r.details.mode]),
        { timeout: 10_000 },
      )
      .toEqual([
        [2, 'completed', 'evaluate'],
        [1, 'completed', 'train'],
      ]);
    const rounds = await site.storeRemote.localRounds('fed-eval');
    expect(rounds[1]!.details.uploadBytes as number).toBeGreaterThan(
      rounds[0]!.details.uploadBytes as number,
    );
  });
});
