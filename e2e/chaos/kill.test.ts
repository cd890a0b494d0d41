import { afterEach, describe, expect, it } from 'vitest';
import { ProcessFederation } from '../support/process-federation.js';
import { cleanupTempDirs } from '../support/temp.js';
import { recordChaos } from './report.js';

// kill -9 of the coordinator at secure-aggregation stages (the sites' kills at every stage are in
// e2e/resilience.test.ts): after each restart the interrupted round is closed as aborted, no version is
// lost or changed, the stale lock is taken over, and the next round completes.

let federation: ProcessFederation | undefined;
afterEach(async () => {
  await federation?.stop();
  federation = undefined;
  cleanupTempDirs();
});

const LONG = process.env.COHORT_CHAOS_LONG === '1';

describe('coordinator killed at round stages', () => {
  it('restarts clean after kill -9 at each stage, and the next round completes', async () => {
    federation = await ProcessFederation.start(2);
    await federation.createFederation('killed', { secure: { enabled: true, clipNorm: 1 } });
    const stages = LONG
      ? ['join', 'advertise', 'share-keys', 'masked-input', 'consistency', 'unmask']
      : ['share-keys', 'unmask'];
    let faults = 0;
    let recordsLost = 0;
    let versions = 0;
    for (const stage of stages) {
      const before = await federation.federation('killed');
      const coordinator = federation.coordinator;
      const killed = coordinator
        .waitForEvent(
          (e) => e.event === 'round-stage' && e.stage === stage,
          `stage ${stage}`,
          120_000,
          coordinator.mark(),
        )
        .then(() => coordinator.child.kill('SIGKILL'));
      const marks = federation.sites.map((s) => s.process.mark());
      await federation.runRounds('killed', 1).catch((error: Error) => error);
      await killed;
      faults++;

      await federation.startCoordinator();
      for (const [i, site] of federation.sites.entries())
        await site.process.waitForEvent(
          (e) => e.event === 'connection' && e.state === 'connected',
          `${site.name} to reconnect`,
          30_000,
          marks[i],
        );
      const after = await federation.federation('killed');
      // Every round row and the version are still there; the interrupted round is closed.
      if (after.rounds.length < before.rounds.length + 1) recordsLost++;
      if (after.latestVersion.hash !== before.latestVersion.hash) recordsLost++;
      expect(after.rounds.at(-1), `killed at ${stage}`).toMatchObject({
        state: 'aborted',
        error: 'the coordinator restarted during the round',
      });

      const [next] = await federation.runRounds('killed', 1);
      expect(next!.status, `after a kill at ${stage}: ${next!.reason}`).toBe('completed');
      versions++;
      expect(next!.version?.version).toBe(versions);
    }
    recordChaos({ faultsInjected: faults, recordsLost, crashes: 0 });
    expect(recordsLost).toBe(0);
  }, 600_000);
});
