import { split } from 'shamir-secret-sharing';
import { fromBase64, toBase64, wipe } from './bytes.js';
import {
  advertMessage,
  consistencyMessage,
  decryptShares,
  encryptShares,
  graphCommitment,
  graphSeed,
  pairSeed,
  selfMaskKey,
  selfSeedCommitment,
  sessionId,
  shareKey,
  sign,
  verify,
  x25519,
  x25519KeyPair,
  type AdvertKeys,
  type X25519KeyPair,
} from './crypto.js';
import { SecAggError, refuse } from './errors.js';
import { InThreadMaskEngine, type MaskEngine, type MaskTerm } from './mask.js';
import type { z } from 'zod';
import {
  advertListSchema,
  aliveListSchema,
  revealListSchema,
  shareBundleSchema,
  unmaskRequestSchema,
  parseServerMessage,
  parseWith,
  type AdvertList,
  type AdvertiseKeys,
  type AliveList,
  type ClientMessage,
  type ConsistencySignature,
  type GraphReveal,
  type MaskedInput,
  type RevealList,
  type ShareBundle,
  type ShareKeys,
  type UnmaskRequest,
  type UnmaskResponse,
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
import { checkSiteList, normaliseRoster, sameSet, type Roster } from './roster.js';
import { sodium } from './sodium.js';

export interface SecAggClientConfig extends SecAggOptions {
  session: SessionInfo;
  /** This site's id; must be in the roster. */
  siteId: string;
  /** This site's Ed25519 identity secret key (libsodium's 64-byte form). */
  identitySecretKey: Uint8Array;
  /** The pinned identity keys of every site in the federation, this one included. */
  roster: Roster;
  /** Where masks are computed. Default: this thread, libsodium's ChaCha20 (platform-free). */
  engine?: MaskEngine;
}

/** What the client waits for next. */
export type ClientStage =
  'advertise' | 'adverts' | 'reveals' | 'shares' | 'alive' | 'unmask-request' | 'done' | 'aborted';

/**
 * One site's side of one secure-aggregation round (DESIGN.md §4): a message-in/message-out state machine.
 * Each stage takes the coordinator's message, checks everything it can (the refusal rules), and returns
 * the site's reply. Any refusal throws a `SecAggError` and aborts the client for this round: a site never
 * answers a later stage after refusing an earlier one.
 */
export class SecAggClient {
  readonly siteId: string;
  readonly params: RoundParams;
  private stageName: ClientStage = 'advertise';
  private readonly session: SessionInfo;
  private readonly identitySecretKey: Uint8Array;
  private readonly roster: Map<string, Uint8Array>;
  private readonly engine: MaskEngine;

  private cKeys?: X25519KeyPair;
  private sKeys?: X25519KeyPair;
  private sid?: Uint8Array;
  /** SecAgg+: r_u, this site's share of the graph's randomness, committed to in its advert. */
  private graphRandom?: Uint8Array;
  /** U1 as verified adverts. */
  private u1 = new Map<string, AdvertKeys>();
  /** U1's advert signatures, checked for the sites whose keys this one uses once the graph is known. */
  private advertSignatures = new Map<string, string>();
  /** This site's neighbours (complete graph: everyone else in U1). */
  private neighbours = new Set<string>();
  private shareKeys = new Map<string, Uint8Array>();
  private pairSeeds = new Map<string, Uint8Array>();
  private selfSeed?: Uint8Array;
  /** Shares this site holds: of its neighbours' secrets, and its own share of its own. */
  private held = new Map<string, { selfMaskShare: Uint8Array; keyShare: Uint8Array }>();
  /** This site's view of U2 (itself and the neighbours whose shares it received). */
  private u2 = new Set<string>();
  private u3 = new Set<string>();
  private input?: Uint32Array;

  constructor(config: SecAggClientConfig) {
    this.roster = normaliseRoster(config.roster);
    this.params = resolveParams(this.roster.size, config);
    if (!this.roster.has(config.siteId)) refuse('invalid-config', `${config.siteId} is not in the roster`);
    if (config.identitySecretKey.length !== 64)
      refuse('invalid-config', 'identity secret key must be 64 bytes');
    const ownPublic = config.identitySecretKey.subarray(32);
    if (!sodium.memcmp(ownPublic, this.roster.get(config.siteId)!)) {
      refuse('invalid-config', `the identity key does not match ${config.siteId}'s pinned key`);
    }
    this.siteId = config.siteId;
    this.session = config.session;
    this.identitySecretKey = config.identitySecretKey;
    this.engine = config.engine ?? new InThreadMaskEngine(libsodiumPrg);
  }

  get stage(): ClientStage {
    return this.stageName;
  }

  /** session_id, once the adverts have been processed. */
  get sessionId(): Uint8Array | undefined {
    return this.sid;
  }

  /** The input vector (already encoded); may also be passed to `onShares`. */
  setInput(input: Uint32Array): void {
    this.checkLength(input);
    this.input = input;
  }

  /** Handles any coordinator message (validated here), dispatching on its type. */
  async handle(message: unknown): Promise<ClientMessage> {
    const parsed = this.guardSync(() => parseServerMessage(message));
    switch (parsed.type) {
      case 'adverts':
        return this.onAdverts(parsed);
      case 'reveals':
        return this.onReveals(parsed);
      case 'shares':
        return this.onShares(parsed);
      case 'alive':
        return this.onAlive(parsed);
      case 'unmask-request':
        return this.onUnmaskRequest(parsed);
    }
  }

  /**
   * Stage 0, AdvertiseKeys: fresh X25519 key pairs for this round, signed with the identity key; with
   * SecAgg+, also a commitment to 32 fresh random bytes r_u, revealed once U1 is fixed.
   */
  advertise(): AdvertiseKeys {
    return this.guardSync(() => {
      this.expect('advertise', 'advertise');
      this.cKeys = x25519KeyPair();
      this.sKeys = x25519KeyPair();
      const { federationId, round } = this.session;
      let commitment: Uint8Array | null = null;
      if (this.params.neighbours !== undefined) {
        this.graphRandom = sodium.randombytes_buf(32);
        commitment = graphCommitment(federationId, round, this.siteId, this.graphRandom);
      }
      const message = advertMessage(
        federationId,
        round,
        this.siteId,
        this.cKeys.publicKey,
        this.sKeys.publicKey,
        commitment,
      );
      this.stageName = 'adverts';
      return {
        type: 'advertise',
        federationId,
        round,
        site: this.siteId,
        cPk: toBase64(this.cKeys.publicKey),
        sPk: toBase64(this.sKeys.publicKey),
        graphCommitment: commitment && toBase64(commitment),
        signature: toBase64(sign(message, this.identitySecretKey)),
      };
    });
  }

  /**
   * Stage 1: check U1 and derive session_id. Complete graph: ShareKeys at once. SecAgg+: reveal r_u, now
   * that U1 and its commitments are fixed; ShareKeys follows the reveal list (`onReveals`).
   */
  async onAdverts(list: AdvertList): Promise<ShareKeys | GraphReveal> {
    return this.guard(async () => {
      this.expect('adverts', 'adverts');
      const message = this.validate(advertListSchema, list);
      const { federationId, round } = this.session;
      if (message.federationId !== federationId || message.round !== round) {
        refuse('wrong-session', `advert list for ${message.federationId} round ${message.round}`);
      }
      checkSiteList(
        message.adverts.map((a) => a.site),
        this.roster,
        'advert list',
      );
      const plus = this.params.neighbours !== undefined;
      for (const advert of message.adverts) {
        if (advert.federationId !== federationId || advert.round !== round) {
          refuse(
            'wrong-session',
            `advert of ${advert.site} is for ${advert.federationId} round ${advert.round}`,
          );
        }
        if ((advert.graphCommitment !== null) !== plus) {
          refuse('malformed', `advert of ${advert.site} ${plus ? 'lacks' : 'carries'} a graph commitment`);
        }
        this.u1.set(advert.site, {
          site: advert.site,
          cPk: fromBase64(advert.cPk),
          sPk: fromBase64(advert.sPk),
          graphCommitment: advert.graphCommitment === null ? null : fromBase64(advert.graphCommitment),
        });
        this.advertSignatures.set(advert.site, advert.signature);
      }
      const own = this.u1.get(this.siteId);
      if (!own) refuse('self-missing', 'this site is not in the advert list');
      if (
        !sodium.memcmp(own.cPk, this.cKeys!.publicKey) ||
        !sodium.memcmp(own.sPk, this.sKeys!.publicKey) ||
        (plus &&
          !sodium.memcmp(
            own.graphCommitment!,
            graphCommitment(federationId, round, this.siteId, this.graphRandom!),
          ))
      ) {
        refuse('list-mismatch', 'the advert list carries other keys for this site');
      }
      if (this.u1.size < this.params.threshold) {
        refuse('below-threshold', `${this.u1.size} adverts, threshold ${this.params.threshold}`);
      }
      this.sid = sessionId(this.session, paramsTag(this.params), [...this.u1.values()]);
      if (plus) {
        this.stageName = 'reveals';
        return {
          type: 'reveal',
          sessionId: toBase64(this.sid),
          site: this.siteId,
          graphSeed: toBase64(this.graphRandom!),
        };
      }
      return this.shareKeysFor(this.sid);
    });
  }

  /**
   * SecAgg+, stage 1b: every site's r_u, each checked against the commitment in its advert; the graph's
   * seed is their hash (`graphSeed`), so the graph is fixed by values committed before any was seen.
   * A list that leaves out any site of U1 is refused: the coordinator could otherwise drop reveals to
   * choose among graphs.
   */
  async onReveals(list: RevealList): Promise<ShareKeys> {
    return this.guard(async () => {
      this.expect('reveals', 'reveals');
      const message = this.validate(revealListSchema, list);
      this.checkSession(message.sessionId);
      const revealed = checkSiteList(
        message.reveals.map((r) => r.site),
        this.u1,
        'reveal list',
      );
      if (revealed.size !== this.u1.size) {
        const missing = [...this.u1.keys()].filter((site) => !revealed.has(site));
        refuse('missing-reveal', `the reveal list lacks ${missing.join(', ')}`);
      }
      const { federationId, round } = this.session;
      const reveals = message.reveals.map(({ site, graphSeed: seed }) => ({ site, seed: fromBase64(seed) }));
      for (const { site, seed } of reveals) {
        if (
          !sodium.memcmp(
            graphCommitment(federationId, round, site, seed),
            this.u1.get(site)!.graphCommitment!,
          )
        )
          refuse('bad-reveal', `the graph seed of ${site} does not match its commitment`);
      }
      return this.shareKeysFor(graphSeed(federationId, round, reveals));
    });
  }

  /**
   * ShareKeys: this site's neighbourhood from the graph seed (session_id for the complete graph, which
   * does not use it), its adverts verified, b_u and s_u^SK split and a share encrypted for each neighbour.
   */
  private async shareKeysFor(seed: Uint8Array): Promise<ShareKeys> {
    const { federationId, round } = this.session;
    const graph = neighbourhoods(seed, [...this.u1.keys()], this.params.neighbours, new Set([this.siteId]));
    this.neighbours = new Set(graph.get(this.siteId)!);
    // Complete graph: every advert. SecAgg+: the adverts of this site's neighbourhood, the only keys it
    // uses; it cannot check non-neighbours' later participation either, so its guarantees are per
    // neighbourhood, and verifying all n adverts would cost n signature checks per site.
    for (const v of [this.siteId, ...this.neighbours]) {
      const { cPk, sPk, graphCommitment: commitment } = this.u1.get(v)!;
      const signed = advertMessage(federationId, round, v, cPk, sPk, commitment);
      if (!verify(fromBase64(this.advertSignatures.get(v)!), signed, this.roster.get(v)!)) {
        refuse('bad-signature', `advert of ${v} is not signed by its pinned identity key`);
      }
    }
    this.advertSignatures.clear();
    for (const v of this.neighbours) {
      const peer = this.u1.get(v)!;
      this.shareKeys.set(v, shareKey(x25519(this.cKeys!.secretKey, peer.cPk, v), this.sid!));
      this.pairSeeds.set(v, pairSeed(x25519(this.sKeys!.secretKey, peer.sPk, v), this.sid!, this.siteId, v));
    }
    // Shares go to the neighbourhood N[u] = neighbours ∪ {u}, in sorted order; u keeps its own.
    const holders = [...this.neighbours, this.siteId].sort();
    const t = this.params.neighbourhoodThreshold;
    if (holders.length < t)
      refuse('below-threshold', `${holders.length} sites to share with, threshold ${t}`);
    this.selfSeed = sodium.randombytes_buf(32);
    const selfShares = await split(this.selfSeed, holders.length, t);
    const keyShares = await split(this.sKeys!.secretKey, holders.length, t);
    const shares: ShareKeys['shares'] = [];
    holders.forEach((holder, i) => {
      if (holder === this.siteId) {
        this.held.set(holder, { selfMaskShare: selfShares[i]!, keyShare: keyShares[i]! });
        return;
      }
      const envelope = encryptShares(
        this.shareKeys.get(holder)!,
        this.sid!,
        this.siteId,
        holder,
        selfShares[i]!,
        keyShares[i]!,
      );
      shares.push({ to: holder, ciphertext: toBase64(envelope) });
      wipe(selfShares[i], keyShares[i]);
    });
    wipe(this.cKeys!.secretKey);
    this.stageName = 'shares';
    return {
      type: 'share-keys',
      sessionId: toBase64(this.sid!),
      site: this.siteId,
      selfMaskCommitment: toBase64(selfSeedCommitment(this.selfSeed, this.sid!, this.siteId)),
      shares,
    };
  }

  /** Stage 2, MaskedInputCollection: y_u = x_u + PRG(b_u) + Σ_{v∈U2} ±PRG(s_uv) mod 2^32. */
  async onShares(bundle: ShareBundle, input?: Uint32Array): Promise<MaskedInput> {
    return this.guard(async () => {
      this.expect('shares', 'shares');
      const message = this.validate(shareBundleSchema, bundle);
      this.checkSession(message.sessionId);
      const x = input ?? this.input;
      if (!x) refuse('invalid-config', 'no input vector: pass it to onShares or setInput');
      this.checkLength(x);
      checkSiteList(
        message.shares.map((s) => s.from),
        this.neighbours,
        'share bundle',
      );
      for (const { from, ciphertext } of message.shares) {
        let envelope: Uint8Array;
        try {
          envelope = fromBase64(ciphertext);
        } catch {
          refuse('malformed', `share from ${from} is not base64`);
        }
        this.held.set(from, decryptShares(this.shareKeys.get(from)!, this.sid!, from, this.siteId, envelope));
      }
      this.u2 = new Set([this.siteId, ...message.shares.map((s) => s.from)]);
      if (this.u2.size < this.params.neighbourhoodThreshold) {
        refuse(
          'below-threshold',
          `shares from ${this.u2.size - 1} neighbours, threshold ${this.params.neighbourhoodThreshold}`,
        );
      }
      const terms: MaskTerm[] = [{ key: selfMaskKey(this.selfSeed!, this.sid!, this.siteId), sign: 1 }];
      for (const v of this.u2) {
        if (v === this.siteId) continue;
        terms.push({ key: this.pairSeeds.get(v)!, sign: this.siteId < v ? 1 : -1 });
      }
      const y = this.engine.allocate(this.params.vectorLength);
      y.set(x);
      await this.engine.apply(y, terms);
      // The site needs none of its own secrets any more: only the shares it holds.
      for (const term of terms) wipe(term.key);
      wipe(this.selfSeed, this.sKeys!.secretKey);
      this.pairSeeds.clear();
      this.input = undefined;
      this.stageName = 'alive';
      return { type: 'masked-input', sessionId: toBase64(this.sid!), site: this.siteId, vector: y };
    });
  }

  /** Stage 3, ConsistencyCheck: sign session_id ‖ sorted(U3) after checking U3 against this site's view. */
  onAlive(list: AliveList): ConsistencySignature {
    return this.guardSync(() => {
      this.expect('alive', 'alive');
      const message = this.validate(aliveListSchema, list);
      this.checkSession(message.sessionId);
      const alive = checkSiteList(message.alive, this.u1, 'alive list');
      if (!alive.has(this.siteId)) refuse('self-missing', 'this site is not in the alive list');
      for (const v of this.neighbours) {
        if (alive.has(v) && !this.u2.has(v))
          refuse('list-mismatch', `${v} is listed alive but never sent its shares`);
      }
      this.checkAliveCount(alive);
      this.u3 = alive;
      this.stageName = 'unmask-request';
      return {
        type: 'consistency',
        sessionId: toBase64(this.sid!),
        site: this.siteId,
        signature: toBase64(sign(consistencyMessage(this.sid!, message.alive), this.identitySecretKey)),
      };
    });
  }

  /**
   * Stage 4, Unmasking. Answers only if the alive list is the U3 this site signed, the dead list is U2 \ U3
   * (within its neighbourhood), the lists are disjoint sets of known sites, this site is alive, |U3| ≥ t
   * and at least t valid consistency signatures over U3 came with the request. Reveals shares of b_v for
   * alive v and of s_v^SK for dead v, never both for the same v.
   */
  onUnmaskRequest(request: UnmaskRequest): UnmaskResponse {
    return this.guardSync(() => {
      this.expect('unmask-request', 'unmask-request');
      const message = this.validate(unmaskRequestSchema, request);
      this.checkSession(message.sessionId);
      const alive = checkSiteList(message.alive, this.u1, 'alive list');
      const dead = checkSiteList(message.dead, this.u1, 'dead list');
      for (const v of dead)
        if (alive.has(v)) refuse('alive-dead-overlap', `${v} is listed both alive and dead`);
      if (dead.has(this.siteId)) refuse('self-dead', 'this site is listed as dead');
      if (!alive.has(this.siteId)) refuse('self-missing', 'this site is not in the alive list');
      this.checkAliveCount(alive);
      if (!sameSet(alive, this.u3))
        refuse('list-mismatch', 'the alive list differs from the U3 this site signed');
      for (const v of this.neighbours) {
        const shouldBeDead = this.u2.has(v) && !this.u3.has(v);
        if (shouldBeDead !== dead.has(v))
          refuse('list-mismatch', `the dead list ${dead.has(v) ? 'names' : 'omits'} ${v}`);
      }
      this.checkSignatures(message.signatures);

      const selfMaskShares: UnmaskResponse['selfMaskShares'] = [];
      const keyShares: UnmaskResponse['keyShares'] = [];
      const revealed = new Set<string>();
      for (const [v, shares] of [...this.held.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
        if (revealed.has(v)) throw new SecAggError('list-mismatch', `refusing to reveal twice for ${v}`);
        if (alive.has(v)) selfMaskShares.push({ of: v, share: toBase64(shares.selfMaskShare) });
        else if (dead.has(v)) keyShares.push({ of: v, share: toBase64(shares.keyShare) });
        else continue;
        revealed.add(v);
      }
      for (const shares of this.held.values()) wipe(shares.selfMaskShare, shares.keyShare);
      this.held.clear();
      this.stageName = 'done';
      return { type: 'unmask', sessionId: toBase64(this.sid!), site: this.siteId, selfMaskShares, keyShares };
    });
  }

  private checkAliveCount(alive: ReadonlySet<string>): void {
    if (alive.size < this.params.threshold) {
      refuse('below-threshold', `${alive.size} sites alive, threshold ${this.params.threshold}`);
    }
    let inNeighbourhood = alive.has(this.siteId) ? 1 : 0;
    for (const v of this.neighbours) if (alive.has(v)) inNeighbourhood++;
    if (inNeighbourhood < this.params.neighbourhoodThreshold) {
      refuse(
        'below-threshold',
        `${inNeighbourhood} alive in this neighbourhood, threshold ${this.params.neighbourhoodThreshold}`,
      );
    }
  }

  /** At least t (neighbourhood threshold for SecAgg+) valid signatures over U3 from this neighbourhood. */
  private checkSignatures(signatures: UnmaskRequest['signatures']): void {
    const signers = checkSiteList(
      signatures.map((s) => s.site),
      this.u3,
      'consistency signatures',
    );
    const signed = consistencyMessage(this.sid!, [...this.u3]);
    let counted = 0;
    for (const { site, signature } of signatures) {
      if (!verify(fromBase64(signature), signed, this.roster.get(site)!)) {
        refuse('bad-signature', `the consistency signature of ${site} does not verify`);
      }
      if (site === this.siteId || this.neighbours.has(site)) counted++;
    }
    if (counted < this.params.neighbourhoodThreshold) {
      refuse(
        'insufficient-signatures',
        `U3 signed by ${counted} sites (of ${signers.size} given), need ${this.params.neighbourhoodThreshold}`,
      );
    }
  }

  private checkLength(input: Uint32Array): void {
    if (!(input instanceof Uint32Array) || input.length !== this.params.vectorLength) {
      refuse('wrong-length', `input has ${input?.length} words, expected ${this.params.vectorLength}`);
    }
  }

  private checkSession(id: string): void {
    if (id !== toBase64(this.sid!)) refuse('wrong-session', 'message for another session');
  }

  private expect(stage: ClientStage, got: string): void {
    if (this.stageName === 'aborted') refuse('aborted', 'this client aborted the round earlier');
    if (this.stageName !== stage)
      refuse('unexpected-message', `got ${got} while waiting for ${this.stageName}`);
  }

  private validate<T>(schema: z.ZodType<T>, value: unknown): T {
    return parseWith(schema, value, 'coordinator message');
  }

  private abort(): void {
    if (this.stageName === 'aborted') return;
    this.stageName = 'aborted';
    wipe(this.cKeys?.secretKey, this.sKeys?.secretKey, this.selfSeed, this.graphRandom);
    for (const seed of this.pairSeeds.values()) wipe(seed);
    for (const shares of this.held.values()) wipe(shares.selfMaskShare, shares.keyShare);
    this.held.clear();
  }

  private guardSync<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (!(error instanceof SecAggError && error.code === 'aborted')) this.abort();
      throw error;
    }
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (!(error instanceof SecAggError && error.code === 'aborted')) this.abort();
      throw error;
    }
  }
}
