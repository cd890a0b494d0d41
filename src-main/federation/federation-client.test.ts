import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeKey, generateIdentity, type IdentityKeyPair } from '../../core/crypto/identity.js';
import { defaultBaseModelDir, loadBaseModel } from '../../core/ml/base-model.node.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MOBILENET_V2_SPEC } from '../../core/ml/encoder/spec.js';
import { configHash } from '../../core/protocol/federation.js';
import { PARTICIPATION_SETTING } from './federation-client.js';
import { TestCoordinator } from './test-coordinator.js';

let coordinator: TestCoordinator;
let impostor: IdentityKeyPair;
beforeAll(async () => {
  coordinator = await TestCoordinator.create(await loadBaseModel(defaultBaseModelDir()));
  impostor = await generateIdentity();
});
afterEach(() => coordinator.close());

/** A trainer that never finishes: the round stays in training while the test plays the coordinator. */
const pendingTrainer = () => () => ({
  train: () => new Promise<never>(() => undefined),
  evaluate: () => new Promise<never>(() => undefined),
  close: async () => undefined,
});

const site = (participate = false) =>
  coordinator.site({ id: 'site-a', participate, trainer: pendingTrainer() });

describe('the site checks every global version before using it', () => {
  it('accepts a version signed by the pinned coordinator key, under the configuration its operator approved', async () => {
    const { store, connection, events } = await site();
    const config = coordinator.config();
    await coordinator.pin(config);
    connection.deliver(await coordinator.version(config));
    await expect.poll(async () => (await store.remote.latestGlobalVersion('fed'))?.version).toBe(0);
    expect(events).toContainEqual(expect.objectContaining({ type: 'version', version: 0 }));
  });

  it('keeps the configuration of a first version waiting for its operator, and takes the version only after approval', async () => {
    const { store, connection, client, events } = await site();
    const config = coordinator.config();
    const frame = await coordinator.version(config);
    connection.deliver(frame);
    await expect.poll(async () => (await client.view()).security.pending.length).toBe(1);
    expect(events).toContainEqual({
      type: 'config-pending',
      federationId: 'fed',
      configHash: frame.configHash,
    });
    expect(await store.remote.latestGlobalVersion('fed')).toBeUndefined();
    const view = await client.view();
    expect(view.security.pending[0]).toMatchObject({
      configHash: frame.configHash,
      changes: null,
      policyProblems: [],
    });
    expect(view.security.declines[0]?.reason).toMatch(/awaits the operator's approval/);
    await expect(client.approveConfig('fed', 'f'.repeat(64))).rejects.toThrow(/review it again/);
    await client.approveConfig('fed', await configHash(config));
    expect((await client.view()).security).toMatchObject({
      pending: [],
      pinned: [{ configHash: frame.configHash }],
    });
    connection.deliver(frame);
    await expect.poll(async () => (await store.remote.latestGlobalVersion('fed'))?.version).toBe(0);
  });

  it('pins the first offer whose hash the operator approved in advance, and no other', async () => {
    const { store, connection, client } = await site();
    const config = coordinator.config();
    const hash = await configHash(config);
    expect(await client.view()).toMatchObject({ security: { pinned: [], preapproved: [] } });
    await client.approveConfig('fed', hash);
    expect((await client.view()).security.preapproved).toEqual([
      expect.objectContaining({ configHash: hash }),
    ]);
    const other = coordinator.config({ rounds: 2 });
    connection.deliver(await coordinator.version(other));
    await expect.poll(async () => (await client.view()).security.pending.length).toBe(1);
    expect(await store.remote.latestGlobalVersion('fed')).toBeUndefined();
    connection.deliver(await coordinator.version(config));
    await expect.poll(async () => (await store.remote.latestGlobalVersion('fed'))?.version).toBe(0);
    expect((await client.view()).security).toMatchObject({
      pinned: [{ configHash: hash, approvedBy: 'operator' }],
      preapproved: [],
    });
  });

  it('refuses a version not signed by the pinned coordinator key, and says so', async () => {
    const { store, connection, client, events } = await site();
    connection.deliver(await coordinator.version(coordinator.config(), { signer: impostor }));
    await expect.poll(() => client.refusal?.message).toMatch(/not signed by the pinned coordinator key/);
    expect(events).toContainEqual(expect.objectContaining({ type: 'refusal' }));
    expect((await client.view()).refusal?.message).toMatch(/not signed/);
    expect(await store.remote.latestGlobalVersion('fed')).toBeUndefined();
    // Nothing unsigned reaches the operator's approval list.
    expect((await client.view()).security.pending).toEqual([]);
  });

  it('refuses a version built on another base model, even correctly signed', async () => {
    const { store, connection, client } = await site();
    connection.deliver(await coordinator.version(coordinator.config({ baseModelHash: 'f'.repeat(64) })));
    await expect.poll(() => client.refusal?.message).toMatch(/needs base model ffffffffffff…, this site has/);
    expect(await store.remote.latestGlobalVersion('fed')).toBeUndefined();
  });

  it('refuses tensors that do not match the signed hash', async () => {
    const { store, connection, client } = await site();
    connection.deliver(
      await coordinator.version(coordinator.config(), { tamper: (shared) => (shared[0]! += 1) }),
    );
    await expect.poll(() => client.refusal?.message).toMatch(/do not match its signed hash/);
    expect(await store.remote.latestGlobalVersion('fed')).toBeUndefined();
  });

  it('declines a round whose version fails verification, telling the coordinator why', async () => {
    const { store, connection, client } = await site();
    await store.remote.setSetting(PARTICIPATION_SETTING, {
      participate: true,
      window: null,
      autoAcceptRoster: true,
    });
    const bad = await coordinator.version(coordinator.config(), { signer: impostor });
    const impostorKey = encodeKey(impostor.publicKey);
    connection.deliver(
      coordinator.roundOpen(bad, ['site-a', 'site-b'], { 'site-a': impostorKey, 'site-b': impostorKey }),
    );
    await expect
      .poll(() => connection.sent.find((m) => m.type === 'round-join'))
      .toMatchObject({ accept: false, reason: 'the global version failed verification at this site' });
    expect(client.refusal?.message).toMatch(/not signed/);
  });

  it('declines a round whose federation names an image encoder this site does not have', async () => {
    const encoderDir = mkdtempSync(join(tmpdir(), 'cohort-fc-encoders-'));
    const { connection } = await coordinator.site({
      id: 'site-a',
      participate: true,
      trainer: pendingTrainer(),
      encoderDir,
    });
    const encoder = { ...MOBILENET_V2_SPEC, sha256: 'c'.repeat(64), inputSize: 384 };
    const config = coordinator.config({ encoder });
    await coordinator.pin(config);
    connection.deliver(coordinator.roundOpen(await coordinator.version(config), ['site-a'], {}));
    await expect
      .poll(() => connection.sent.find((m) => m.type === 'round-join'))
      .toMatchObject({
        accept: false,
        reason: 'this site does not have the image encoder cccccccccccc… the federation names',
      });
  });

  it('declines rounds while the operator has participation off', async () => {
    const { connection } = await site();
    const good = await coordinator.version(coordinator.config());
    connection.deliver(coordinator.roundOpen(good, ['site-a'], {}));
    await expect
      .poll(() => connection.sent.find((m) => m.type === 'round-join'))
      .toMatchObject({ accept: false, reason: 'the site operator has paused participation' });
  });
});

describe('the round roster (the sites that joined)', () => {
  async function joinedRound(participants: string[]) {
    const { store, connection, client, identity } = await site(true);
    await store.remote.setSetting(PARTICIPATION_SETTING, {
      participate: true,
      window: null,
      autoAcceptRoster: true,
    });
    const config = coordinator.config({ minSites: 2 });
    await coordinator.pin(config);
    const good = await coordinator.version(config);
    const keys = Object.fromEntries(
      await Promise.all(
        participants.map(async (id) => [
          id,
          encodeKey(id === 'site-a' ? identity.publicKey : (await generateIdentity()).publicKey),
        ]),
      ),
    );
    connection.deliver(coordinator.roundOpen(good, participants, keys));
    await expect
      .poll(() => connection.sent.find((m) => m.type === 'round-join'))
      .toMatchObject({ accept: true });
    // Secure aggregation starts only with the roster: no advert yet.
    expect(connection.sent.some((m) => m.type === 'advertise')).toBe(false);
    return { connection, client };
  }

  it('advertises keys for exactly the sites that joined, once the roster arrives', async () => {
    const { connection } = await joinedRound(['site-a', 'site-b', 'site-c']);
    connection.deliver({
      type: 'round-roster',
      federationId: 'fed',
      round: 1,
      participants: ['site-a', 'site-c'],
    });
    await expect
      .poll(() => connection.sent.find((m) => m.type === 'advertise'))
      .toMatchObject({ site: 'site-a' });
    expect(connection.sent.some((m) => m.type === 'round-leave')).toBe(false);
  });

  const refused: [string, string[], RegExp][] = [
    ['without this site', ['site-b', 'site-c'], /this site is not in it/],
    ['with a site the round was not opened to', ['site-a', 'site-x'], /not opened to/],
    ['below the federation’s minimum', ['site-a'], /requires at least 2/],
  ];
  for (const [what, participants, reason] of refused) {
    it(`leaves the round on a roster ${what}`, async () => {
      const { connection, client } = await joinedRound(['site-a', 'site-b', 'site-c']);
      connection.deliver({ type: 'round-roster', federationId: 'fed', round: 1, participants });
      await expect.poll(() => connection.sent.find((m) => m.type === 'round-leave')?.reason).toMatch(reason);
      expect(client.refusal?.message).toMatch(reason);
      expect(connection.sent.some((m) => m.type === 'advertise')).toBe(false);
    });
  }
});
