import { EventEmitter } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeKey, generateIdentity, type IdentityKeyPair } from '../../core/crypto/identity.js';
import { SYNTHRAD_ANSWERS } from '../../core/data/synthrad.js';
import { flattenShared, initAdapter, normalizeAnswerSet } from '../../core/ml/adapter.js';
import { defaultBaseModelDir, loadBaseModel } from '../../core/ml/base-model.node.js';
import type { BaseModel } from '../../core/ml/engine.node.js';
import { MOBILENET_V2_SPEC } from '../../core/ml/encoder/spec.js';
import {
  configHash,
  federationConfigSchema,
  sha256Hex,
  sharedVectorBytes,
  signModelVersion,
  type FederationConfig,
} from '../../core/protocol/federation.js';
import {
  decodeFrame,
  encodeFrame,
  floatBits,
  type RoundFrame,
  type RoundOpen,
} from '../../core/protocol/rounds.js';
import type { FederationEvent } from '../../core/site-api/contract.js';
import type { EnrollmentState } from '../agent/site-data-dir.js';
import { SiteDataService } from '../data/site-data-service.js';
import { openSiteStoreWorker, type RemoteSiteStore } from '../store/open-store.js';
import type { CoordinatorConnection } from './coordinator-connection.js';
import { FederationClient, PARTICIPATION_SETTING } from './federation-client.js';

/** Stands in for the WebSocket: the test plays the coordinator. */
class FakeConnection extends EventEmitter {
  readonly sent: ({ type: string } & Record<string, unknown>)[] = [];
  roster = new Map<string, string>();
  rosterNames = new Map<string, string>();
  sendFrame(_kind: string, frame: Uint8Array): boolean {
    this.sent.push(decodeFrame(frame));
    return true;
  }
  deliver(message: RoundFrame): void {
    this.emit('frame', encodeFrame(message));
  }
}

let base: BaseModel;
let coordinator: IdentityKeyPair;
let impostor: IdentityKeyPair;
beforeAll(async () => {
  base = await loadBaseModel(defaultBaseModelDir());
  coordinator = await generateIdentity();
  impostor = await generateIdentity();
});

const stores: RemoteSiteStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

/** A trainer that never finishes: the round stays in training while the test plays the coordinator. */
const pendingTrainer = () => ({
  train: () => new Promise<never>(() => undefined),
  evaluate: () => new Promise<never>(() => undefined),
  close: async () => undefined,
});

async function site(options: { trainer?: typeof pendingTrainer; encoderDir?: string } = {}) {
  const store = await openSiteStoreWorker(join(mkdtempSync(join(tmpdir(), 'cohort-fc-')), 'site.db'));
  stores.push(store);
  const identity = await generateIdentity();
  const enrollment: EnrollmentState = {
    siteId: 'site-a',
    siteName: 'Site A',
    coordinatorUrl: 'https://127.0.0.1:1',
    coordinatorName: 'Test',
    coordinatorIdentityPublicKey: encodeKey(coordinator.publicKey),
    certificateFingerprint: '0'.repeat(64),
    certificatePem: '',
    enrolledAt: new Date().toISOString(),
  };
  const connection = new FakeConnection();
  const client = new FederationClient({
    connection: connection as unknown as CoordinatorConnection,
    store,
    data: new SiteDataService(store),
    identity,
    enrollment,
    loadBase: async () => base,
    trainer:
      options.trainer ??
      (() => {
        throw new Error('no training in these tests');
      }),
    ...(options.encoderDir ? { encoderDir: options.encoderDir } : {}),
  });
  const events: FederationEvent[] = [];
  client.on('event', (event) => events.push(event));
  return { store, connection, client, events, identity };
}

function federationConfig(overrides: Partial<FederationConfig> = {}): FederationConfig {
  return federationConfigSchema.parse({
    name: 'Refusals',
    baseModelHash: base.hash,
    answers: normalizeAnswerSet(SYNTHRAD_ANSWERS),
    adapter: {
      lora: { enabled: true, shared: true, rank: 4, alpha: 8, targets: ['q_proj', 'v_proj'] },
      prompt: { enabled: false, shared: true, tokens: 4 },
      head: { enabled: true, shared: true },
    },
    strategy: { kind: 'fedavg' },
    local: { epochs: 1, batchSize: 8, lr: 1e-3, weightDecay: 0, gradClip: 1 },
    rounds: 1,
    minSites: 1,
    secure: { enabled: true, clipNorm: 1 },
    deadlines: { trainingMs: 60_000, stageMs: 10_000 },
    seed: 3,
    ...overrides,
  });
}

/** A version-available frame as a coordinator would send it, signed by `signer`. */
async function versionFrame(
  signer: IdentityKeyPair,
  config: FederationConfig,
  tamper?: (shared: Float32Array) => void,
) {
  const shared = flattenShared(initAdapter(base, config.adapter, config.answers, config.seed));
  const hash = await configHash(config);
  const version = await signModelVersion(signer.secretKey, {
    federationId: 'fed',
    version: 0,
    hash: await sha256Hex(sharedVectorBytes(shared)),
    parentHash: null,
    baseModelHash: config.baseModelHash,
    configHash: hash,
    createdAt: new Date().toISOString(),
  });
  tamper?.(shared);
  return {
    type: 'version-available' as const,
    federationId: 'fed',
    config,
    configHash: hash,
    version,
    shared: floatBits(shared),
  };
}

/** A round-open frame for round 1 of 'fed' at `version`, as a coordinator would send it. */
function roundOpen(
  version: Awaited<ReturnType<typeof versionFrame>>,
  participants: string[],
  identityKeys: Record<string, string>,
): RoundOpen {
  return {
    type: 'round-open',
    federationId: 'fed',
    round: 1,
    mode: 'train',
    config: version.config,
    configHash: version.configHash,
    version: version.version,
    shared: version.shared,
    participants,
    identityKeys,
    joinBy: new Date(Date.now() + 10_000).toISOString(),
    trainBy: new Date(Date.now() + 60_000).toISOString(),
  };
}

describe('the site checks every global version before using it', () => {
  it('accepts a version signed by the pinned coordinator key', async () => {
    const { store, connection, events } = await site();
    connection.deliver(await versionFrame(coordinator, federationConfig()));
    await expect.poll(async () => (await store.remote.latestGlobalVersion('fed'))?.version).toBe(0);
    expect(events).toContainEqual(expect.objectContaining({ type: 'version', version: 0 }));
  });

  it('refuses a version not signed by the pinned coordinator key, and says so', async () => {
    const { store, connection, client, events } = await site();
    connection.deliver(await versionFrame(impostor, federationConfig()));
    await expect.poll(() => client.refusal?.message).toMatch(/not signed by the pinned coordinator key/);
    expect(events).toContainEqual(expect.objectContaining({ type: 'refusal' }));
    expect((await client.view()).refusal?.message).toMatch(/not signed/);
    expect(await store.remote.latestGlobalVersion('fed')).toBeUndefined();
  });

  it('refuses a version built on another base model, even correctly signed', async () => {
    const { store, connection, client } = await site();
    connection.deliver(await versionFrame(coordinator, federationConfig({ baseModelHash: 'f'.repeat(64) })));
    await expect.poll(() => client.refusal?.message).toMatch(/needs base model ffffffffffff…, this site has/);
    expect(await store.remote.latestGlobalVersion('fed')).toBeUndefined();
  });

  it('refuses tensors that do not match the signed hash', async () => {
    const { store, connection, client } = await site();
    connection.deliver(await versionFrame(coordinator, federationConfig(), (shared) => (shared[0]! += 1)));
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
    const bad = await versionFrame(impostor, federationConfig());
    const impostorKey = encodeKey(impostor.publicKey);
    connection.deliver(
      roundOpen(bad, ['site-a', 'site-b'], { 'site-a': impostorKey, 'site-b': impostorKey }),
    );
    await expect
      .poll(() => connection.sent.find((m) => m.type === 'round-join'))
      .toMatchObject({ accept: false, reason: 'the global version failed verification at this site' });
    expect(client.refusal?.message).toMatch(/not signed/);
  });

  it('declines a round whose federation names an image encoder this site does not have', async () => {
    const encoderDir = mkdtempSync(join(tmpdir(), 'cohort-fc-encoders-'));
    const { store, connection } = await site({ encoderDir });
    await store.remote.setSetting(PARTICIPATION_SETTING, {
      participate: true,
      window: null,
      autoAcceptRoster: true,
    });
    const encoder = { ...MOBILENET_V2_SPEC, sha256: 'c'.repeat(64), inputSize: 384 };
    const good = await versionFrame(coordinator, federationConfig({ encoder }));
    connection.deliver(roundOpen(good, ['site-a'], {}));
    await expect
      .poll(() => connection.sent.find((m) => m.type === 'round-join'))
      .toMatchObject({
        accept: false,
        reason: 'this site does not have the image encoder cccccccccccc… the federation names',
      });
  });

  it('declines rounds while the operator has participation off', async () => {
    const { connection } = await site();
    const good = await versionFrame(coordinator, federationConfig());
    connection.deliver(roundOpen(good, ['site-a'], {}));
    await expect
      .poll(() => connection.sent.find((m) => m.type === 'round-join'))
      .toMatchObject({ accept: false, reason: 'the site operator has paused participation' });
  });
});

describe('the round roster (the sites that joined)', () => {
  async function joinedRound(participants: string[]) {
    const { store, connection, client, identity } = await site({ trainer: pendingTrainer });
    await store.remote.setSetting(PARTICIPATION_SETTING, {
      participate: true,
      window: null,
      autoAcceptRoster: true,
    });
    const config = federationConfig({ minSites: 2 });
    const good = await versionFrame(coordinator, config);
    const keys = Object.fromEntries(
      await Promise.all(
        participants.map(async (id) => [
          id,
          encodeKey(id === 'site-a' ? identity.publicKey : (await generateIdentity()).publicKey),
        ]),
      ),
    );
    connection.deliver(roundOpen(good, participants, keys));
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
    ['below the federation’s minimum', ['site-a'], /minimum is 2/],
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
