import { EventEmitter } from 'node:events';
import { SECAGG_STAGES } from '../../core/secagg/stages.js';
import { decodeKey, type IdentityKeyPair } from '../../core/crypto/identity.js';
import { applyServerStep, type StrategyState } from '../../core/fl/strategies.js';
import {
  ROUND_COUNTERS,
  aggregatePlain,
  decodeAggregate,
  roundEncodingSpec,
  roundMetrics,
  type RoundAggregate,
  type RoundMetrics,
  type SiteContribution,
} from '../../core/fl/round-vector.js';
import {
  configHash,
  federationConfigSchema,
  sha256Hex,
  sharedVectorBytes,
  signModelVersion,
  type FederationConfig,
  type ModelVersion,
} from '../../core/protocol/federation.js';
import {
  bitsToFloats,
  decodeFrame,
  encodeFrame,
  floatBits,
  plainUpdateSchema,
  roundJoinSchema,
  roundLeaveSchema,
  type RoundFrame,
} from '../../core/protocol/rounds.js';
import {
  SecAggError,
  SecAggServer,
  encodedLength,
  type MaskEngine,
  type ServerStage,
} from '../../core/secagg/index.js';
import { CONTROL_FRAME_BYTES, MAX_WS_MESSAGE_BYTES } from '../../core/protocol/session.js';
import type { Remote } from '../../core/util/worker-rpc.node.js';
import type { SiteSessions } from '../http/site-sessions.js';
import type { CoordinatorStore, VersionRow } from '../store/coordinator-store.js';

export class RoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RoundError';
  }
}

export interface RoundTimings {
  totalMs: number;
  joinMs: number;
  /** Per secure-aggregation stage (or `plain-update` in insecure mode), wall time until it closed. */
  stagesMs: Record<string, number>;
  aggregateMs: number;
}

export interface RoundOutcome {
  federationId: string;
  round: number;
  status: 'completed' | 'aborted';
  reason: string | null;
  participants: string[];
  included: string[];
  dropped: string[];
  version: ModelVersion | null;
  metrics: (RoundMetrics & { startingVersion: number }) | null;
  timings: RoundTimings;
}

export type RoundEvent =
  | { type: 'round-started'; federationId: string; round: number; participants: string[] }
  | { type: 'round-stage'; federationId: string; round: number; stage: string; waitingFor: string[] }
  | { type: 'round-finished'; outcome: RoundOutcome };

interface ActiveRound {
  federationId: string;
  round: number;
  participants: Set<string>;
  /** Each site's answer to round-open: joined, or declined with its reason in its words. */
  joins: Map<string, { accept: boolean; reason: string | null }>;
  /** Sites out of the round: those that sent round-leave, and those that had not joined when joining closed. */
  left: Set<string>;
  plainUpdates: Map<string, SiteContribution>;
  secagg: SecAggServer | undefined;
  /** Site messages not yet handed to the coordinator, and the pass that will (see `deliverToSecAgg`). */
  secaggQueue: { from: string; message: unknown }[];
  secaggDraining: Promise<void> | undefined;
  /** Wakes the waiting stage loop when something relevant arrived. */
  wake: () => void;
  /** Set when the operator cancels the round: why (the stage being waited on ends, and the round aborts). */
  cancelled: string | undefined;
}

const SECAGG_CLIENT_TYPES = new Set<string>(SECAGG_STAGES);

/**
 * Runs a federation's rounds (DESIGN §2): asks the connected sites to join, drives secure aggregation
 * (core/secagg) over their WebSocket sessions with a deadline per stage, decodes the sum, applies the
 * server strategy, and publishes the next version (hashed, signed, stored with its parent and metrics in
 * one transaction). One round runs at a time per coordinator.
 */
export class RoundEngine extends EventEmitter<{ event: [RoundEvent] }> {
  private active: ActiveRound | undefined;
  private stopReason: string | undefined;

  constructor(
    private readonly store: Remote<CoordinatorStore>,
    private readonly sessions: SiteSessions,
    private readonly identity: IdentityKeyPair,
    private readonly maskEngine?: MaskEngine,
  ) {
    super();
    sessions.on('frame', (siteId, bytes) => this.onFrame(siteId, bytes));
    sessions.on('disconnected', () => this.active?.wake());
    sessions.on('connected', (session) => void this.sendLatestVersions(session.siteId));
  }

  get runningRound(): { federationId: string; round: number } | undefined {
    return this.active && { federationId: this.active.federationId, round: this.active.round };
  }

  /**
   * For shutdown: the round in flight aborts with `reason` rather than with the stage failure that the
   * closing site connections cause, and no further round starts.
   */
  stop(reason: string): void {
    this.stopReason = reason;
  }

  /**
   * Aborts the running round with `reason` at its next wait (the stage being waited on ends at once).
   * Returns the round, or undefined when none runs.
   */
  cancel(reason: string): { federationId: string; round: number } | undefined {
    const active = this.active;
    if (!active) return undefined;
    active.cancelled ??= reason;
    active.wake();
    return { federationId: active.federationId, round: active.round };
  }

  /** Creates a federation with its version 0 (the freshly initialised shared adapter tensors). */
  async createFederation(
    id: string,
    config: FederationConfig,
    initialShared: Float32Array,
  ): Promise<ModelVersion> {
    const parsed = federationConfigSchema.parse(config);
    if (await this.store.getFederation(id)) throw new RoundError(`a federation named '${id}' already exists`);
    const hashOfConfig = await configHash(parsed);
    const version = await this.signVersion(id, 0, initialShared, null, parsed, hashOfConfig);
    await this.store.createFederation(
      { id, name: parsed.name, config: parsed, configHash: hashOfConfig, createdAt: version.createdAt },
      {
        hash: version.hash,
        shared: sharedVectorBytes(initialShared).slice(),
        optimizerState: null,
        signature: version.signature,
        createdAt: version.createdAt,
      },
    );
    return version;
  }

  /** Runs one round to completion or clean abort. Throws RoundError only when it cannot start. */
  /**
   * `evaluateOnly` runs an evaluation round: sites only evaluate the current version and securely sum
   * their counters; no update, no new version (how the final version's accuracy is measured).
   */
  async runRound(
    federationId: string,
    { evaluateOnly = false }: { evaluateOnly?: boolean } = {},
  ): Promise<RoundOutcome> {
    if (this.stopReason) throw new RoundError(this.stopReason);
    if (this.active)
      throw new RoundError(`round ${this.active.round} of ${this.active.federationId} is still running`);
    const federation = await this.store.getFederation(federationId);
    if (!federation) throw new RoundError(`no federation '${federationId}'`);
    const config = federationConfigSchema.parse(federation.config);
    const base = await this.store.getVersion(federationId);
    if (!base) throw new RoundError(`federation '${federationId}' has no version`);
    const enrolled = new Map(
      (await this.store.listSites()).filter((s) => !s.revokedAt).map((s) => [s.id, s]),
    );
    const candidates = this.sessions
      .connectedIds()
      .filter((id) => enrolled.has(id))
      .sort();
    if (candidates.length < config.minSites) {
      throw new RoundError(
        `only ${candidates.length} site(s) connected; the federation needs at least ${config.minSites}`,
      );
    }

    const round = await this.store.nextRound(federationId);
    const started = Date.now();
    await this.store.beginRound({
      federationId,
      round,
      baseVersion: base.version,
      startedAt: new Date(started).toISOString(),
      participants: candidates,
    });
    const active: ActiveRound = {
      federationId,
      round,
      participants: new Set(candidates),
      joins: new Map(),
      left: new Set(),
      plainUpdates: new Map(),
      secagg: undefined,
      secaggQueue: [],
      secaggDraining: undefined,
      wake: () => undefined,
      cancelled: undefined,
    };
    this.active = active;
    this.emit('event', { type: 'round-started', federationId, round, participants: candidates });
    const timings: RoundTimings = { totalMs: 0, joinMs: 0, stagesMs: {}, aggregateMs: 0 };
    let included: string[] = [];
    let dropped: string[] = [];

    const finish = async (
      outcome: Omit<RoundOutcome, 'federationId' | 'round' | 'participants' | 'timings'>,
    ): Promise<RoundOutcome> => {
      timings.totalMs = Date.now() - started;
      this.active = undefined;
      this.allowVectors(candidates, false);
      const result: RoundOutcome = { federationId, round, participants: candidates, timings, ...outcome };
      const frame = encodeFrame({
        type: 'round-result',
        federationId,
        round,
        status: outcome.status,
        reason: outcome.reason,
        version: outcome.version,
        included: outcome.included,
        dropped: outcome.dropped,
      });
      for (const site of candidates) this.sessions.send(site, frame);
      this.emit('event', { type: 'round-finished', outcome: result });
      if (outcome.status === 'completed')
        for (const site of this.sessions.connectedIds()) await this.sendLatestVersions(site);
      return result;
    };
    const abort = async (failure: string) => {
      const why = this.stopReason ?? failure;
      // The round-result frame carries at most 500 characters of reason (many sites' decline reasons).
      const reason = why.length > 500 ? `${why.slice(0, 499)}…` : why;
      await this.store.abortRound(
        { federationId, round, finishedAt: new Date().toISOString(), included, dropped, timings },
        reason,
      );
      return finish({ status: 'aborted', reason, included, dropped, version: null, metrics: null });
    };

    try {
      const joinBy = started + config.deadlines.stageMs;
      const trainBy = joinBy + config.deadlines.trainingMs;
      const versionDescriptor = await this.describeVersion(federationId, base, config, federation.configHash);
      const open = encodeFrame({
        type: 'round-open',
        federationId,
        round,
        mode: evaluateOnly ? 'evaluate' : 'train',
        config,
        configHash: federation.configHash,
        version: versionDescriptor,
        shared: floatBits(bitsToFloats(copyWords(base.shared))),
        participants: candidates,
        identityKeys: Object.fromEntries(
          candidates.map((site) => [site, enrolled.get(site)!.identityPublicKey]),
        ),
        joinBy: new Date(joinBy).toISOString(),
        trainBy: new Date(trainBy).toISOString(),
      });
      // Without secure aggregation a site sends its update as soon as it has trained, which may be before
      // joining closes; with it, only after the share-keys stage closed (see driveSecAgg).
      if (!config.secure.enabled) this.allowVectors(candidates, true);
      for (const site of candidates) this.sessions.send(site, open);

      this.emit('event', { type: 'round-stage', federationId, round, stage: 'join', waitingFor: candidates });
      await this.waitFor(
        active,
        () => candidates.every((s) => active.joins.has(s) || !this.reachable(active, s)),
        joinBy,
      );
      if (active.cancelled) return await abort(active.cancelled);
      timings.joinMs = Date.now() - started;
      const joined = candidates.filter(
        (s) => active.joins.get(s)?.accept === true && this.reachable(active, s),
      );
      if (joined.length < config.minSites) {
        const why = [...active.joins]
          .filter(([, join]) => !join.accept)
          .map(([site, join]) => `${site}: ${join.reason ?? 'no reason given'}`);
        const silent = candidates.filter((s) => !active.joins.has(s));
        if (silent.length > 0) why.push(`no answer from ${silent.join(', ')}`);
        return await abort(
          `only ${joined.length} site(s) joined; the federation needs at least ${config.minSites}` +
            (why.length > 0 ? ` (${why.join('; ')})` : ''),
        );
      }

      // A site that declined or went away before the join stage closed takes no further part: no stage
      // waits for it, and it is not in secure aggregation's roster, so it does not count against the
      // threshold (of three sites with one declining, the other two can still finish the round).
      for (const site of candidates) if (!joined.includes(site)) active.left.add(site);
      const dimension = evaluateOnly ? 0 : base.shared.byteLength / 4;
      // The joined sites build their secure-aggregation client and the encoding from the round-roster
      // frame below, and the coordinator from the same list: the roster size is bound into session_id and
      // the participant count sets the encoding's bits.
      const spec = roundEncodingSpec(config.secure.clipNorm, joined.length);
      const roster = encodeFrame({ type: 'round-roster', federationId, round, participants: joined });
      let aggregate: RoundAggregate;
      if (config.secure.enabled) {
        if (config.secure.threshold && joined.length < config.secure.threshold)
          return await abort(
            `only ${joined.length} site(s) joined; secure aggregation needs at least ${config.secure.threshold}`,
          );
        const server = new SecAggServer({
          session: { federationId, round, modelHash: base.hash, configHash: federation.configHash },
          roster: Object.fromEntries(
            joined.map((site) => [site, decodeKey(enrolled.get(site)!.identityPublicKey)]),
          ),
          vectorLength: encodedLength(dimension, spec),
          ...(config.secure.threshold ? { threshold: config.secure.threshold } : {}),
          ...(config.secure.neighbours ? { neighbours: config.secure.neighbours } : {}),
          ...(this.maskEngine ? { engine: this.maskEngine } : {}),
        });
        active.secagg = server;
        for (const site of joined) this.sessions.send(site, roster);
        const sum = await this.driveSecAgg(active, server, config, trainBy, timings);
        if (typeof sum === 'string') return await abort(sum);
        included = sum.included;
        dropped = joined.filter((s) => !included.includes(s));
        const decodeStart = Date.now();
        aggregate = decodeAggregate(sum.sum, dimension, spec);
        timings.aggregateMs = Date.now() - decodeStart;
      } else {
        for (const site of joined) this.sessions.send(site, roster);
        const stageStart = Date.now();
        this.emit('event', {
          type: 'round-stage',
          federationId,
          round,
          stage: 'plain-update',
          waitingFor: joined,
        });
        await this.waitFor(
          active,
          () => joined.every((s) => active.plainUpdates.has(s) || !this.reachable(active, s)),
          trainBy,
        );
        if (active.cancelled) return await abort(active.cancelled);
        timings.stagesMs['plain-update'] = Date.now() - stageStart;
        included = joined.filter((s) => active.plainUpdates.has(s));
        dropped = joined.filter((s) => !active.plainUpdates.has(s));
        if (included.length < config.minSites)
          return await abort(
            `only ${included.length} update(s) arrived; the federation needs at least ${config.minSites}`,
          );
        aggregate = aggregatePlain(
          included.map((s) => active.plainUpdates.get(s)!),
          config.secure.clipNorm,
        );
      }
      if (evaluateOnly) {
        const metrics = { ...roundMetrics(aggregate), startingVersion: base.version };
        await this.store.completeRound({
          federationId,
          round,
          finishedAt: new Date().toISOString(),
          included,
          dropped,
          metrics: { ...metrics, evaluationOnly: true },
          timings: { ...timings, totalMs: Date.now() - started },
        });
        return await finish({ status: 'completed', reason: null, included, dropped, version: null, metrics });
      }
      if (aggregate.totalWeight <= 0) return await abort('the included sites reported no training examples');

      const stepStart = Date.now();
      const global = bitsToFloats(copyWords(base.shared));
      const { next, state } = applyServerStep(
        config.strategy,
        global,
        aggregate.meanDelta,
        decodeOptimizerState(base.optimizerState, dimension),
      );
      const version = await this.signVersion(
        federationId,
        base.version + 1,
        next,
        base.hash,
        config,
        federation.configHash,
      );
      const metrics = { ...roundMetrics(aggregate), startingVersion: base.version };
      timings.aggregateMs += Date.now() - stepStart;
      await this.store.completeRound(
        {
          federationId,
          round,
          finishedAt: new Date().toISOString(),
          included,
          dropped,
          metrics,
          timings: { ...timings, totalMs: Date.now() - started },
        },
        {
          federationId,
          version: version.version,
          hash: version.hash,
          parentHash: base.hash,
          round,
          shared: sharedVectorBytes(next).slice(),
          optimizerState: encodeOptimizerState(state),
          signature: version.signature,
          createdAt: version.createdAt,
        },
      );
      return await finish({ status: 'completed', reason: null, included, dropped, version, metrics });
    } catch (error) {
      if (this.active !== active) throw error;
      const reason =
        error instanceof SecAggError
          ? `secure aggregation failed: ${error.message}`
          : `round failed: ${(error as Error).message}`;
      return abort(reason);
    }
  }

  /** Stages 0–4 with their deadlines; returns the sum over U3, or why the round must abort. */
  private async driveSecAgg(
    active: ActiveRound,
    server: SecAggServer,
    config: FederationConfig,
    trainBy: number,
    timings: RoundTimings,
  ): Promise<{ sum: Uint32Array; included: string[] } | string> {
    for (;;) {
      const stage: ServerStage = server.stage;
      if (stage === 'done' || stage === 'aborted') return 'secure aggregation ended without a result';
      const stageStart = Date.now();
      const deadline =
        stage === 'masked-input'
          ? Math.max(trainBy, stageStart + config.deadlines.stageMs)
          : stageStart + config.deadlines.stageMs;
      this.emit('event', {
        type: 'round-stage',
        federationId: active.federationId,
        round: active.round,
        stage,
        waitingFor: server.pending(),
      });
      await this.waitFor(active, () => server.pending().every((s) => !this.reachable(active, s)), deadline);
      if (active.cancelled) return active.cancelled;
      await active.secaggDraining; // messages that arrived before the stage closed count
      let output;
      try {
        output = await server.closeStage();
      } catch (error) {
        if (error instanceof SecAggError) return `secure aggregation stopped at ${stage}: ${error.message}`;
        throw error;
      }
      timings.stagesMs[stage] = Date.now() - stageStart;
      // The stage's outbound messages open the next one: a site may send its masked vector as soon as its
      // share bundle arrives, so the limit is raised before they go out, and lowered after.
      this.allowVectors(active.participants, server.stage === 'masked-input');
      for (const { to, message } of output.outbound) this.sessions.send(to, encodeFrame(message));
      if (output.result) return { sum: output.result.sum, included: [...output.result.included].sort() };
    }
  }

  private reachable(active: ActiveRound, site: string): boolean {
    return !active.left.has(site) && this.sessions.get(site) !== undefined;
  }

  /** Resolves when `done()` holds (checked whenever a frame or disconnect arrives) or at `deadline`. */
  private waitFor(active: ActiveRound, done: () => boolean, deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        active.wake = () => undefined;
        resolve();
      };
      const timer = setTimeout(finish, Math.max(0, deadline - Date.now()));
      active.wake = () => {
        if (active.cancelled || done()) finish();
      };
      active.wake();
    });
  }

  private onFrame(siteId: string, bytes: Uint8Array): void {
    const active = this.active;
    let frame: { type: string } & Record<string, unknown>;
    try {
      frame = decodeFrame(bytes);
    } catch {
      return void this.reject(siteId, 'undecodable frame');
    }
    if (!active || !active.participants.has(siteId))
      return void this.reject(siteId, `${frame.type} outside a round it takes part in`);
    if (
      frame.federationId !== undefined &&
      (frame.federationId !== active.federationId || frame.round !== active.round)
    ) {
      return void this.reject(siteId, `${frame.type} for another round`);
    }
    try {
      if (SECAGG_CLIENT_TYPES.has(frame.type)) {
        // Sites start secure aggregation when the roster arrives, which is sent once the coordinator's
        // side exists: anything earlier, or from a site not in the roster, is a protocol violation.
        if (!active.secagg || active.left.has(siteId))
          throw new Error(`${frame.type} from a site outside the round's secure-aggregation roster`);
        this.deliverToSecAgg(active, active.secagg, siteId, frame);
      } else if (frame.type === 'round-join') {
        const join = roundJoinSchema.parse(frame);
        // A site answers once; a second answer (replayed or damaged) is a protocol violation, not a change.
        if (active.joins.has(siteId)) throw new Error('a second round-join');
        active.joins.set(siteId, { accept: join.accept, reason: join.reason });
        if (!join.accept)
          void this.store.audit('round-declined', siteId, { round: active.round, reason: join.reason });
      } else if (frame.type === 'round-leave') {
        const leave = roundLeaveSchema.parse(frame);
        active.left.add(siteId);
        void this.store.audit('round-left', siteId, { round: active.round, reason: leave.reason });
      } else if (frame.type === 'plain-update') {
        const update = plainUpdateSchema.parse(frame);
        if (update.site !== siteId || active.plainUpdates.has(siteId) || active.secagg)
          throw new Error('unexpected plain update');
        if (update.counters.length !== ROUND_COUNTERS.length)
          throw new Error('plain update with the wrong counters');
        const counters = Object.fromEntries(
          ROUND_COUNTERS.map((name, i) => [name, update.counters[i]!]),
        ) as SiteContribution['counters'];
        active.plainUpdates.set(siteId, {
          delta: bitsToFloats(copyWords(update.update)),
          weight: update.weight,
          counters,
        });
      } else {
        throw new Error(`unknown frame type ${frame.type}`);
      }
    } catch (error) {
      this.reject(siteId, (error as Error).message);
    }
    active.wake();
  }

  /**
   * Queues a site's secure-aggregation message. The queue goes to the coordinator in one `receiveAll` on
   * the next turn of the event loop, so a burst of adverts or consistency messages has its signatures
   * checked in parallel on the mask engine's threads; each message gets the outcome `receive` would give.
   */
  private deliverToSecAgg(
    active: ActiveRound,
    server: SecAggServer,
    siteId: string,
    frame: Record<string, unknown>,
  ): void {
    active.secaggQueue.push({ from: siteId, message: frame });
    active.secaggDraining ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
      this.drainSecAgg(active, server),
    );
  }

  private async drainSecAgg(active: ActiveRound, server: SecAggServer): Promise<void> {
    try {
      while (active.secaggQueue.length > 0) {
        const batch = active.secaggQueue.splice(0);
        let errors: (Error | undefined)[];
        try {
          errors = await server.receiveAll(batch);
        } catch (error) {
          errors = batch.map(() => error as Error);
        }
        errors.forEach((error, i) => {
          if (error) this.reject(batch[i]!.from, error.message);
        });
      }
    } finally {
      active.secaggDraining = undefined;
      active.wake();
    }
  }

  /** A refused message counts against the site's allowance; its audit is summarised (SiteSessions). */
  private reject(siteId: string, reason: string): void {
    this.sessions.reject(siteId, reason);
  }

  /** Lets the sites send vector-sized frames (only while a stage that carries their vector is open). */
  private allowVectors(sites: Iterable<string>, allow: boolean): void {
    for (const site of sites)
      this.sessions.setFrameLimit(site, allow ? MAX_WS_MESSAGE_BYTES : CONTROL_FRAME_BYTES);
  }

  private async describeVersion(
    federationId: string,
    row: VersionRow,
    config: FederationConfig,
    configHash: string,
  ): Promise<ModelVersion> {
    return {
      federationId,
      version: row.version,
      hash: row.hash,
      parentHash: row.parentHash,
      baseModelHash: config.baseModelHash,
      configHash,
      createdAt: row.createdAt,
      signature: row.signature,
    };
  }

  private async signVersion(
    federationId: string,
    version: number,
    shared: Float32Array,
    parentHash: string | null,
    config: FederationConfig,
    configHash: string,
  ): Promise<ModelVersion> {
    return signModelVersion(this.identity.secretKey, {
      federationId,
      version,
      hash: await sha256Hex(sharedVectorBytes(shared)),
      parentHash,
      baseModelHash: config.baseModelHash,
      configHash,
      createdAt: new Date().toISOString(),
    });
  }

  /** Catch-up: a site that (re)connects learns the latest version of every federation. */
  private async sendLatestVersions(siteId: string): Promise<void> {
    try {
      for (const federation of await this.store.listFederations()) {
        const row = await this.store.getVersion(federation.id);
        if (!row) continue;
        const config = federationConfigSchema.parse(federation.config);
        const frame: RoundFrame = {
          type: 'version-available',
          federationId: federation.id,
          config,
          configHash: federation.configHash,
          version: await this.describeVersion(federation.id, row, config, federation.configHash),
          shared: copyWords(row.shared),
        };
        this.sessions.send(siteId, encodeFrame(frame));
      }
    } catch (error) {
      console.error(`coordinator: could not send versions to ${siteId}: ${(error as Error).message}`);
    }
  }
}

/** A Uint32Array over a copy of `bytes` (SQLite BLOBs and frames may be unaligned views). */
function copyWords(bytes: Uint8Array | Uint32Array): Uint32Array {
  const source =
    bytes instanceof Uint32Array ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes;
  const copy = new Uint8Array(source.byteLength);
  copy.set(source);
  return new Uint32Array(copy.buffer);
}

function encodeOptimizerState(state: StrategyState): Uint8Array | null {
  if (!state.m || !state.v) return null;
  const out = new Float32Array(state.m.length * 2);
  out.set(state.m, 0);
  out.set(state.v, state.m.length);
  return new Uint8Array(out.buffer);
}

function decodeOptimizerState(bytes: Uint8Array | null, dimension: number): StrategyState {
  if (!bytes) return {};
  const values = bitsToFloats(copyWords(bytes));
  if (values.length !== dimension * 2)
    throw new Error('stored optimiser state does not match the model size');
  return { m: values.slice(0, dimension), v: values.slice(dimension) };
}
