import { afterEach, describe, expect, it } from 'vitest';
import { ProcessFederation } from './support/process-federation.js';
import { cleanupTempDirs } from './support/temp.js';

// Real processes, real kills (SIGKILL: no goodbye message), real restarts. Three sites with threshold
// t = 2: one site may drop at any point and the round still completes; two may not.

let federation: ProcessFederation | undefined;
afterEach(async () => {
  await federation?.stop();
  federation = undefined;
  cleanupTempDirs();
});

describe('site failures', () => {
  it('a site killed during training or at any secure-aggregation stage is recovered, and catches up after restart', async () => {
    federation = await ProcessFederation.start(3);
    // t = 2 of 3 tolerates one drop; the sites' operators accept a strict majority for this test.
    await federation.setPolicy({ minThreshold: { numerator: 1, denominator: 2 } });
    await federation.createFederation('resilient', { secure: { enabled: true, clipNorm: 1, threshold: 2 } });
    const victim = federation.sites[2]!;
    // Each phase is reported right after the site sent the message named (joined: its round-join, just
    // before its advert, so the kill may land before the join stage closes or after).
    const killPoints = ['train', 'joined', 'secagg:share-keys', 'secagg:masked-input', 'secagg:consistency'];
    for (const [index, phase] of killPoints.entries()) {
      const round = index + 1;
      const killed = federation.killSiteAt(victim, round, phase);
      const [outcome] = await federation.runRounds('resilient', 1);
      await killed;
      expect(outcome!.status, `killed at ${phase}: ${outcome!.reason}`).toBe('completed');
      expect(outcome!.version?.version).toBe(round);
      // Killed after its masked input arrived, the site's input is in the sum; before, it is dropped.
      const inputArrived = phase === 'secagg:masked-input' || phase === 'secagg:consistency';
      expect(outcome!.included.length, `killed at ${phase}`).toBe(inputArrived ? 3 : 2);

      await federation.startSite(victim);
      const caughtUp = await victim.process.waitForEvent(
        (e) => e.event === 'version' && e.version === round,
        `${victim.name} to catch up to version ${round}`,
      );
      expect(caughtUp.federationId).toBe('resilient');
    }
  });

  it('below the threshold a round aborts cleanly, and the next round runs', async () => {
    federation = await ProcessFederation.start(3);
    // t = 2 of 3 tolerates one drop; the sites' operators accept a strict majority for this test.
    await federation.setPolicy({ minThreshold: { numerator: 1, denominator: 2 } });
    await federation.createFederation('fragile', { secure: { enabled: true, clipNorm: 1, threshold: 2 } });
    const [first, second] = federation.sites.slice(1);
    const killed = Promise.all([
      federation.killSiteAt(first!, 1, 'train'),
      federation.killSiteAt(second!, 1, 'train'),
    ]);
    const [aborted] = await federation.runRounds('fragile', 1);
    await killed;
    expect(aborted!.status).toBe('aborted');
    expect(aborted!.reason).toMatch(/threshold|below/);
    expect((await federation.federation('fragile')).latestVersion.version).toBe(0);

    await federation.startSite(first!);
    await federation.startSite(second!);
    const [next] = await federation.runRounds('fragile', 1);
    expect(next!.status, next!.reason ?? '').toBe('completed');
    expect(next!.version?.version).toBe(1);
  });
});

describe('coordinator failure', () => {
  it('a coordinator stopped gracefully mid-round records that it shut down, not a stage failure', async () => {
    federation = await ProcessFederation.start(2);
    await federation.createFederation('stoppable', { secure: { enabled: true, clipNorm: 1 } });
    const rounds = federation.runRounds('stoppable', 2).catch((error: Error) => error);
    await federation.sites[0]!.process.waitForEvent(
      (e) => e.event === 'round' && e.phase === 'train',
      'training to start',
    );
    federation.coordinator.child.kill('SIGTERM');
    const finished = await federation.coordinator.waitForEvent(
      (e) => e.event === 'round-finished',
      'the coordinator to close the round',
    );
    expect(finished.outcome).toMatchObject({ round: 1, status: 'aborted', reason: 'coordinator shut down' });
    await rounds;

    await federation.startCoordinator();
    const after = await federation.federation('stoppable');
    expect(after.rounds).toEqual([
      expect.objectContaining({ round: 1, state: 'aborted', error: 'coordinator shut down' }),
    ]);
  });

  it('a coordinator killed mid-round restarts with no corrupted version, and the next round runs', async () => {
    federation = await ProcessFederation.start(3);
    await federation.createFederation('restartable', { secure: { enabled: true, clipNorm: 1 } });
    const before = await federation.federation('restartable');
    const site = federation.sites[0]!;
    const rounds = federation.runRounds('restartable', 1).catch((error: Error) => error);
    await site.process.waitForEvent((e) => e.event === 'round' && e.phase === 'train', 'training to start');
    const marks = federation.sites.map((s) => s.process.mark());
    federation.coordinator.child.kill('SIGKILL');
    expect(await rounds).toBeInstanceOf(Error); // the admin stream broke with the process

    await federation.startCoordinator();
    for (const s of federation.sites)
      await s.process.waitForEvent(
        (e) => e.event === 'round' && e.phase === 'interrupted',
        `${s.name} to give up the round`,
      );
    const after = await federation.federation('restartable');
    expect(after.rounds[0]).toMatchObject({
      round: 1,
      state: 'aborted',
      error: 'the coordinator restarted during the round',
    });
    expect(after.latestVersion).toEqual(before.latestVersion);

    for (const [i, s] of federation.sites.entries()) {
      await s.process.waitForEvent(
        (e) => e.event === 'connection' && e.state === 'connected',
        `${s.name} to reconnect`,
        30_000,
        marks[i],
      );
    }
    const [next] = await federation.runRounds('restartable', 1);
    expect(next!.status, next!.reason ?? '').toBe('completed');
    expect(next!.round).toBe(2);
    expect(next!.version?.version).toBe(1);
  });
});
