import { EventEmitter } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeKey, generateIdentity, type IdentityKeyPair } from '../../core/crypto/identity.js';
import { SYNTHRAD_ANSWERS } from '../../core/data/synthrad.js';
import { roundEncodingSpec } from '../../core/fl/round-vector.js';
import { flattenShared, initAdapter, normalizeAnswerSet, unflattenShared } from '../../core/ml/adapter.js';
import type { BaseModel, EvalResult } from '../../core/ml/engine.node.js';
import type { Trainer } from '../../core/ml/trainer.node.js';
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
import { SecAggServer, encodedLength, type ServerMessage } from '../../core/secagg/index.js';
import type { FederationEvent } from '../../core/site-api/contract.js';
import type { EnrollmentState } from '../agent/site-data-dir.js';
import { SiteDataService } from '../data/site-data-service.js';
import { openSiteStoreWorker, type RemoteSiteStore } from '../store/open-store.js';
import type { CoordinatorConnection } from './coordinator-connection.js';
import { APPROVED_ROSTER_SETTING, FederationClient, PARTICIPATION_SETTING } from './federation-client.js';

/*
 * Test support (imported by *.test.ts only): real site clients, each on its own store, behind a fake
 * connection, and a coordinator the test scripts frame by frame, honest or lying.
 */

export type SentFrame = { type: string } & Record<string, unknown>;

/** Stands in for the WebSocket: keeps every frame the site sent, decoded and as raw bytes. */
export class FakeConnection extends EventEmitter {
  readonly sent: SentFrame[] = [];
  readonly raw: Uint8Array[] = [];
  roster = new Map<string, string>();
  rosterNames = new Map<string, string>();
  sendFrame(_kind: string, frame: Uint8Array): boolean {
    this.raw.push(frame.slice());
    this.sent.push(decodeFrame(frame) as SentFrame);
    return true;
  }
  deliver(message: RoundFrame | ServerMessage): void {
    this.emit('frame', encodeFrame(message as RoundFrame));
  }
}

/** What a fast trainer did at one site: the shared tensors before and after "training". */
export interface FakeTraining {
  before: Float32Array;
  after: Float32Array;
}

/**
 * A trainer that moves every shared tensor by a small site-specific pattern at once, and reports fixed
 * validation figures: rounds run in milliseconds, and each site's update is known to the test.
 */
export function fastTrainer(salt: number, trainings: FakeTraining[], evaluation: EvalResult): () => Trainer {
  return () => ({
    train: async (options) => {
      const before = flattenShared(options.adapter);
      const after = new Float32Array(before.length);
      for (let i = 0; i < after.length; i++) after[i] = before[i]! + 1e-4 * (((i * 7 + salt * 13) % 17) - 8);
      trainings.push({ before, after });
      return {
        adapter: unflattenShared(options.adapter, after),
        stats: { loss: 1, lastEpochLoss: 1, steps: 1, examples: 1, skipped: 0, ms: 1 },
      };
    },
    evaluate: async () => evaluation,
    close: async () => undefined,
  });
}

/** The update a site computes from a fake training: Δ = after − before, in float32 as the site does. */
export function updateOf(training: FakeTraining): Float32Array {
  const delta = new Float32Array(training.after.length);
  for (let i = 0; i < delta.length; i++) delta[i] = training.after[i]! - training.before[i]!;
  return delta;
}

/** Whether `needle` occurs in `haystack` (byte for byte). */
export function containsBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

export interface TestSite {
  id: string;
  store: RemoteSiteStore;
  connection: FakeConnection;
  client: FederationClient;
  events: FederationEvent[];
  identity: IdentityKeyPair;
  trainings: FakeTraining[];
}

export interface TestSiteOptions {
  id?: string;
  trainer?: () => Trainer;
  /** SynthRad questions to import, so local training has examples (weight > 0). */
  questions?: number;
  participate?: boolean;
  /** Where this site keeps image encoders (the agent's); by default a shared temporary folder. */
  encoderDir?: string;
}

/** The harness: one coordinator identity, the base model, and the sites it opened. */
export class TestCoordinator {
  readonly sites: TestSite[] = [];

  constructor(
    readonly base: BaseModel,
    readonly identity: IdentityKeyPair,
  ) {}

  static async create(base: BaseModel): Promise<TestCoordinator> {
    return new TestCoordinator(base, await generateIdentity());
  }

  async close(): Promise<void> {
    await Promise.all(this.sites.splice(0).map((site) => site.store.close()));
  }

  async site(options: TestSiteOptions = {}): Promise<TestSite> {
    const id = options.id ?? `site-${this.sites.length + 1}`;
    const store = await openSiteStoreWorker(join(mkdtempSync(join(tmpdir(), 'cohort-fc-')), 'site.db'));
    const identity = await generateIdentity();
    const enrollment: EnrollmentState = {
      siteId: id,
      siteName: id,
      coordinatorUrl: 'https://127.0.0.1:1',
      coordinatorName: 'Test',
      coordinatorIdentityPublicKey: encodeKey(this.identity.publicKey),
      certificateFingerprint: '0'.repeat(64),
      certificatePem: '',
      enrolledAt: new Date().toISOString(),
    };
    const data = new SiteDataService(store);
    if (options.questions)
      await data.generateSynthRad({
        preset: 'chest-clinic',
        n: options.questions,
        seed: this.sites.length + 1,
      });
    const trainings: FakeTraining[] = [];
    const connection = new FakeConnection();
    const client = new FederationClient({
      connection: connection as unknown as CoordinatorConnection,
      store,
      data,
      identity,
      enrollment,
      loadBase: async () => this.base,
      trainer:
        options.trainer ??
        fastTrainer(this.sites.length + 1, trainings, {
          n: 4,
          closed: { n: 3, correct: 2 },
          open: { n: 1, correct: 1 },
          lossSum: 1.5,
        }),
      encoderDir: options.encoderDir ?? join(tmpdir(), 'cohort-test-encoders'),
    });
    if (options.participate !== false)
      await store.remote.setSetting(PARTICIPATION_SETTING, {
        participate: true,
        window: null,
        autoAcceptRoster: false,
      });
    const events: FederationEvent[] = [];
    client.on('event', (event) => events.push(event));
    const site = { id, store, connection, client, events, identity, trainings };
    this.sites.push(site);
    return site;
  }

  /** Each site approves every other site's identity key (as their operators would, out of band). */
  async approveRosters(sites: TestSite[] = this.sites): Promise<void> {
    const keys = this.identityKeys(sites);
    for (const site of sites) await site.store.remote.setSetting(APPROVED_ROSTER_SETTING, keys);
  }

  identityKeys(sites: TestSite[] = this.sites): Record<string, string> {
    return Object.fromEntries(sites.map((site) => [site.id, encodeKey(site.identity.publicKey)]));
  }

  config(overrides: Partial<FederationConfig> = {}): FederationConfig {
    return federationConfigSchema.parse({
      name: 'Scripted',
      baseModelHash: this.base.hash,
      answers: normalizeAnswerSet(SYNTHRAD_ANSWERS),
      adapter: {
        lora: { enabled: false, shared: false, rank: 4, alpha: 8, targets: ['q_proj', 'v_proj'] },
        prompt: { enabled: false, shared: true, tokens: 4 },
        head: { enabled: true, shared: true },
      },
      strategy: { kind: 'fedavg' },
      local: { epochs: 1, batchSize: 8, lr: 1e-3, weightDecay: 0, gradClip: 1 },
      rounds: 1,
      minSites: 2,
      secure: { enabled: true, clipNorm: 1 },
      deadlines: { trainingMs: 60_000, stageMs: 10_000 },
      seed: 3,
      ...overrides,
    });
  }

  /** A version-available frame of version `number` under `config`, signed by `signer` (the coordinator). */
  async version(
    config: FederationConfig,
    options: { number?: number; signer?: IdentityKeyPair; tamper?: (shared: Float32Array) => void } = {},
  ) {
    const shared = flattenShared(initAdapter(this.base, config.adapter, config.answers, config.seed));
    const hash = await configHash(config);
    const version = await signModelVersion((options.signer ?? this.identity).secretKey, {
      federationId: 'fed',
      version: options.number ?? 0,
      hash: await sha256Hex(sharedVectorBytes(shared)),
      parentHash: null,
      baseModelHash: config.baseModelHash,
      configHash: hash,
      createdAt: new Date().toISOString(),
    });
    options.tamper?.(shared);
    return {
      type: 'version-available' as const,
      federationId: 'fed',
      config,
      configHash: hash,
      version,
      shared: floatBits(shared),
    };
  }

  /** Pins `config` at these sites as if each operator had approved it. */
  async pin(config: FederationConfig, sites: TestSite[] = this.sites): Promise<void> {
    const hash = await configHash(config);
    for (const site of sites)
      await site.store.remote.pinConfig({
        federationId: 'fed',
        configHash: hash,
        config: JSON.stringify(config),
        approvedAt: new Date().toISOString(),
        approvedBy: 'operator',
      });
  }

  roundOpen(
    version: Awaited<ReturnType<TestCoordinator['version']>>,
    participants: string[],
    identityKeys: Record<string, string>,
    options: { round?: number; mode?: 'train' | 'evaluate' } = {},
  ): RoundOpen {
    return {
      type: 'round-open',
      federationId: 'fed',
      round: options.round ?? 1,
      mode: options.mode ?? 'train',
      config: version.config,
      configHash: version.configHash,
      version: version.version,
      shared: version.shared,
      participants: [...participants].sort(),
      identityKeys,
      joinBy: new Date(Date.now() + 10_000).toISOString(),
      trainBy: new Date(Date.now() + 60_000).toISOString(),
    };
  }
}

/** Waits until `predicate` holds (polling; these are in-process sites, so it is quick). */
export async function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The frames of `type` a site sent, in order. */
export const sentOf = (site: TestSite, type: string) => site.connection.sent.filter((m) => m.type === type);

/**
 * Drives the secure-aggregation stages of one round as an honest coordinator would (a real
 * SecAggServer), except where the test's `lie` rewrites what one stage sends to one site.
 */
export class ScriptedRound {
  readonly server: SecAggServer;
  /** How many frames each site had sent before this round: a stage takes only what came after. */
  private readonly sentBefore: Map<string, number>;

  constructor(
    readonly open: RoundOpen,
    readonly sites: TestSite[],
  ) {
    this.sentBefore = new Map(sites.map((site) => [site.id, site.connection.sent.length]));
    const config = open.config;
    this.server = new SecAggServer({
      session: {
        federationId: open.federationId,
        round: open.round,
        modelHash: open.version.hash,
        configHash: open.configHash,
      },
      roster: Object.fromEntries(sites.map((site) => [site.id, site.identity.publicKey])),
      vectorLength: encodedLength(
        open.mode === 'evaluate' ? 0 : open.shared.length,
        roundEncodingSpec(config.secure.clipNorm, sites.length),
      ),
      ...(config.secure.threshold ? { threshold: config.secure.threshold } : {}),
      ...(config.secure.neighbours ? { neighbours: config.secure.neighbours } : {}),
    });
  }

  private sentSince(site: TestSite, type: string) {
    return site.connection.sent.slice(this.sentBefore.get(site.id)).filter((m) => m.type === type);
  }

  /** Opens the round to every site and waits for each to join. */
  async join(): Promise<void> {
    for (const site of this.sites) site.connection.deliver(this.open);
    for (const site of this.sites)
      await until(`${site.id} to join`, () => this.sentSince(site, 'round-join').at(-1)?.accept === true);
  }

  /** The joined roster goes out; each site advertises its keys. */
  async roster(participants = this.sites.map((s) => s.id)): Promise<void> {
    for (const site of this.sites)
      site.connection.deliver({
        type: 'round-roster',
        federationId: this.open.federationId,
        round: this.open.round,
        participants: [...participants].sort(),
      });
  }

  /**
   * Collects each site's message of `type`, hands them to the server, closes the stage and delivers its
   * outbound messages (through `lie` when given). Returns what was delivered, per site.
   */
  async stage(
    type: string,
    lie?: (to: string, message: ServerMessage) => ServerMessage | ServerMessage[] | undefined,
  ): Promise<Map<string, ServerMessage[]>> {
    for (const site of this.sites) {
      const message = await until(`${site.id} to send ${type}`, () => this.sentSince(site, type).at(-1));
      this.server.receive(site.id, message);
    }
    const output = await this.server.closeStage();
    const delivered = new Map<string, ServerMessage[]>();
    for (const { to, message } of output.outbound) {
      const site = this.sites.find((s) => s.id === to)!;
      const rewritten = lie ? lie(to, message) : message;
      const messages = rewritten === undefined ? [] : Array.isArray(rewritten) ? rewritten : [rewritten];
      for (const m of messages) site.connection.deliver(m);
      delivered.set(to, messages);
    }
    return delivered;
  }
}
