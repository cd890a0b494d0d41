import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeKey, generateIdentity } from '../../core/crypto/identity.js';
import { defaultBaseModelDir, loadBaseModel } from '../../core/ml/base-model.node.js';
import type { FederationConfig } from '../../core/protocol/federation.js';
import { APPROVED_ROSTER_SETTING } from './federation-client.js';
import { DEFAULT_SITE_POLICY } from './security-policy.js';
import {
  ScriptedRound,
  TestCoordinator,
  containsBytes,
  sentOf,
  until,
  updateOf,
  type TestSite,
} from './test-coordinator.js';

// A coordinator that lies, scripted frame by frame against real site clients (each with its own store,
// its own secure-aggregation client and policy). Every test asserts three things: the site declines or
// leaves, it sends nothing the protocol would not allow at that point, and its operator is told why.

let coordinator: TestCoordinator;
beforeAll(async () => {
  coordinator = await TestCoordinator.create(await loadBaseModel(defaultBaseModelDir()));
});
afterEach(() => coordinator.close());

/** Sites with the approved roster of each other and `config` pinned, as their operators set them up. */
async function federation(n: number, config: FederationConfig, options: { questions?: number } = {}) {
  const sites: TestSite[] = [];
  for (let i = 0; i < n; i++) sites.push(await coordinator.site(options));
  await coordinator.approveRosters();
  await coordinator.pin(config);
  return sites;
}

const ids = (sites: TestSite[]) => sites.map((site) => site.id);

/** What the operator sees: the last decline recorded at the site. */
async function lastDecline(site: TestSite) {
  return until(`${site.id}'s decline`, async () => (await site.client.view()).security.declines[0]);
}

/** The site left the round (and said why); it sent nothing of `types` after `before` frames. */
async function leftWithout(site: TestSite, reason: RegExp, types: string[]) {
  const leave = await until(`${site.id} to leave`, () => sentOf(site, 'round-leave')[0]);
  expect(leave.reason).toMatch(reason);
  expect(site.client.refusal?.message).toMatch(reason);
  for (const type of types) expect(sentOf(site, type), `${site.id} sent ${type}`).toEqual([]);
}

/** Opens an evaluation round (no training: quick) to `sites` and runs it up to the masked inputs. */
async function roundUpToMaskedInputs(sites: TestSite[], config: FederationConfig, roundNumber = 1) {
  const version = await coordinator.version(config);
  const open = coordinator.roundOpen(version, ids(sites), coordinator.identityKeys(sites), {
    mode: 'evaluate',
    round: roundNumber,
  });
  const round = new ScriptedRound(open, sites);
  await round.join();
  await round.roster();
  await round.stage('advertise');
  await round.stage('share-keys');
  return round;
}

describe('a coordinator that changes the configuration', () => {
  it('between rounds: a round under another configuration is declined until the operator approves the change, shown field by field', async () => {
    const approved = coordinator.config();
    const [site] = await federation(1, approved);
    const changed = coordinator.config({
      strategy: { kind: 'fedprox', mu: 0.1 },
      adapter: { ...approved.adapter, lora: { ...approved.adapter.lora, enabled: true, shared: true } },
    });
    const version = await coordinator.version(changed);
    site!.connection.deliver(
      coordinator.roundOpen(version, ['site-1', 'site-2'], coordinator.identityKeys()),
    );
    const join = await until('the join answer', () => sentOf(site!, 'round-join')[0]);
    expect(join).toMatchObject({
      accept: false,
      reason: expect.stringMatching(/configuration changed .* awaits the operator's approval/),
    });
    expect((await lastDecline(site!)).reason).toMatch(/configuration changed/);
    const { pending } = (await site!.client.view()).security;
    expect(pending).toHaveLength(1);
    expect(pending[0]!.changes).toEqual(
      expect.arrayContaining([
        { field: 'adapter.lora.enabled', approved: false, offered: true, weakens: true },
        { field: 'adapter.lora.shared', approved: false, offered: true, weakens: true },
        { field: 'strategy.kind', approved: 'fedavg', offered: 'fedprox', weakens: false },
      ]),
    );
    expect(await site!.store.remote.latestGlobalVersion('fed')).toBeUndefined();

    // The operator approves what they reviewed; the same round-open is then joined.
    await site!.client.approveConfig('fed', version.configHash);
    site!.connection.deliver(
      coordinator.roundOpen(version, ['site-1'], coordinator.identityKeys(), { round: 2 }),
    );
    await until('the second join', () => sentOf(site!, 'round-join')[1]);
    expect(sentOf(site!, 'round-join')[1]).toMatchObject({ accept: true });
  });

  it('with auto-accept on: a change that weakens no security field is taken, one that does is still asked', async () => {
    const approved = coordinator.config();
    const [site] = await federation(1, approved);
    await site!.store.remote.setSitePolicy({ ...DEFAULT_SITE_POLICY, autoAcceptConfig: true });
    const harmless = await coordinator.version(
      coordinator.config({ local: { ...approved.local, lr: 5e-4 } }),
    );
    site!.connection.deliver(harmless);
    await expect.poll(async () => (await site!.store.remote.latestGlobalVersion('fed'))?.version).toBe(0);
    expect((await site!.client.view()).security.pinned[0]).toMatchObject({
      configHash: harmless.configHash,
      approvedBy: 'auto-accept',
    });
    const weaker = await coordinator.version(
      { ...harmless.config, secure: { enabled: true, clipNorm: 1, threshold: 2 } },
      { number: 1 },
    );
    site!.connection.deliver(weaker);
    await expect
      .poll(async () => (await site!.client.view()).security.pending[0]?.configHash)
      .toBe(weaker.configHash);
    expect((await site!.client.view()).security.pending[0]!.changes).toEqual([
      { field: 'secure.threshold', approved: undefined, offered: 2, weakens: true },
    ]);
    expect((await site!.store.remote.latestGlobalVersion('fed'))?.version).toBe(0);
  });

  it('between stages: a configuration announced mid-round is not taken, and the round goes on under the approved one', async () => {
    const config = coordinator.config();
    const sites = await federation(2, config);
    const version = await coordinator.version(config);
    const round = new ScriptedRound(
      coordinator.roundOpen(version, ids(sites), coordinator.identityKeys(), { mode: 'evaluate' }),
      sites,
    );
    await round.join();
    const other = await coordinator.version(coordinator.config({ secure: { enabled: false, clipNorm: 1 } }), {
      number: 1,
    });
    for (const site of sites) site.connection.deliver(other);
    for (const site of sites) {
      await expect.poll(() => site.client.refusal?.message).toMatch(/secure aggregation is off/);
      expect((await site.store.remote.latestGlobalVersion('fed'))?.version).toBe(0);
      // The operator cannot approve it either while the policy requires secure aggregation.
      await expect(site.client.approveConfig('fed', other.configHash)).rejects.toThrow(
        /below the site's security policy: secure aggregation is off/,
      );
    }
    await round.roster();
    await round.stage('advertise');
    await round.stage('share-keys');
    await round.stage('masked-input');
    await round.stage('consistency');
    await round.stage('unmask');
    expect(round.server.stage).toBe('done');
    for (const site of sites) expect(sentOf(site, 'plain-update')).toEqual([]);
  });
});

describe('a coordinator that lowers the protection below the site policy', () => {
  it('secure.enabled false: declined, and no plain update leaves, even when the operator had pinned that configuration', async () => {
    const insecure = coordinator.config({ secure: { enabled: false, clipNorm: 1 } });
    const [site] = await federation(1, insecure);
    const version = await coordinator.version(insecure);
    site!.connection.deliver(
      coordinator.roundOpen(version, ['site-1', 'site-2'], coordinator.identityKeys()),
    );
    const join = await until('the join answer', () => sentOf(site!, 'round-join')[0]);
    expect(join).toMatchObject({ accept: false, reason: expect.stringMatching(/secure aggregation is off/) });
    expect(site!.client.refusal?.message).toMatch(/policy requires secure aggregation/);
    expect((await lastDecline(site!)).reason).toMatch(/secure aggregation is off/);
    expect(sentOf(site!, 'plain-update')).toEqual([]);
  });

  const weakParameters: [string, Partial<FederationConfig['secure']>, number, RegExp][] = [
    ['threshold 2 of 6', { threshold: 2 }, 6, /threshold 2 of 6 sites; .*\(at least 5\)/],
    [
      'threshold 3 of 6 (two halves could each unmask: a split view)',
      { threshold: 3 },
      6,
      /threshold 3 of 6/,
    ],
    ['threshold 4 of 6 (exactly 2n/3, not above it)', { threshold: 4 }, 6, /threshold 4 of 6/],
    [
      'SecAgg+ neighbourhoods of 2',
      { neighbours: 2 },
      6,
      /neighbourhoods of 2 sites; this site requires at least 100/,
    ],
  ];
  for (const [what, secure, n, reason] of weakParameters) {
    it(`${what}: the site leaves at the roster, before it advertises any key`, async () => {
      const config = coordinator.config({ secure: { enabled: true, clipNorm: 1, ...secure } });
      const [site] = await federation(1, config);
      // The other sites are only names and keys here: the site refuses before anyone else acts.
      const keys = { ...coordinator.identityKeys() };
      for (let i = 2; i <= n; i++) keys[`peer-${i}`] = encodeKey((await generateIdentity()).publicKey);
      await site!.store.remote.setSetting(APPROVED_ROSTER_SETTING, keys);
      const participants = Object.keys(keys).sort();
      site!.connection.deliver(coordinator.roundOpen(await coordinator.version(config), participants, keys));
      await until('the join', () => sentOf(site!, 'round-join')[0]?.accept === true);
      site!.connection.deliver({ type: 'round-roster', federationId: 'fed', round: 1, participants });
      await leftWithout(site!, reason, ['advertise']);
    });
  }

  it('minSites lowered below the site policy: declined at the round-open', async () => {
    const config = coordinator.config({ minSites: 1 });
    const [site] = await federation(1, config);
    site!.connection.deliver(
      coordinator.roundOpen(await coordinator.version(config), ['site-1'], coordinator.identityKeys()),
    );
    const join = await until('the join answer', () => sentOf(site!, 'round-join')[0]);
    expect(join).toMatchObject({
      accept: false,
      reason: expect.stringMatching(/minSites is 1, this site requires at least 2/),
    });
    expect(site!.client.refusal?.message).toMatch(/minSites is 1/);
  });

  it('a roster cut below the least number of sites: the site leaves before advertising', async () => {
    const config = coordinator.config({ minSites: 3 });
    const sites = await federation(3, config);
    const version = await coordinator.version(config);
    const round = new ScriptedRound(
      coordinator.roundOpen(version, ids(sites), coordinator.identityKeys()),
      sites,
    );
    await round.join();
    await round.roster(['site-1', 'site-2']);
    for (const site of sites.slice(0, 2))
      await leftWithout(site, /2 site\(s\); this site requires at least 3/, ['advertise']);
  });
});

describe('a coordinator that lies about who takes part', () => {
  it('a sybil site added to the roster: declined until the operator approves the new site', async () => {
    const config = coordinator.config();
    const sites = await federation(2, config);
    const sybil = await generateIdentity();
    const keys = { ...coordinator.identityKeys(), 'site-x': encodeKey(sybil.publicKey) };
    for (const site of sites)
      site.connection.deliver(
        coordinator.roundOpen(await coordinator.version(config), [...ids(sites), 'site-x'], keys),
      );
    for (const site of sites) {
      const join = await until('the join answer', () => sentOf(site, 'round-join')[0]);
      expect(join).toMatchObject({
        accept: false,
        reason: 'roster change awaiting operator approval (site-x)',
      });
      expect(site.events).toContainEqual({ type: 'roster-pending', sites: ['site-x'] });
      expect((await lastDecline(site)).reason).toMatch(/site-x/);
      expect(sentOf(site, 'advertise')).toEqual([]);
    }
  });

  it('a known site announced with another identity key: declined', async () => {
    const config = coordinator.config();
    const sites = await federation(2, config);
    const keys = { ...coordinator.identityKeys(), 'site-2': encodeKey((await generateIdentity()).publicKey) };
    sites[0]!.connection.deliver(coordinator.roundOpen(await coordinator.version(config), ids(sites), keys));
    const join = await until('the join answer', () => sentOf(sites[0]!, 'round-join')[0]);
    expect(join).toMatchObject({
      accept: false,
      reason: expect.stringMatching(/site-2 announced a different identity key/),
    });
  });

  it('a site listed alive and dead: no site reveals a share', async () => {
    const config = coordinator.config();
    const sites = await federation(3, config);
    const round = await roundUpToMaskedInputs(sites, config);
    await round.stage('masked-input');
    await round.stage('consistency', (_to, message) =>
      message.type === 'unmask-request' ? { ...message, dead: [message.alive[0]!] } : message,
    );
    for (const site of sites)
      await leftWithout(site, /listed both alive and dead|listed as dead/, ['unmask']);
  });

  it('a replayed unmasking request: each site answers once, then refuses', async () => {
    const config = coordinator.config();
    const sites = await federation(3, config);
    const round = await roundUpToMaskedInputs(sites, config);
    await round.stage('masked-input');
    await round.stage('consistency', (_to, message) => [message, message]);
    for (const site of sites) {
      await until(`${site.id} to refuse the replay`, () => sentOf(site, 'round-leave')[0]);
      expect(site.client.refusal?.message).toMatch(/got unmask-request while waiting for/);
      expect(sentOf(site, 'unmask')).toHaveLength(1);
    }
  });

  it('different U3 to different sites (a split view): neither half reaches the threshold, and nobody unmasks', async () => {
    const config = coordinator.config();
    const sites = await federation(6, config);
    const round = await roundUpToMaskedInputs(sites, config);
    const halves = [ids(sites).slice(0, 3), ids(sites).slice(3)];
    const halfOf = (id: string) => halves.find((half) => half.includes(id))!;
    // Every masked input arrived; each half is told that only it did.
    await round.stage('masked-input', (to, message) =>
      message.type === 'alive' ? { ...message, alive: halfOf(to) } : message,
    );
    // Each half has 3 of the 5 signatures it needs: every site refuses before it even signs its U3.
    for (const site of sites)
      await leftWithout(site, /3 sites alive, threshold 5/, ['consistency', 'unmask']);
  });
});

describe('metric counters cannot be differenced', () => {
  /** Round 1 over all three sites up to the sum; then the coordinator claims it failed. */
  async function summedThenAborted(sites: TestSite[], config: FederationConfig) {
    const first = await roundUpToMaskedInputs(sites, config);
    await first.stage('masked-input');
    await first.stage('consistency');
    await first.stage('unmask');
    expect(first.server.stage).toBe('done');
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
  }

  it('a second round from the same version that would sum another set of sites is refused at unmasking, so no two sums can be subtracted', async () => {
    const config = coordinator.config();
    const sites = await federation(3, config);
    await summedThenAborted(sites, config);
    // Round 2 from the same version without site-3: its difference from round 1 would be site-3's counters.
    const second = await roundUpToMaskedInputs(sites.slice(0, 2), config, 2);
    await second.stage('masked-input');
    await second.stage('consistency');
    for (const site of sites.slice(0, 2)) {
      const leave = await until(`${site.id} to leave round 2`, () =>
        sentOf(site, 'round-leave').find((m) => m.round === 2),
      );
      expect(leave.reason).toMatch(
        /in round 1 it already let the coordinator sum its contribution from version 0 over another set of sites/,
      );
      // Its key shares for round 1's sum went out once; none for the second.
      expect(sentOf(site, 'unmask')).toHaveLength(1);
    }
  });

  it('a retry from the same version over the same sites (after a coordinator crash, say) runs: it reveals no new sum', async () => {
    const config = coordinator.config();
    const sites = await federation(3, config);
    await summedThenAborted(sites, config);
    const retry = await roundUpToMaskedInputs(sites, config, 2);
    await retry.stage('masked-input');
    await retry.stage('consistency');
    await retry.stage('unmask');
    expect(retry.server.stage).toBe('done');
    for (const site of sites) expect(sentOf(site, 'unmask')).toHaveLength(2);
  });

  it('the sum a contribution went into is recorded before the key shares leave, and survives a restart', async () => {
    const config = coordinator.config();
    const [site] = await federation(2, config);
    const { hash } = (await coordinator.version(config)).version;
    const claim = (round: number, summedWith: string) =>
      site!.store.remote.claimContribution('fed', hash, round, summedWith);
    expect(await claim(1, 'sites site-1, site-2')).toEqual({ ok: true });
    expect(await claim(2, 'sites site-1, site-2')).toEqual({ ok: true });
    expect(await claim(2, 'sites site-1')).toEqual({ ok: false, round: 1 });
  });
});

describe('never plaintext unless the site chose it', () => {
  /** Sites that train (fast) and run one training round up to where every update has left. */
  async function trainingRound(config: FederationConfig, policy = DEFAULT_SITE_POLICY) {
    const sites = await federation(2, config, { questions: 12 });
    for (const site of sites) await site.store.remote.setSitePolicy(policy);
    const version = await coordinator.version(config);
    const round = new ScriptedRound(
      coordinator.roundOpen(version, ids(sites), coordinator.identityKeys()),
      sites,
    );
    await round.join();
    await round.roster();
    if (config.secure.enabled) {
      await round.stage('advertise');
      await round.stage('share-keys');
      await round.stage('masked-input');
      await round.stage('consistency');
      await round.stage('unmask');
      expect(round.server.stage).toBe('done');
    } else
      for (const site of sites)
        await until(`${site.id}'s plain update`, () => sentOf(site, 'plain-update')[0]);
    return sites.map((site) => {
      const update = updateOf(site.trainings[0]!);
      // 32 bytes from the middle of the update: any copy of the update in the clear contains them.
      return { site, needle: new Uint8Array(update.buffer, (update.length >> 1) * 4, 32).slice() };
    });
  }

  it('with secure aggregation, no frame a site sends in a round carries its update’s bytes', async () => {
    for (const { site, needle } of await trainingRound(coordinator.config())) {
      expect(needle.some((byte) => byte !== 0)).toBe(true);
      expect(site.connection.raw.length).toBeGreaterThan(4);
      expect(
        site.connection.raw.some((frame) => containsBytes(frame, needle)),
        site.id,
      ).toBe(false);
      expect(sentOf(site, 'plain-update')).toEqual([]);
    }
  });

  it('only with insecure mode switched on at the site itself does the update leave in the clear (and the search finds it)', async () => {
    const insecure = coordinator.config({ secure: { enabled: false, clipNorm: 1 } });
    for (const { site, needle } of await trainingRound(insecure, {
      ...DEFAULT_SITE_POLICY,
      secureRequired: false,
    }))
      expect(
        site.connection.raw.some((frame) => containsBytes(frame, needle)),
        site.id,
      ).toBe(true);
  });
});
