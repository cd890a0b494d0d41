import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultBaseModelDir, loadBaseModel } from '../../core/ml/base-model.node.js';
import type { EvalResult } from '../../core/ml/engine.node.js';
import { ScriptedRound, TestCoordinator, until, type TestSite } from './test-coordinator.js';

// Secure aggregation's setup (advertise, share-keys) runs while the sites train; the round pays for it
// only when a trained update has to wait for it. Each site measures that wait and reports it with the
// round, which is how the demo's "share of round time" counts setup.

let coordinator: TestCoordinator;
beforeAll(async () => {
  coordinator = await TestCoordinator.create(await loadBaseModel(defaultBaseModelDir()));
});
afterEach(() => coordinator.close());

const evaluation: EvalResult = { n: 4, closed: { n: 3, correct: 2 }, open: { n: 1, correct: 1 }, lossSum: 1 };

/** An evaluation-only round over three sites whose evaluation finishes when `evaluated` resolves. */
async function roundWithGatedEvaluation(evaluated: Promise<void>) {
  const gated = () => ({
    train: () => Promise.reject(new Error('an evaluation round trains nothing')),
    evaluate: async () => {
      await evaluated;
      return evaluation;
    },
    close: async () => undefined,
  });
  const sites: TestSite[] = [];
  for (let i = 0; i < 3; i++) sites.push(await coordinator.site({ trainer: gated }));
  await coordinator.approveRosters();
  const config = coordinator.config();
  await coordinator.pin(config);
  const version = await coordinator.version(config);
  const open = coordinator.roundOpen(
    version,
    sites.map((site) => site.id),
    coordinator.identityKeys(sites),
    { mode: 'evaluate' },
  );
  const round = new ScriptedRound(open, sites);
  await round.join();
  await round.roster();
  await round.stage('advertise');
  return { sites, round };
}

const evaluatedAt = (site: TestSite) =>
  until(`${site.id} to finish evaluating`, () =>
    site.events.find((e) => e.type === 'round' && e.phase === 'evaluated'),
  );

/** The round ends; each site records it with its figures. Returns each site's secaggSetupWaitMs. */
async function setupWaits(sites: TestSite[], round: ScriptedRound) {
  await round.stage('masked-input');
  for (const site of sites)
    site.connection.deliver({
      type: 'round-result',
      federationId: 'fed',
      round: 1,
      status: 'aborted',
      reason: 'test',
      version: null,
      included: [],
      dropped: [],
    });
  const rows = await Promise.all(
    sites.map((site) =>
      until(`${site.id} to record the round`, async () => {
        const [row] = await site.store.remote.localRounds('fed');
        return row?.status === 'aborted' ? row : undefined;
      }),
    ),
  );
  return rows.map((row) => row.details.secaggSetupWaitMs);
}

describe('what secure aggregation’s setup costs a round', () => {
  it('counts the time a finished update waited for the share bundle', async () => {
    const { sites, round } = await roundWithGatedEvaluation(Promise.resolve());
    await Promise.all(sites.map(evaluatedAt));
    const held = 200;
    await new Promise((resolve) => setTimeout(resolve, held));
    await round.stage('share-keys');
    for (const wait of await setupWaits(sites, round)) expect(wait).toBeGreaterThanOrEqual(held - 5);
  });

  it('counts nothing when the share bundle was there before the update', async () => {
    let finish!: () => void;
    const { sites, round } = await roundWithGatedEvaluation(new Promise<void>((r) => (finish = r)));
    await round.stage('share-keys');
    await new Promise((resolve) => setTimeout(resolve, 100));
    finish();
    await Promise.all(sites.map(evaluatedAt));
    expect(await setupWaits(sites, round)).toEqual([0, 0, 0]);
  });
});
