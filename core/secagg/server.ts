import { equalBytes, fromBase64, fromBase64Into, toBase64 } from './bytes.js';
import { SECAGG_STAGES, type SecAggStage } from './stages.js';
import {
  advertMessage,
  consistencyMessage,
  derivePairSeeds,
  graphCommitment,
  graphSeed,
  publicKeyOf,
  selfMaskKey,
  selfSeedCommitment,
  sessionId,
  verify,
  isSmallOrder,
  type AdvertKeys,
  type PairSeedJob,
} from './crypto.js';
import { SecAggError, refuse } from './errors.js';
import { InThreadMaskEngine, addVectors, type MaskEngine, type MaskTerm, type SignatureJob } from './mask.js';
import {
  SHARE_BYTES,
  parseClientMessage,
  type AdvertList,
  type AdvertiseKeys,
  type ClientMessage,
  type ServerMessage,
} from './messages.js';
import {
  neighbourhoods,
  paramsTag,
  resolveParams,
  type RoundParams,
  type SecAggOptions,
  type SessionInfo,
} from './params.js';
import { libsodiumPrg } from './prg.js';
import { WordAccumulator } from './simd.js';
import { normaliseRoster, type Roster } from './roster.js';
import { combineAll } from './shares.js';

export interface SecAggServerConfig extends SecAggOptions {
  session: SessionInfo;
  roster: Roster;
  /** Where the unmasking runs. Default: this thread, libsodium's ChaCha20 (platform-free). */
  engine?: MaskEngine;
}

/** The stage whose messages the coordinator is collecting. */
export type ServerStage = SecAggStage | 'done' | 'aborted';
/** The stages in order; 'reveal' only with SecAgg+ neighbourhoods. */
const STAGE_ORDER: readonly ServerStage[] = SECAGG_STAGES;

export interface Outbound {
  to: string;
  message: ServerMessage;
}

export interface SecAggResult {
  /** Σ_{u∈U3} x_u mod 2^32. */
  sum: Uint32Array;
  /** U3, sorted: the sites whose inputs are in the sum. */
  included: string[];
  /** Roster \ U3, sorted. */
  dropped: string[];
  /** The participant sets of every stage, for audit and tests. */
  sets: { u1: string[]; u2: string[]; u3: string[]; u4: string[]; u5: string[] };
}

export interface StageOutput {
  /** The stage that just closed. */
  closed: ServerStage;
  /** Messages to send (nothing after the last stage). */
  outbound: Outbound[];
  /** Only after the unmasking stage. */
  result?: SecAggResult;
}

/**
 * The coordinator's side of one round: collects each stage's messages with `receive`, and moves on when
 * the caller calls `closeStage` (all expected messages in, or the stage's deadline passed: the caller
 * owns time). A bad message from one site throws a `SecAggError` from `receive` and is otherwise ignored;
 * too few sites at a stage close aborts the round (`closeStage` throws 'below-threshold').
 */
export class SecAggServer {
  readonly params: RoundParams;
  private stageName: ServerStage = 'advertise';
  private readonly session: SessionInfo;
  private readonly roster: Map<string, Uint8Array>;
  private readonly engine: MaskEngine;

  private adverts = new Map<string, AdvertiseKeys>();
  private keys = new Map<string, AdvertKeys>();
  private sid?: Uint8Array;
  private sidText = '';
  /** SecAgg+: the graph randomness each site of U1 revealed, checked against its commitment. */
  private reveals = new Map<string, Uint8Array>();
  private graph = new Map<string, string[]>();
  /** Each site's neighbourhood N[u] = its neighbours and itself, as a set (checked per message). */
  private neighbourhood = new Map<string, Set<string>>();
  /** The envelopes each site in U2 sent: sender → [(recipient, ciphertext)]. */
  private envelopes = new Map<string, { to: string; ciphertext: string }[]>();
  private commitments = new Map<string, Uint8Array>();
  private u2 = new Set<string>();
  private u3 = new Set<string>();
  private total?: Uint32Array;
  /** Where the masked inputs are summed when WebAssembly SIMD is available (else `total`). */
  private accumulator?: WordAccumulator;
  private signatures = new Map<string, string>();
  /** What every site in U3 signs: computed once, checked |U3| times. */
  private consistencyBytes?: Uint8Array;
  private u4 = new Set<string>();
  private responders = new Set<string>();
  /** The first t revealed shares of each b_v (alive v) and s_v^SK (dead v), packed per secret. */
  private selfMaskShares = new Map<string, KeptShares>();
  private keyShares = new Map<string, KeptShares>();
  /** During `receiveAll`: the signature check already made for the message being accepted. */
  private preverified?: SignatureJob & { ok: boolean };

  constructor(config: SecAggServerConfig) {
    this.roster = normaliseRoster(config.roster);
    this.params = resolveParams(this.roster.size, config);
    this.session = config.session;
    this.engine = config.engine ?? new InThreadMaskEngine(libsodiumPrg);
  }

  get stage(): ServerStage {
    return this.stageName;
  }

  get sessionId(): Uint8Array | undefined {
    return this.sid;
  }

  /** A site's neighbours once U1 is fixed (complete graph: every other site in U1). */
  neighboursOf(site: string): string[] {
    return [...(this.graph.get(site) ?? [])];
  }

  /** The sites from which the current stage still expects a message. */
  pending(): string[] {
    const from = (sites: Iterable<string>, done: { has(site: string): boolean }) =>
      [...sites].filter((site) => !done.has(site)).sort();
    switch (this.stageName) {
      case 'advertise':
        return from(this.roster.keys(), this.adverts);
      case 'reveal':
        return from(this.keys.keys(), this.reveals);
      case 'share-keys':
        return from(this.keys.keys(), this.u2);
      case 'masked-input':
        return from(this.u2, this.u3);
      case 'consistency':
        return from(this.u3, this.signatures);
      case 'unmask':
        return from(this.u4, this.responders);
      default:
        return [];
    }
  }

  /**
   * Takes one site's message. `from` is the site id the transport authenticated; the message must name the
   * same site. Throws a `SecAggError` for anything the protocol does not allow; the round goes on.
   */
  receive(from: string, raw: unknown): void {
    if (this.stageName === 'aborted') refuse('aborted', 'the round was aborted');
    this.accept(from, parseClientMessage(raw));
  }

  /**
   * `receive` for many messages at once, in order, with the same outcome for each: the error `receive`
   * would have thrown (or undefined when accepted), and the same state afterwards. It never throws. What differs is only
   * where the Ed25519 signatures of adverts and consistency messages are checked: all up front, spread
   * over the engine's threads (`verifySignatures`), instead of one after another on this thread.
   * Signature checks are pure functions of (signature, message, key); each precomputed verdict is used
   * only if the in-order pass asks for exactly those bytes, so the result cannot depend on the batching.
   * The caller must not call `closeStage` before the returned promise settles.
   */
  async receiveAll(batch: readonly { from: string; message: unknown }[]): Promise<(Error | undefined)[]> {
    const parsed = batch.map(({ message }) => {
      try {
        return parseClientMessage(message);
      } catch (error) {
        return error as Error;
      }
    });
    const jobs: SignatureJob[] = [];
    const jobOf = new Map<number, number>();
    parsed.forEach((message, i) => {
      const job = message instanceof Error ? undefined : this.signatureJob(batch[i]!.from, message);
      if (job) jobOf.set(i, jobs.push(job) - 1);
    });
    let verdicts: boolean[] | undefined;
    if (jobs.length > 1 && this.engine.verifySignatures) {
      try {
        verdicts = await this.engine.verifySignatures(jobs);
      } catch {
        verdicts = undefined; // e.g. a worker died: every signature is then checked on this thread
      }
    }
    return parsed.map((message, i) => {
      try {
        if (this.stageName === 'aborted') refuse('aborted', 'the round was aborted');
        if (message instanceof Error) throw message;
        const j = jobOf.get(i);
        this.preverified = verdicts && j !== undefined ? { ...jobs[j]!, ok: verdicts[j]! } : undefined;
        this.accept(batch[i]!.from, message);
        return undefined;
      } catch (error) {
        // Whatever `receive` would have thrown for this message, returned: one bad message (e.g. a key
        // that is base64 with stray bits, a plain Error) must not stop the others.
        return error instanceof Error ? error : new Error(String(error));
      } finally {
        this.preverified = undefined;
      }
    });
  }

  /** The signature check `accept` will make for this message, if it gets that far (best effort). */
  private signatureJob(from: string, message: ClientMessage): SignatureJob | undefined {
    const publicKey = this.roster.get(from);
    if (!publicKey || message.site !== from) return undefined;
    try {
      if (message.type === 'advertise' && this.stageName === 'advertise') {
        const { federationId, round } = this.session;
        const cPk = fromBase64(message.cPk);
        const sPk = fromBase64(message.sPk);
        const commitment = message.graphCommitment === null ? null : fromBase64(message.graphCommitment);
        const signed = advertMessage(federationId, round, message.site, cPk, sPk, commitment);
        return { signature: fromBase64(message.signature), message: signed, publicKey };
      }
      if (message.type === 'consistency' && this.stageName === 'consistency') {
        return { signature: fromBase64(message.signature), message: this.consistencyBytes!, publicKey };
      }
    } catch {
      // Undecodable: the in-order pass refuses it the same way `receive` would.
    }
    return undefined;
  }

  /** Ed25519 verification, or the precomputed verdict when `receiveAll` checked exactly these bytes. */
  private checkSignature(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
    const known = this.preverified;
    if (
      known &&
      equalBytes(known.signature, signature) &&
      (known.message === message || equalBytes(known.message, message)) &&
      equalBytes(known.publicKey, publicKey)
    ) {
      return known.ok;
    }
    return verify(signature, message, publicKey);
  }

  private accept(from: string, message: ClientMessage): void {
    if (!this.roster.has(from)) refuse('unknown-site', `${from} is not in the roster`);
    if (message.site !== from)
      refuse('unknown-site', `message from ${from} claims to be from ${message.site}`);
    const expected = messageStage(message);
    if (expected !== this.stageName) {
      const late =
        STAGE_ORDER.indexOf(expected) < STAGE_ORDER.indexOf(this.stageName) || this.stageName === 'done';
      refuse(
        late ? 'stage-closed' : 'unexpected-message',
        `${message.type} from ${from} during ${this.stageName}`,
      );
    }
    if (message.type !== 'advertise' && message.sessionId !== this.sidText) {
      refuse('wrong-session', `${message.type} from ${from} is for another session`);
    }
    switch (message.type) {
      case 'advertise':
        return this.onAdvertise(message);
      case 'reveal':
        return this.onReveal(message);
      case 'share-keys':
        return this.onShareKeys(message);
      case 'masked-input':
        return this.onMaskedInput(message);
      case 'consistency':
        return this.onConsistency(message);
      case 'unmask':
        return this.onUnmask(message);
    }
  }

  /** Ends the current stage now: with what arrived, or aborts if that is fewer than the threshold. */
  async closeStage(): Promise<StageOutput> {
    const closed = this.stageName;
    try {
      switch (closed) {
        case 'advertise':
          return { closed, outbound: this.closeAdvertise() };
        case 'reveal':
          return { closed, outbound: this.closeReveal() };
        case 'share-keys':
          return { closed, outbound: this.closeShareKeys() };
        case 'masked-input':
          return { closed, outbound: this.closeMaskedInput() };
        case 'consistency':
          return { closed, outbound: this.closeConsistency() };
        case 'unmask':
          return { closed, outbound: [], result: await this.closeUnmask() };
        default:
          refuse(closed === 'aborted' ? 'aborted' : 'unexpected-message', `no stage to close (${closed})`);
      }
    } catch (error) {
      if (error instanceof SecAggError && error.code !== 'aborted') this.stageName = 'aborted';
      throw error;
    }
  }

  // ---- stage 0: AdvertiseKeys ----

  private onAdvertise(message: Extract<ClientMessage, { type: 'advertise' }>): void {
    if (this.adverts.has(message.site)) refuse('duplicate-site', `second advert from ${message.site}`);
    const { federationId, round } = this.session;
    if (message.federationId !== federationId || message.round !== round) {
      refuse(
        'wrong-session',
        `advert of ${message.site} is for ${message.federationId} round ${message.round}`,
      );
    }
    const plus = this.params.neighbours !== undefined;
    if ((message.graphCommitment !== null) !== plus) {
      refuse('malformed', `advert of ${message.site} ${plus ? 'lacks' : 'carries'} a graph commitment`);
    }
    const cPk = fromBase64(message.cPk);
    const sPk = fromBase64(message.sPk);
    const commitment = message.graphCommitment === null ? null : fromBase64(message.graphCommitment);
    if (
      !this.checkSignature(
        fromBase64(message.signature),
        advertMessage(federationId, round, message.site, cPk, sPk, commitment),
        this.roster.get(message.site)!,
      )
    ) {
      refuse('bad-signature', `advert of ${message.site} is not signed by its pinned identity key`);
    }
    // A low-order key would make every other site refuse the round; keep it out of U1 instead.
    if (isSmallOrder(cPk) || isSmallOrder(sPk))
      refuse('low-order-point', `advert of ${message.site} has a low-order key`);
    this.adverts.set(message.site, message);
    this.keys.set(message.site, { site: message.site, cPk, sPk, graphCommitment: commitment });
  }

  /** U1 is fixed: session_id; the complete graph at once, or (SecAgg+) the reveals of its randomness next. */
  private closeAdvertise(): Outbound[] {
    this.requireAtLeast(this.adverts.size, 'adverts');
    this.sid = sessionId(this.session, paramsTag(this.params), [...this.keys.values()]);
    this.sidText = toBase64(this.sid);
    const list: AdvertList = {
      type: 'adverts',
      federationId: this.session.federationId,
      round: this.session.round,
      adverts: [...this.adverts.values()].sort((a, b) => (a.site < b.site ? -1 : 1)),
    };
    if (this.params.neighbours === undefined) {
      this.fixGraph(this.sid);
      this.stageName = 'share-keys';
    } else this.stageName = 'reveal';
    return [...this.keys.keys()].sort().map((to) => ({ to, message: list }));
  }

  private fixGraph(seed: Uint8Array): void {
    this.graph = neighbourhoods(seed, [...this.keys.keys()], this.params.neighbours);
    for (const [site, neighbours] of this.graph) this.neighbourhood.set(site, new Set([site, ...neighbours]));
  }

  // ---- stage 0b (SecAgg+): the graph's commit-reveal ----

  private onReveal(message: Extract<ClientMessage, { type: 'reveal' }>): void {
    const u = message.site;
    if (!this.keys.has(u)) refuse('unknown-site', `${u} is not in U1`);
    if (this.reveals.has(u)) refuse('duplicate-site', `second reveal from ${u}`);
    const { federationId, round } = this.session;
    const seed = fromBase64(message.graphSeed);
    if (!equalBytes(graphCommitment(federationId, round, u, seed), this.keys.get(u)!.graphCommitment!))
      refuse('bad-reveal', `the graph seed of ${u} does not match its commitment`);
    this.reveals.set(u, seed);
  }

  /**
   * Every site of U1 must have revealed: the graph is drawn from all of their values, so that no party
   * can pick among graphs by leaving reveals out (the coordinator, after seeing them all, could otherwise
   * try each subset). One missing reveal aborts the round, which is all anyone can still do.
   */
  private closeReveal(): Outbound[] {
    const missing = [...this.keys.keys()].filter((site) => !this.reveals.has(site)).sort();
    if (missing.length > 0) refuse('missing-reveal', `no graph seed from ${missing.join(', ')}`);
    const reveals = [...this.reveals.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([site, seed]) => ({ site, seed }));
    this.fixGraph(graphSeed(this.session.federationId, this.session.round, reveals));
    const list: ServerMessage = {
      type: 'reveals',
      sessionId: this.sidText,
      reveals: reveals.map(({ site, seed }) => ({ site, graphSeed: toBase64(seed) })),
    };
    this.stageName = 'share-keys';
    return reveals.map(({ site: to }) => ({ to, message: list }));
  }

  // ---- stage 1: ShareKeys ----

  private onShareKeys(message: Extract<ClientMessage, { type: 'share-keys' }>): void {
    const u = message.site;
    if (!this.keys.has(u)) refuse('unknown-site', `${u} is not in U1`);
    if (this.u2.has(u)) refuse('duplicate-site', `second share-keys from ${u}`);
    const neighbourhood = this.neighbourhood.get(u)!;
    const seen = new Set<string>();
    for (const { to } of message.shares) {
      if (to === u || !neighbourhood.has(to))
        refuse('unknown-site', `${u} sent a share to ${to}, not a neighbour`);
      if (seen.has(to)) refuse('duplicate-site', `${u} sent two shares to ${to}`);
      seen.add(to);
    }
    if (seen.size !== neighbourhood.size - 1)
      refuse('malformed', `${u} sent ${seen.size} shares for ${neighbourhood.size - 1} neighbours`);
    this.envelopes.set(u, message.shares);
    this.commitments.set(u, fromBase64(message.selfMaskCommitment));
    this.u2.add(u);
  }

  private closeShareKeys(): Outbound[] {
    this.requireAtLeast(this.u2.size, 'share-keys messages');
    // Senders in sorted order, so every recipient's inbox comes out sorted by sender.
    const inboxes = new Map<string, { from: string; ciphertext: string }[]>();
    for (const to of this.u2) inboxes.set(to, []);
    for (const from of [...this.u2].sort()) {
      for (const { to, ciphertext } of this.envelopes.get(from)!) inboxes.get(to)?.push({ from, ciphertext });
    }
    const outbound: Outbound[] = [];
    for (const to of [...this.u2].sort()) {
      const shares = inboxes.get(to)!;
      outbound.push({ to, message: { type: 'shares', sessionId: this.sidText, shares } });
    }
    this.envelopes.clear();
    // Summed in WebAssembly memory (or a plain buffer) while inputs arrive; the engine gets its own kind
    // of buffer (shared memory, for worker threads) at unmasking.
    this.accumulator = WordAccumulator.create(this.params.vectorLength);
    if (!this.accumulator) this.total = new Uint32Array(this.params.vectorLength);
    this.stageName = 'masked-input';
    return outbound;
  }

  // ---- stage 2: MaskedInputCollection ----

  private onMaskedInput(message: Extract<ClientMessage, { type: 'masked-input' }>): void {
    const u = message.site;
    if (!this.u2.has(u)) refuse('unknown-site', `${u} is not in U2`);
    if (this.u3.has(u)) refuse('duplicate-site', `second masked input from ${u}`);
    if (message.vector.length !== this.params.vectorLength) {
      refuse(
        'wrong-length',
        `masked input of ${u} has ${message.vector.length} words, expected ${this.params.vectorLength}`,
      );
    }
    // Summed on arrival: the coordinator keeps O(vector) memory however many sites there are.
    if (this.accumulator) this.accumulator.add(message.vector);
    else addVectors(this.total!, message.vector);
    this.u3.add(u);
  }

  private closeMaskedInput(): Outbound[] {
    this.requireAtLeast(this.u3.size, 'masked inputs');
    const alive = [...this.u3].sort();
    this.consistencyBytes = consistencyMessage(this.sid!, alive);
    this.stageName = 'consistency';
    return alive.map((to) => ({ to, message: { type: 'alive', sessionId: this.sidText, alive } }));
  }

  // ---- stage 3: ConsistencyCheck ----

  private onConsistency(message: Extract<ClientMessage, { type: 'consistency' }>): void {
    const u = message.site;
    if (!this.u3.has(u)) refuse('unknown-site', `${u} is not in U3`);
    if (this.signatures.has(u)) refuse('duplicate-site', `second consistency signature from ${u}`);
    if (!this.checkSignature(fromBase64(message.signature), this.consistencyBytes!, this.roster.get(u)!)) {
      refuse('bad-signature', `consistency signature of ${u} does not verify`);
    }
    this.signatures.set(u, message.signature);
  }

  private closeConsistency(): Outbound[] {
    this.requireAtLeast(this.signatures.size, 'consistency signatures');
    this.u4 = new Set(this.signatures.keys());
    const alive = [...this.u3].sort();
    const dead = [...this.u2].filter((site) => !this.u3.has(site)).sort();
    const complete = this.params.neighbours === undefined;
    const all = [...this.signatures.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([site, signature]) => ({ site, signature }));
    this.stageName = 'unmask';
    return [...this.u4].sort().map((to) => {
      // SecAgg+: a site counts only its own neighbourhood's signatures, so send just those (sorted).
      const signatures = complete
        ? all.map((entry) => ({ ...entry }))
        : withSite(this.graph.get(to)!, to)
            .filter((site) => this.signatures.has(site))
            .map((site) => ({ site, signature: this.signatures.get(site)! }));
      return { to, message: { type: 'unmask-request', sessionId: this.sidText, alive, dead, signatures } };
    });
  }

  // ---- stage 4: Unmasking ----

  private onUnmask(message: Extract<ClientMessage, { type: 'unmask' }>): void {
    const u = message.site;
    if (!this.u4.has(u)) refuse('unknown-site', `${u} was not asked to unmask`);
    if (this.responders.has(u)) refuse('duplicate-site', `second unmask response from ${u}`);
    const neighbourhood = this.neighbourhood.get(u)!;
    const seen = new Set<string>();
    const check = (v: string, alive: boolean) => {
      if (!neighbourhood.has(v)) refuse('unknown-site', `${u} revealed a share of ${v}, not a neighbour`);
      if (seen.has(v)) refuse('duplicate-site', `${u} revealed two shares of ${v}`);
      if (alive !== this.u3.has(v) || (!alive && !this.u2.has(v))) {
        refuse('list-mismatch', `${u} revealed the wrong kind of share of ${v}`);
      }
      seen.add(v);
    };
    for (const { of } of message.selfMaskShares) check(of, true);
    for (const { of } of message.keyShares) check(of, false);
    // Reconstruction uses the first t shares of each secret: those are decoded into the secret's buffer,
    // later ones were checked above and are dropped. Decoding cannot fail after the schema (44 URL-safe
    // characters always make 33 bytes), so a refused message has left nothing behind.
    const t = this.params.neighbourhoodThreshold;
    for (const { of, share } of message.selfMaskShares) keepShare(this.selfMaskShares, of, share, t);
    for (const { of, share } of message.keyShares) keepShare(this.keyShares, of, share, t);
    this.responders.add(u);
  }

  private async closeUnmask(): Promise<SecAggResult> {
    const t = this.params.neighbourhoodThreshold;
    const alive = [...this.u3].sort();
    const dead = [...this.u2].filter((site) => !this.u3.has(site)).sort();
    const shareSets = [
      ...alive.map((u) => ({ kept: this.selfMaskShares.get(u), what: `b_${u}` })),
      ...dead.map((v) => ({ kept: this.keyShares.get(v), what: `s_${v}^SK` })),
    ];
    for (const { kept, what } of shareSets) {
      const count = kept?.count ?? 0;
      if (count < t) refuse('below-threshold', `${count} shares of ${what}, need ${t}`);
    }
    const sets = shareSets.map(({ kept }) =>
      Array.from({ length: kept!.count }, (_, j) =>
        kept!.bytes.subarray(j * SHARE_BYTES, (j + 1) * SHARE_BYTES),
      ),
    );
    let secrets: Uint8Array[];
    try {
      secrets = this.engine.combineShares ? await this.engine.combineShares(sets) : await combineAll(sets);
    } catch (error) {
      // e.g. two revealed shares with the same x coordinate: malformed input from some responder.
      refuse('reconstruction-failed', `Shamir reconstruction failed: ${(error as Error).message}`);
    }
    const terms: MaskTerm[] = [];
    alive.forEach((u, i) => {
      const seed = secrets[i]!;
      if (!equalBytes(selfSeedCommitment(seed, this.sid!, u), this.commitments.get(u)!)) {
        refuse('reconstruction-failed', `the shares of b_${u} do not match its commitment`);
      }
      terms.push({ key: selfMaskKey(seed, this.sid!, u), sign: -1 });
    });
    const jobs: PairSeedJob[] = dead.map((v, j) => {
      const secretKey = secrets[alive.length + j]!;
      if (!equalBytes(publicKeyOf(secretKey), this.keys.get(v)!.sPk)) {
        refuse('reconstruction-failed', `the shares of s_${v}^SK do not match its advertised key`);
      }
      const peers = this.graph
        .get(v)!
        .filter((u) => this.u3.has(u))
        .map((u) => ({ site: u, publicKey: this.keys.get(u)!.sPk }));
      return { site: v, secretKey, peers };
    });
    const seeds = this.engine.derivePairSeeds
      ? await this.engine.derivePairSeeds(this.sid!, jobs)
      : derivePairSeeds(this.sid!, jobs);
    // Every alive neighbour u of v added sign(u, v)·PRG(s_uv) that v's missing input would have cancelled.
    jobs.forEach(({ site: v, peers }, j) => {
      peers.forEach(({ site: u }, i) => terms.push({ key: seeds[j]![i]!, sign: u < v ? -1 : 1 }));
    });
    const sum = this.engine.allocate(this.params.vectorLength);
    if (this.accumulator) this.accumulator.read(sum);
    else sum.set(this.total!);
    this.total = sum;
    this.accumulator = undefined;
    await this.engine.apply(sum, terms);
    this.stageName = 'done';
    const u3 = [...this.u3].sort();
    return {
      sum: this.total!,
      included: u3,
      dropped: [...this.roster.keys()].filter((site) => !this.u3.has(site)).sort(),
      sets: {
        u1: [...this.keys.keys()].sort(),
        u2: [...this.u2].sort(),
        u3,
        u4: [...this.u4].sort(),
        u5: [...this.responders].sort(),
      },
    };
  }

  private requireAtLeast(count: number, what: string): void {
    if (count < this.params.threshold)
      refuse('below-threshold', `${count} ${what}, threshold ${this.params.threshold}`);
  }
}

/** A sorted list of sites with `site` inserted in order (N[u] from u's sorted neighbours). */
function withSite(sorted: readonly string[], site: string): string[] {
  let at = 0;
  while (at < sorted.length && sorted[at]! < site) at++;
  return [...sorted.slice(0, at), site, ...sorted.slice(at)];
}

/** Revealed shares of one secret, decoded side by side (no array per share). */
interface KeptShares {
  bytes: Uint8Array;
  count: number;
}

function keepShare(map: Map<string, KeptShares>, site: string, share: string, limit: number): void {
  let kept = map.get(site);
  if (!kept) map.set(site, (kept = { bytes: new Uint8Array(limit * SHARE_BYTES), count: 0 }));
  if (kept.count >= limit) return;
  fromBase64Into(share, kept.bytes, kept.count * SHARE_BYTES);
  kept.count++;
}

function messageStage(message: ClientMessage): ServerStage {
  switch (message.type) {
    case 'advertise':
      return 'advertise';
    case 'reveal':
      return 'reveal';
    case 'share-keys':
      return 'share-keys';
    case 'masked-input':
      return 'masked-input';
    case 'consistency':
      return 'consistency';
    case 'unmask':
      return 'unmask';
  }
}
