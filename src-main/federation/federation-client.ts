import { EventEmitter } from 'node:events';
import { decodeKey, encodeKey, keyFingerprint, type IdentityKeyPair } from '../../core/crypto/identity.js';
import { stableHash32 } from '../../core/data/split.js';
import { encodeContribution, roundEncodingSpec } from '../../core/fl/round-vector.js';
import { baseRef, decodeAdapter, encodeAdapter } from '../../core/ml/formats.js';
import type { BaseModel } from '../../core/ml/engine.node.js';
import { federationEncoder } from '../../core/ml/encoder/spec.js';
import type { Trainer } from '../../core/ml/trainer.node.js';
import {
  configHash,
  federationConfigSchema,
  modelVersionSchema,
  sha256Hex,
  verifyModelVersion,
  type FederationConfig,
  type ModelVersion,
} from '../../core/protocol/federation.js';
import {
  bitsToFloats,
  decodeFrame,
  encodeFrame,
  floatBits,
  roundOpenSchema,
  roundRosterSchema,
  roundResultSchema,
  versionAvailableSchema,
  type RoundFrame,
  type RoundOpen,
  type RoundRoster,
  type SiteRoundMessage,
} from '../../core/protocol/rounds.js';
import {
  SecAggClient,
  SecAggError,
  encodedLength,
  parseServerMessage,
  type MaskEngine,
} from '../../core/secagg/index.js';
import type {
  FederationEvent,
  FederationView,
  ParticipationSettings,
  SitePolicy,
} from '../../core/site-api/contract.js';
import type { SiteRoundOutcome } from '../../core/protocol/round-vocabulary.js';
import type { SiteDataService } from '../data/site-data-service.js';
import type { RemoteSiteStore } from '../store/open-store.js';
import type { EnrollmentState } from '../agent/site-data-dir.js';
import type { CoordinatorConnection } from './coordinator-connection.js';
import { approvePendingConfig, securityView } from './config-approval.js';
import { runLocalRound, type LocalRoundResult } from './local-round.js';
import { configPolicyProblems, diffConfigs, rosterPolicyProblem } from './security-policy.js';
import { featureRows, type FeatVqaConfig } from '../../core/ml/feat-vqa.js';
import type { GrayImage } from '../../core/data/types.js';

export const PARTICIPATION_SETTING = 'participation';
export const APPROVED_ROSTER_SETTING = 'approved-roster';
export const LAST_REFUSAL_SETTING = 'last-refusal';
export const DEFAULT_PARTICIPATION: ParticipationSettings = {
  participate: false,
  window: null,
  autoAcceptRoster: false,
};

export class VersionRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VersionRefused';
  }
}

interface RoundRun {
  open: RoundOpen;
  /** The identity keys of round-open's participants, as this site approved them. */
  identityKeys: Record<string, string>;
  /** The sites that joined (the round-roster frame): secure aggregation's roster and the encoding's count. */
  participants: string[] | undefined;
  startedAt: string;
  controller: AbortController;
  secagg: SecAggClient | undefined;
  pipeline: Promise<LocalRoundResult>;
  /** Set when local training and evaluation are done. */
  result: LocalRoundResult | undefined;
  /** When `result` was set (performance.now()). */
  trainedAt: number | undefined;
  /**
   * How long the trained update waited for secure aggregation's setup (the share bundle) before it could
   * be masked and sent: the part of setup that local training did not hide, which the round pays for.
   */
  setupWaitMs: number;
  /** The coordinator's share bundle, kept until the update exists to be masked. */
  pendingShares: unknown;
  /** Client-side secure-aggregation compute time (key agreement, share encryption, masking, unmasking). */
  secaggMs: number;
  /** Bytes of every frame this site sent for the round. */
  uploadBytes: number;
  finished: boolean;
}

export interface FederationClientOptions {
  connection: CoordinatorConnection;
  store: RemoteSiteStore;
  data: SiteDataService;
  identity: IdentityKeyPair;
  enrollment: EnrollmentState;
  loadBase: () => Promise<BaseModel>;
  /**
   * The site's image encoders (`sitePaths(dataDir).encoders`): a FeatVQA base's encoder is kept there
   * (the default converted on first use), and rounds naming an encoder not there are declined.
   */
  encoderDir: string;
  trainer: () => Trainer;
  maskEngine?: MaskEngine;
  threads?: number;
}

/** "HH:MM" → minutes after midnight. */
const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Whether `now` falls in a daily window; windows may wrap midnight (22:00–06:00). */
export function insideWindow(window: ParticipationSettings['window'], now = new Date()): boolean {
  if (!window) return true;
  const minute = now.getHours() * 60 + now.getMinutes();
  const start = minutesOf(window.start);
  const end = minutesOf(window.end);
  return start <= end ? minute >= start && minute < end : minute >= start || minute < end;
}

/**
 * The site's side of federated rounds. Joins a round only when the operator allows it, checks the
 * coordinator's signature, the base-model hash and the roster, trains in the trainer worker, evaluates
 * on the validation split, runs the client side of secure aggregation, keeps local adapter parts local,
 * and catches up on versions published while it was away. Every frame it sends passes through the
 * connection's `sent` event into the audit log.
 */
export class FederationClient extends EventEmitter<{ event: [FederationEvent] }> {
  private run: RoundRun | undefined;
  private lastRefusal: { at: string; message: string } | null = null;

  constructor(private readonly options: FederationClientOptions) {
    super();
    options.connection.on('frame', (bytes) => {
      this.onFrame(bytes).catch((error: Error) =>
        this.report('error', `could not handle a coordinator message: ${error.message}`),
      );
    });
    // Secure-aggregation state lives in one connection's round: when the connection drops, the round is
    // over for this site (the coordinator recovers without it), so stop training and record why.
    options.connection.on('status', (status) => {
      const run = this.run;
      if (status.state === 'connected' || !run || run.finished) return;
      run.finished = true;
      run.controller.abort();
      void this.closeRound(
        run,
        'interrupted',
        'lost the connection to the coordinator during the round',
        null,
      ).catch((error: Error) =>
        this.report('error', `could not record the interrupted round: ${error.message}`),
      );
    });
  }

  get refusal(): { at: string; message: string } | null {
    return this.lastRefusal;
  }

  get activeRound(): { federationId: string; round: number } | undefined {
    return this.run && !this.run.finished
      ? { federationId: this.run.open.federationId, round: this.run.open.round }
      : undefined;
  }

  async participation(): Promise<ParticipationSettings> {
    const stored = (await this.options.store.remote.getSetting(PARTICIPATION_SETTING)) as
      Partial<ParticipationSettings> | undefined;
    return { ...DEFAULT_PARTICIPATION, ...stored };
  }

  async approvedRoster(): Promise<Record<string, string>> {
    return (
      ((await this.options.store.remote.getSetting(APPROVED_ROSTER_SETTING)) as
        Record<string, string> | undefined) ?? {}
    );
  }

  async setParticipation(settings: ParticipationSettings): Promise<void> {
    await this.options.store.remote.setSetting(PARTICIPATION_SETTING, settings);
    this.report(
      'info',
      settings.participate
        ? `participation on${settings.window ? ` (${settings.window.start}–${settings.window.end})` : ''}`
        : 'participation paused by the operator',
    );
  }

  /** Approves the identity keys the coordinator announced for these sites. */
  async approveRoster(siteIds: readonly string[]): Promise<void> {
    const approved = await this.approvedRoster();
    const announced = this.options.connection.roster;
    for (const id of siteIds) {
      const key = announced.get(id);
      if (!key) throw new Error(`the coordinator has not announced a site '${id}'`);
      approved[id] = key;
    }
    await this.options.store.remote.setSetting(APPROVED_ROSTER_SETTING, approved);
    this.report('info', `approved ${siteIds.length} site(s) for secure aggregation: ${siteIds.join(', ')}`);
  }

  /** Everything the operator's federation screen shows. */
  async view(): Promise<FederationView> {
    const [participation, approved, known, security] = await Promise.all([
      this.participation(),
      this.approvedRoster(),
      this.options.store.remote.knownFederations(),
      securityView(this.options.store.remote),
    ]);
    const pending: FederationView['roster']['pending'] = [];
    for (const [id, key] of this.options.connection.roster) {
      if (id === this.options.enrollment.siteId || approved[id] === key) continue;
      pending.push({
        id,
        name: this.options.connection.rosterNames.get(id) ?? id,
        fingerprint: await keyFingerprint(decodeKey(key)),
        keyChanged: approved[id] !== undefined,
      });
    }
    const federations = await Promise.all(
      known.map(async (row) => {
        const config = federationConfigSchema.parse(JSON.parse(row.config));
        return {
          id: row.federationId,
          name: config.name,
          version: row.version,
          hash: row.hash,
          receivedAt: row.receivedAt,
          strategy: config.strategy.kind,
          secure: config.secure.enabled,
          parts: (['lora', 'prompt', 'head'] as const)
            .filter((part) => config.adapter[part].enabled)
            .map((part) => ({ part, shared: config.adapter[part].shared })),
          rounds: (await this.options.store.remote.localRounds(row.federationId, 100)).map(
            ({ federationId: _id, ...round }) => round,
          ),
        };
      }),
    );
    return {
      participation,
      roster: {
        approved: await Promise.all(
          Object.entries(approved).map(async ([id, key]) => ({
            id,
            fingerprint: await keyFingerprint(decodeKey(key)),
          })),
        ),
        pending,
      },
      federations,
      activeRound: this.activeRound ?? null,
      refusal:
        this.lastRefusal ??
        ((await this.options.store.remote.getSetting(LAST_REFUSAL_SETTING)) as
          FederationView['refusal'] | undefined) ??
        null,
      security,
    };
  }

  /** The operator approves the configuration offered for a federation (the one they reviewed, by hash). */
  async approveConfig(federationId: string, configHash: string): Promise<void> {
    const row = await approvePendingConfig(this.options.store.remote, federationId, configHash);
    this.report(
      'info',
      `approved configuration ${row.configHash.slice(0, 12)}… of federation '${federationId}'`,
    );
  }

  /** The operator's security policy; it applies from the next version or round the coordinator offers. */
  async setPolicy(policy: SitePolicy): Promise<void> {
    await this.options.store.remote.setSitePolicy(policy);
    this.report('info', 'security policy changed by the site operator');
  }

  /**
   * Whether a configuration the coordinator offers may be used: it must be the one the operator approved
   * for this federation (pinned by hash) and meet the site's policy. An unapproved one waits for the
   * operator, who sees it field by field; the operator's auto-accept policy approves it only if no
   * security field weakens. Returns why not, and whether that is a refusal (the offer breaks the
   * policy) rather than a question for the operator.
   */
  private async checkConfig(
    federationId: string,
    config: FederationConfig,
  ): Promise<{ reason: string; refusal: boolean } | undefined> {
    const store = this.options.store.remote;
    const hash = await configHash(config);
    const [policy, [pinned], [inAdvance]] = await Promise.all([
      store.sitePolicy(),
      store.pinnedConfigs(federationId),
      store.preapprovedConfigs(federationId),
    ]);
    const problems = configPolicyProblems(config, policy);
    if (inAdvance?.configHash === hash && problems.length === 0) {
      await store.pinConfig({
        federationId,
        configHash: hash,
        config: JSON.stringify(config),
        approvedAt: inAdvance.approvedAt,
        approvedBy: 'operator',
      });
      this.report(
        'info',
        `pinned configuration ${hash.slice(0, 12)}… of '${config.name}', approved in advance`,
      );
      return undefined;
    }
    if (pinned?.configHash === hash) {
      return problems.length > 0
        ? { reason: `below this site's security policy: ${problems.join('; ')}`, refusal: true }
        : undefined;
    }
    if (pinned && problems.length === 0 && policy.autoAcceptConfig) {
      const changes = diffConfigs(federationConfigSchema.parse(JSON.parse(pinned.config)), config);
      if (!changes.some((change) => change.weakens)) {
        await store.pinConfig({
          federationId,
          configHash: hash,
          config: JSON.stringify(config),
          approvedAt: new Date().toISOString(),
          approvedBy: 'auto-accept',
        });
        this.report(
          'info',
          `approved automatically a change of '${config.name}' that weakens no security field (${changes.map((c) => c.field).join(', ')})`,
        );
        return undefined;
      }
    }
    await store.savePendingConfig({
      federationId,
      configHash: hash,
      config: JSON.stringify(config),
      receivedAt: new Date().toISOString(),
    });
    this.emit('event', { type: 'config-pending', federationId, configHash: hash });
    if (problems.length > 0)
      return { reason: `below this site's security policy: ${problems.join('; ')}`, refusal: true };
    return {
      reason: pinned
        ? `the federation's configuration changed (${hash.slice(0, 12)}…, approved ${pinned.configHash.slice(0, 12)}…) and awaits the operator's approval`
        : `the federation's configuration (${hash.slice(0, 12)}…) awaits the operator's approval`,
      refusal: false,
    };
  }

  /** Keeps a decline where the operator sees it (the security view), with its reason. */
  private recordDecline(federationId: string, round: number | null, version: number | null, reason: string) {
    this.options.store.remote
      .recordDecline({ at: new Date().toISOString(), federationId, round, version, reason })
      .catch((error: Error) => this.report('error', `could not record a decline: ${error.message}`));
  }

  private async onFrame(bytes: Uint8Array): Promise<void> {
    const frame = decodeFrame(bytes);
    switch (frame.type) {
      case 'version-available': {
        const message = versionAvailableSchema.parse(frame);
        await this.acceptVersion(
          message.version,
          message.shared,
          message.config,
          message.configHash,
          'catch-up',
        );
        return;
      }
      case 'round-open':
        return this.onRoundOpen(roundOpenSchema.parse(frame));
      case 'round-roster':
        return this.onRoundRoster(roundRosterSchema.parse(frame));
      case 'round-result':
        return this.onRoundResult(roundResultSchema.parse(frame));
      default:
        return this.onSecAggMessage(frame);
    }
  }

  /**
   * Checks a global version before this site uses it: the pinned coordinator identity signed it, the
   * tensors hash to what it names, it belongs to this config, and it is built on the base model this
   * site holds. A refusal is reported (UI, log) and nothing is stored.
   */
  private async verifyVersion(
    version: ModelVersion,
    shared: Uint32Array,
    config: FederationConfig,
    claimedConfigHash: string,
  ): Promise<void> {
    const descriptor = modelVersionSchema.parse(version);
    if (
      !(await verifyModelVersion(decodeKey(this.options.enrollment.coordinatorIdentityPublicKey), descriptor))
    ) {
      throw new VersionRefused(
        `version ${descriptor.version} of '${descriptor.federationId}' is not signed by the pinned coordinator key`,
      );
    }
    const bytes = new Uint8Array(shared.buffer, shared.byteOffset, shared.byteLength);
    if ((await sha256Hex(bytes)) !== descriptor.hash)
      throw new VersionRefused(`version ${descriptor.version}'s tensors do not match its signed hash`);
    const actualConfigHash = await configHash(config);
    if (actualConfigHash !== descriptor.configHash || claimedConfigHash !== descriptor.configHash) {
      throw new VersionRefused(
        `version ${descriptor.version} was signed for a different federation configuration`,
      );
    }
    const base = await this.options.loadBase();
    if (config.baseModelHash !== base.hash || descriptor.baseModelHash !== base.hash) {
      throw new VersionRefused(
        `version ${descriptor.version} needs base model ${descriptor.baseModelHash.slice(0, 12)}…, this site has ${base.hash.slice(0, 12)}…`,
      );
    }
    const known = await this.options.store.remote.latestGlobalVersion(descriptor.federationId);
    if (known && known.version === descriptor.version && known.hash !== descriptor.hash) {
      throw new VersionRefused(`the coordinator sent a second, different version ${descriptor.version}`);
    }
  }

  /**
   * Verifies a version, then checks its configuration against the approved one and the site's policy;
   * stores it when both pass. Returns why it was not accepted (undefined when it was).
   */
  private async acceptVersion(
    version: ModelVersion,
    shared: Uint32Array,
    rawConfig: unknown,
    claimedConfigHash: string,
    why: string,
  ): Promise<string | undefined> {
    const config = federationConfigSchema.parse(rawConfig);
    try {
      await this.verifyVersion(version, shared, config, claimedConfigHash);
    } catch (error) {
      if (!(error instanceof VersionRefused)) throw error;
      this.refuse(error.message);
      return 'the global version failed verification at this site';
    }
    const declined = await this.checkConfig(version.federationId, config);
    if (declined) {
      const reason = `version ${version.version} of '${config.name}': ${declined.reason}`;
      if (declined.refusal) this.refuse(reason);
      else this.report('warn', `not taken: ${reason}`);
      this.recordDecline(version.federationId, null, version.version, declined.reason);
      return declined.reason;
    }
    const known = await this.options.store.remote.latestGlobalVersion(version.federationId);
    if (known && known.version >= version.version) return undefined;
    await this.options.store.remote.saveGlobalVersion({
      federationId: version.federationId,
      version: version.version,
      hash: version.hash,
      config: JSON.stringify(config),
      descriptor: JSON.stringify(version),
      shared: new Uint8Array(shared.buffer, shared.byteOffset, shared.byteLength).slice(),
      receivedAt: new Date().toISOString(),
    });
    this.report(
      'info',
      `${why === 'catch-up' && known ? 'caught up to' : 'received'} version ${version.version} of '${config.name}'`,
    );
    this.emit('event', {
      type: 'version',
      federationId: version.federationId,
      version: version.version,
      hash: version.hash,
    });
    return undefined;
  }

  private refuse(message: string): void {
    this.lastRefusal = { at: new Date().toISOString(), message };
    // Kept across restarts: an operator who was away must still see what this site refused.
    this.options.store.remote.setSetting(LAST_REFUSAL_SETTING, this.lastRefusal).catch(() => undefined);
    this.report('error', `refused: ${message}`);
    this.emit('event', { type: 'refusal', at: this.lastRefusal.at, message });
  }

  private send(message: RoundFrame & { type: string }): void {
    const frame = encodeFrame(message);
    if (this.options.connection.sendFrame(message.type, frame) && this.run && !this.run.finished)
      this.run.uploadBytes += frame.byteLength;
  }

  private decline(open: RoundOpen, reason: string): void {
    const message: SiteRoundMessage = {
      type: 'round-join',
      federationId: open.federationId,
      round: open.round,
      accept: false,
      reason,
    };
    this.send(message);
    this.report('info', `declined round ${open.round} of '${open.config.name}': ${reason}`);
    this.recordDecline(open.federationId, open.round, open.version.version, reason);
    const now = new Date().toISOString();
    this.options.store.remote
      .recordRound({
        federationId: open.federationId,
        round: open.round,
        status: 'declined',
        reason,
        startedAt: now,
        finishedAt: now,
        startingVersion: open.version.version,
        publishedVersion: null,
        details: { mode: open.mode },
      })
      .catch((error: Error) => this.report('error', `could not record the declined round: ${error.message}`));
    this.emit('event', {
      type: 'round',
      federationId: open.federationId,
      round: open.round,
      phase: 'declined',
      detail: reason,
    });
  }

  private async onRoundOpen(open: RoundOpen): Promise<void> {
    const siteId = this.options.enrollment.siteId;
    if (!open.participants.includes(siteId)) return;
    if (this.run && !this.run.finished)
      return this.decline(open, `still busy with round ${this.run.open.round}`);
    const settings = await this.participation();
    if (!settings.participate) return this.decline(open, 'the site operator has paused participation');
    if (!insideWindow(settings.window))
      return this.decline(open, 'outside the participation window set by the site operator');

    const notAccepted = await this.acceptVersion(
      open.version,
      open.shared,
      open.config,
      open.configHash,
      'round',
    );
    if (notAccepted) return this.decline(open, notAccepted);
    // Loaded here, not at startup: the module brings onnxruntime, which the agent's thread rarely needs.
    const { encoderUnavailable } = await import('../../core/ml/encoder/image-encoder.node.js');
    const missing = await encoderUnavailable(this.options.encoderDir, federationEncoder(open.config));
    if (missing) return this.decline(open, missing);
    const roster = await this.rosterFor(open.participants, open.identityKeys, settings.autoAcceptRoster);
    if (typeof roster === 'string') return this.decline(open, roster);

    const controller = new AbortController();
    const base = await this.options.loadBase();
    const config = open.config;
    const [train, validation, personal] = await Promise.all([
      this.options.data.loadTrainingData({ split: 'train' }),
      this.options.data.loadTrainingData({ split: 'val' }),
      this.options.store.remote.personalAdapter(open.federationId),
    ]);
    const run: RoundRun = {
      open,
      identityKeys: roster,
      participants: undefined,
      startedAt: new Date().toISOString(),
      controller,
      secagg: undefined,
      result: undefined,
      pendingShares: undefined,
      secaggMs: 0,
      trainedAt: undefined,
      setupWaitMs: 0,
      uploadBytes: 0,
      finished: false,
      pipeline: Promise.resolve(undefined as unknown as LocalRoundResult),
    };
    this.run = run;
    await this.options.store.remote.recordRound({
      federationId: open.federationId,
      round: open.round,
      status: 'running',
      reason: null,
      startedAt: run.startedAt,
      finishedAt: null,
      startingVersion: open.version.version,
      publishedVersion: null,
      details: {},
    });
    this.send({
      type: 'round-join',
      federationId: open.federationId,
      round: open.round,
      accept: true,
      reason: null,
    });
    this.emit('event', {
      type: 'round',
      federationId: open.federationId,
      round: open.round,
      phase: 'joined',
      detail: `${open.participants.length} sites invited`,
    });

    // The TLS socket writes the join out on a later turn of the event loop; preparing the local round
    // holds this thread for a while (measured: such frames reached the coordinator 0.1–0.4 s late, and
    // the whole stage waited for them). So the join goes out first.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (run.finished || this.run !== run) return;
    run.pipeline = runLocalRound({
      base,
      config,
      globalShared: bitsToFloats(open.shared),
      personal: personal
        ? decodeAdapter(personal.adapterJson, personal.weights, base.config).adapter
        : undefined,
      train,
      validation,
      seed: (config.seed ^ stableHash32(`${siteId}:${open.round}`)) >>> 0,
      evaluateOnly: open.mode === 'evaluate',
      trainer: this.options.trainer(),
      ...(base.config.arch === 'feat-vqa'
        ? { imageInputs: this.cachedFeatures(base.config, controller.signal) }
        : {}),
      ...(this.options.threads ? { threads: this.options.threads } : {}),
      signal: controller.signal,
      onProgress: (phase, progress) =>
        this.emit('event', {
          type: 'round',
          federationId: open.federationId,
          round: open.round,
          phase,
          detail: null,
          progress,
        }),
    });
    run.pipeline.then(
      (result) => this.onTrained(run, result),
      (error: Error) => this.leave(run, `local training failed: ${error.message}`),
    );
  }

  /**
   * Joining closed: these sites take part. In secure mode this site now starts secure aggregation over
   * exactly them (the coordinator does the same), after checking the list could be an honest one: a
   * subset of the sites the round was opened to, this site among them, and at least the federation's
   * minimum (a smaller roster would lower the threshold below what the consortium agreed to).
   */
  private async onRoundRoster(message: RoundRoster): Promise<void> {
    const run = this.run;
    const { open } = run ?? {};
    if (!run || !open || run.finished || message.federationId !== open.federationId) return;
    if (message.round !== open.round || run.participants) return;
    const siteId = this.options.enrollment.siteId;
    const invited = new Set(open.participants);
    const policy = await this.options.store.remote.sitePolicy();
    const problem = !message.participants.includes(siteId)
      ? 'this site is not in it'
      : message.participants.some((id) => !invited.has(id))
        ? 'it names a site the round was not opened to'
        : new Set(message.participants).size !== message.participants.length
          ? 'it names a site twice'
          : rosterPolicyProblem(open.config, message.participants.length, policy);
    if (problem) {
      this.refuse(`round ${open.round}: the coordinator's roster was refused: ${problem}`);
      return this.leave(run, `refused by this site: the round's roster: ${problem}`);
    }
    if (run.finished || run.participants) return;
    run.participants = [...message.participants].sort();
    const config = open.config;
    if (!config.secure.enabled) return;
    const dimension = open.mode === 'evaluate' ? 0 : open.shared.length;
    const spec = roundEncodingSpec(config.secure.clipNorm, run.participants.length);
    run.secagg = new SecAggClient({
      session: {
        federationId: open.federationId,
        round: open.round,
        modelHash: open.version.hash,
        configHash: open.configHash,
      },
      siteId,
      identitySecretKey: this.options.identity.secretKey,
      roster: Object.fromEntries(run.participants.map((id) => [id, decodeKey(run.identityKeys[id]!)])),
      vectorLength: encodedLength(dimension, spec),
      ...(config.secure.threshold ? { threshold: config.secure.threshold } : {}),
      ...(config.secure.neighbours ? { neighbours: config.secure.neighbours } : {}),
      ...(this.options.maskEngine ? { engine: this.options.maskEngine } : {}),
    });
    const started = performance.now();
    const advert = run.secagg.advertise();
    run.secaggMs += performance.now() - started;
    this.send(advert);
  }

  /** The approved identity keys of the round's sites, or why this site will not run with them. */
  private async rosterFor(
    participants: string[],
    announced: Record<string, string>,
    autoAccept: boolean,
  ): Promise<Record<string, string> | string> {
    const approved = { ...(await this.approvedRoster()) };
    approved[this.options.enrollment.siteId] ??= encodeKey(this.options.identity.publicKey);
    const unknown: string[] = [];
    for (const id of participants) {
      const key = announced[id];
      if (approved[id] && key && approved[id] !== key)
        return `site ${id} announced a different identity key than the one approved`;
      if (!approved[id]) {
        if (autoAccept && key) approved[id] = key;
        else unknown.push(id);
      }
    }
    if (unknown.length > 0) {
      this.emit('event', { type: 'roster-pending', sites: unknown });
      return `roster change awaiting operator approval (${unknown.join(', ')})`;
    }
    if (autoAccept) await this.options.store.remote.setSetting(APPROVED_ROSTER_SETTING, approved);
    return approved;
  }

  /** FeatVQA's image inputs: the encoder features from the site store's cache (computed there on first use). */
  private cachedFeatures(cfg: FeatVqaConfig, signal: AbortSignal) {
    return async (images: ReadonlyMap<string, GrayImage>) =>
      featureRows(
        cfg,
        await this.options.data.featuresFor([...images.keys()], cfg.encoder, {
          encoderDir: this.options.encoderDir,
          signal,
          ...(this.options.threads ? { threads: this.options.threads } : {}),
        }),
      );
  }

  private async onTrained(run: RoundRun, result: LocalRoundResult): Promise<void> {
    if (run.finished) return;
    run.result = result;
    run.trainedAt = performance.now();
    const { open } = run;
    if (open.mode === 'train') {
      const base = await this.options.loadBase();
      const { json, weights } = encodeAdapter(result.trained, baseRef(base), {
        federation: open.federationId,
        round: open.round,
      });
      await this.options.store.remote.savePersonalAdapter({
        federationId: open.federationId,
        adapterJson: json,
        weights,
        trainedInRound: open.round,
        updatedAt: new Date().toISOString(),
      });
    }
    this.emit('event', {
      type: 'round',
      federationId: open.federationId,
      round: open.round,
      // An evaluation round measures the version and trains nothing.
      phase: open.mode === 'evaluate' ? 'evaluated' : 'trained',
      detail: null,
      timings: { trainMs: Math.round(result.trainMs), evaluateMs: Math.round(result.evaluateMs) },
    });
    if (!open.config.secure.enabled) {
      // Checked again at the moment of sending: only this site's operator can allow plaintext.
      if ((await this.options.store.remote.sitePolicy()).secureRequired)
        return this.leave(run, 'refused by this site: its policy requires secure aggregation');
      if (!(await this.claimContribution(run, `plain update in round ${open.round}`))) return;
      this.send({
        type: 'plain-update',
        federationId: open.federationId,
        round: open.round,
        site: this.options.enrollment.siteId,
        update: floatBits(result.contribution.delta),
        weight: result.contribution.weight,
        counters: Object.values(result.contribution.counters),
      });
    }
    // In secure mode the masked input goes out when the coordinator's share bundle arrives (or has).
    await this.flushPendingShares(run);
  }

  private async onSecAggMessage(frame: Record<string, unknown>): Promise<void> {
    const run = this.run;
    if (!run || run.finished || !run.secagg) return;
    const message = parseServerMessage(frame);
    if (message.type === 'shares') {
      if (run.trainedAt !== undefined) run.setupWaitMs = performance.now() - run.trainedAt;
      run.pendingShares = message;
      return this.flushPendingShares(run);
    }
    // Unmasking lets the coordinator compute the sum over `alive`: from one version, only ever one sum.
    if (message.type === 'unmask-request') {
      const alive = [...message.alive].sort();
      if (!(await this.claimContribution(run, `sites ${alive.join(', ')}`))) return;
    }
    await this.answer(run, message);
  }

  /** The masked input needs both the share bundle and the trained update; sends it once both exist. */
  private async flushPendingShares(run: RoundRun): Promise<void> {
    if (!run.pendingShares || !run.result || run.finished || !run.secagg) return;
    const bundle = run.pendingShares;
    run.pendingShares = undefined;
    const spec = roundEncodingSpec(run.open.config.secure.clipNorm, run.participants!.length);
    run.secagg.setInput(encodeContribution(run.result.contribution, spec));
    await this.answer(run, bundle);
  }

  /**
   * Records, before the coordinator can compute a sum that holds this site's contribution from the
   * round's starting version, which sum that is (`summedWith`); leaves the round if this site already
   * let a different sum be computed from that version (SECURITY.md, "Counters cannot be differenced").
   */
  private async claimContribution(run: RoundRun, summedWith: string): Promise<boolean> {
    const { open } = run;
    const claim = await this.options.store.remote.claimContribution(
      open.federationId,
      open.version.hash,
      open.round,
      summedWith,
    );
    if (claim.ok) return !run.finished;
    await this.leave(
      run,
      `refused by this site: in round ${claim.round} it already let the coordinator sum its contribution from version ${open.version.version} over another set of sites; the two sums could be subtracted`,
    );
    return false;
  }

  private async answer(run: RoundRun, message: unknown): Promise<void> {
    try {
      const started = performance.now();
      const reply = await run.secagg!.handle(message);
      run.secaggMs += performance.now() - started;
      this.send(reply);
      this.emit('event', {
        type: 'round',
        federationId: run.open.federationId,
        round: run.open.round,
        phase: `secagg:${reply.type}`,
        detail: null,
      });
    } catch (error) {
      if (!(error instanceof SecAggError)) throw error;
      // A refusal (lying coordinator, bad signature, replay …): this site stops answering this round.
      this.refuse(`secure aggregation, round ${run.open.round}: ${error.message}`);
      await this.leave(run, `refused by this site: ${error.message}`);
    }
  }

  private async leave(run: RoundRun, reason: string): Promise<void> {
    if (run.finished) return;
    run.finished = true;
    run.controller.abort();
    this.send({
      type: 'round-leave',
      federationId: run.open.federationId,
      round: run.open.round,
      reason: reason.slice(0, 300),
    });
    await this.closeRound(run, 'left', reason, null);
  }

  private async onRoundResult(result: ReturnType<typeof roundResultSchema.parse>): Promise<void> {
    const run = this.run;
    if (
      !run ||
      run.open.federationId !== result.federationId ||
      run.open.round !== result.round ||
      run.finished
    )
      return;
    run.finished = true;
    run.controller.abort();
    const mine = this.options.enrollment.siteId;
    const status =
      result.status === 'completed' ? (result.included.includes(mine) ? 'completed' : 'dropped') : 'aborted';
    await this.closeRound(run, status, result.reason, result.version?.version ?? null);
  }

  private async closeRound(
    run: RoundRun,
    status: SiteRoundOutcome,
    reason: string | null,
    publishedVersion: number | null,
  ): Promise<void> {
    const { open } = run;
    const local = run.result;
    const acc = (c: { n: number; correct: number } | undefined) => (c && c.n > 0 ? c.correct / c.n : null);
    const details = {
      trainExamples: local?.contribution.weight ?? null,
      trainLoss: local?.stats.lastEpochLoss ?? null,
      // This site's own accuracy of the starting global version: shown here, never sent.
      validation: local
        ? {
            n: local.startingEvaluation.n,
            closedAcc: acc(local.startingEvaluation.closed),
            openAcc: acc(local.startingEvaluation.open),
            overallAcc:
              local.startingEvaluation.n > 0
                ? (local.startingEvaluation.closed.correct + local.startingEvaluation.open.correct) /
                  local.startingEvaluation.n
                : null,
          }
        : null,
      trainMs: local ? Math.round(local.trainMs) : null,
      evaluateMs: local ? Math.round(local.evaluateMs) : null,
      // How far local training moved the shared tensors, against the federation's clipping bound.
      updateNorm: local ? l2Norm(local.contribution.delta) : null,
      clipNorm: open.config.secure.clipNorm,
      secaggClientMs: Math.round(run.secaggMs),
      secaggSetupWaitMs: Math.round(run.setupWaitMs),
      uploadBytes: run.uploadBytes,
      mode: open.mode,
    };
    await this.options.store.remote.recordRound({
      federationId: open.federationId,
      round: open.round,
      status,
      reason,
      startedAt: run.startedAt,
      finishedAt: new Date().toISOString(),
      startingVersion: open.version.version,
      publishedVersion,
      details,
    });
    this.report(
      status === 'completed' ? 'info' : 'warn',
      `round ${open.round} of '${open.config.name}': ${status}${reason ? ` (${reason})` : ''}`,
    );
    this.emit('event', {
      type: 'round',
      federationId: open.federationId,
      round: open.round,
      phase: status,
      detail: reason,
      details,
    });
  }

  private report(level: 'info' | 'warn' | 'error', message: string): void {
    this.emit('event', { type: 'log', level, message });
  }
}

function l2Norm(values: Float32Array): number {
  let squares = 0;
  for (const value of values) squares += value * value;
  return Math.sqrt(squares);
}
