import { SecAggClient } from './client.js';
import { SecAggError } from './errors.js';
import { addVectors, type MaskEngine } from './mask.js';
import {
  decodeWire,
  encodeWire,
  parseServerMessage,
  wireSize,
  type ClientMessage,
  type ServerMessage,
} from './messages.js';
import type { SecAggOptions, SessionInfo } from './params.js';
import { SecAggServer, type SecAggResult, type ServerStage } from './server.js';
import { SECAGG_STAGES } from './stages.js';
import { sodium } from './sodium.js';

/** The stage before whose message a site goes silent. */
export type DropStage = Exclude<ServerStage, 'done' | 'aborted'>;
export const DROP_STAGES: readonly DropStage[] = SECAGG_STAGES;

/** The stages a round with these neighbourhoods runs: the graph's commit-reveal only with SecAgg+. */
export function stagesFor(neighbours: number | undefined): DropStage[] {
  return DROP_STAGES.filter((stage) => stage !== 'reveal' || neighbours !== undefined);
}

export interface SiteIdentity {
  siteId: string;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/** n fresh Ed25519 identities named site-001, site-002, … */
export function makeIdentities(n: number, prefix = 'site-'): SiteIdentity[] {
  const width = Math.max(3, String(n).length);
  return Array.from({ length: n }, (_, i) => {
    const { publicKey, privateKey } = sodium.crypto_sign_keypair();
    return { siteId: `${prefix}${String(i + 1).padStart(width, '0')}`, publicKey, secretKey: privateKey };
  });
}

export interface SimulateOptions extends Omit<SecAggOptions, 'vectorLength'> {
  /** Number of sites (ignored when `identities` is given). */
  n?: number;
  identities?: SiteIdentity[];
  /** Vector length. */
  params: number;
  /** Input per site (default: uniformly random words). */
  inputs?: (siteId: string, index: number) => Uint32Array;
  /**
   * Sites (by id or index) that go silent before sending their message of that stage; or a function asked
   * at the start of each stage (it can look at the coordinator, e.g. its graph).
   */
  dropouts?:
    | Partial<Record<DropStage, Iterable<string | number>>>
    | ((stage: DropStage, server: SecAggServer) => Iterable<string | number> | undefined);
  session?: Partial<SessionInfo>;
  clientEngine?: MaskEngine;
  serverEngine?: MaskEngine;
  /** Rewrites (or drops, by returning undefined) a coordinator message on its way to a site. */
  intercept?: (to: string, message: ServerMessage) => ServerMessage | undefined;
  /** 'throw' (default): a client's refusal rejects the simulation. 'drop': the site just drops out. */
  onClientError?: 'throw' | 'drop';
  /** Count wire bytes per site (default true). */
  measureTraffic?: boolean;
  /** Sees every message a site sends (what the coordinator receives). */
  observe?: (from: string, message: ClientMessage) => void;
  /** Called as each site message of each stage is handled (for progress bars). */
  progress?: (stage: DropStage, done: number, total: number) => void;
  /**
   * A CPU-time clock in ms (e.g. from `process.cpuUsage()`, which counts worker threads too): when given,
   * the result also has CPU times, which a busy shared machine distorts less than wall time.
   */
  cpuClock?: () => number;
  /** Pass every message through `encodeWire`/`decodeWire` and the schemas, as a network would. */
  viaWire?: boolean;
  /**
   * Hand the coordinator each signed stage's messages (adverts, consistency signatures) in one
   * `receiveAll` call after every site has answered, as a coordinator draining its queue would, instead of
   * one `receive` per message; other stages are delivered as they come. Default false.
   */
  batchSigned?: boolean;
  /**
   * Keep every message the coordinator received, per stage (`SimulationResult.received`), so
   * `replayCoordinator` can time the coordinator alone. It holds every masked input until then.
   */
  record?: boolean;
}

export interface SimulationResult {
  result: SecAggResult;
  /** Σ x_u over U3, computed in the clear, and whether the protocol's sum equals it bit for bit. */
  expected: Uint32Array;
  exact: boolean;
  /** Per site: milliseconds spent inside its client calls (all stages). */
  clientMs: Map<string, number>;
  /** Per site and stage (named by the message the site sends), milliseconds. */
  clientStageMs: Map<string, Partial<Record<DropStage, number>>>;
  /** Milliseconds spent inside the coordinator (receive + closeStage, unmasking included). */
  serverMs: number;
  /** The same, per stage (its receives and its close). */
  serverStageMs: Partial<Record<DropStage, number>>;
  /** CPU milliseconds (with `cpuClock`): per site, and the coordinator's. */
  clientCpuMs: Map<string, number>;
  serverCpuMs: number;
  /** Per site: bytes it sent (wire encoding). */
  uploadBytes: Map<string, number>;
  refusals: Map<string, SecAggError>;
  identities: SiteIdentity[];
  /** The coordinator, after the round (its graph, sets, session id). */
  server: SecAggServer;
  /** With `record`: the messages the coordinator received, per stage in order, and how they were handed over. */
  received?: ReceivedStage[];
}

export interface ReceivedStage {
  stage: DropStage;
  /** Handed over in one `receiveAll` (a signed stage with `batchSigned`), else one `receive` each. */
  batched: boolean;
  messages: { from: string; message: unknown }[];
}

/** The coordinator of a simulated round: the same configuration every time for the same options. */
function coordinatorFor(options: SimulateOptions, identities: readonly SiteIdentity[]): SecAggServer {
  return new SecAggServer({ ...commonConfig(options, identities), engine: options.serverEngine });
}

function commonConfig(options: SimulateOptions, identities: readonly SiteIdentity[]) {
  const session: SessionInfo = {
    federationId: 'sim',
    round: 1,
    modelHash: 'model',
    configHash: 'config',
    ...options.session,
  };
  return {
    vectorLength: options.params,
    threshold: options.threshold,
    neighbours: options.neighbours,
    neighbourhoodThreshold: options.neighbourhoodThreshold,
    session,
    roster: Object.fromEntries(identities.map((id) => [id.siteId, id.publicKey])),
  };
}

/**
 * Runs one round in-process: real SecAggClient/SecAggServer objects, messages passed by reference,
 * dropouts and tampering injected. Sites run one after another, so per-site timings are not disturbed by
 * each other.
 */
export async function simulateRound(options: SimulateOptions): Promise<SimulationResult> {
  const identities = options.identities ?? makeIdentities(options.n ?? 0);
  const sites = identities.map((id) => id.siteId);
  const common = commonConfig(options, identities);
  const server = coordinatorFor(options, identities);
  const clients = new Map(
    identities.map((id) => [
      id.siteId,
      new SecAggClient({
        ...common,
        siteId: id.siteId,
        identitySecretKey: id.secretKey,
        engine: options.clientEngine,
      }),
    ]),
  );
  // Inputs are made when a site needs one (just before it masks), so a simulation of many sites with
  // long vectors holds one input at a time, not all of them.
  const inputs = new Map<string, Uint32Array>();
  const provideInput = (site: string) => {
    const input = options.inputs ? options.inputs(site, sites.indexOf(site)) : randomWords(options.params);
    inputs.set(site, input);
    clients.get(site)!.setInput(input);
  };

  const dropsAt = (stage: DropStage) => {
    const spec = options.dropouts;
    const list = typeof spec === 'function' ? spec(stage, server) : spec?.[stage];
    return new Set([...(list ?? [])].map((s) => (typeof s === 'number' ? sites[s]! : s)));
  };
  const gone = new Set<string>();
  const clientMs = new Map(sites.map((s) => [s, 0]));
  const clientStageMs = new Map(sites.map((s) => [s, {} as Partial<Record<DropStage, number>>]));
  const uploadBytes = new Map(sites.map((s) => [s, 0]));
  const refusals = new Map<string, SecAggError>();
  let serverMs = 0;
  let serverCpuMs = 0;
  const cpu = options.cpuClock ?? (() => 0);
  const clientCpuMs = new Map(sites.map((s) => [s, 0]));
  const serverStageMs = Object.fromEntries(
    stagesFor(server.params.neighbours).map((stage) => [stage, 0]),
  ) as Partial<Record<DropStage, number>>;
  const measure = options.measureTraffic ?? true;

  // The plain sum over the sites whose masked input the coordinator accepted (= U3), accumulated as
  // they are accepted so the simulation never holds every input at once.
  const expected = new Uint32Array(options.params);
  const account = (stage: DropStage, started: number, cpuStarted: number) => {
    serverCpuMs += cpu() - cpuStarted;
    const ms = performance.now() - started;
    serverMs += ms;
    serverStageMs[stage] = (serverStageMs[stage] ?? 0) + ms;
  };
  const accepted = (site: string, message: ClientMessage) => {
    if (message.type === 'masked-input') addVectors(expected, inputs.get(site)!);
    if (message.type === 'masked-input') inputs.delete(site);
  };
  const recording: ReceivedStage[] = [];
  const record = (stage: DropStage, batched: boolean, messages: { from: string; message: unknown }[]) => {
    if (!options.record) return;
    const last = recording.at(-1);
    if (last?.stage === stage && last.batched === batched) last.messages.push(...messages);
    else recording.push({ stage, batched, messages: [...messages] });
  };
  /** Messages held back for one `receiveAll` (batchSigned), in arrival order. */
  let held: { from: string; message: unknown; sent: ClientMessage }[] = [];
  const send = (site: string, message: ClientMessage) => {
    if (measure) uploadBytes.set(site, uploadBytes.get(site)! + wireSize(message));
    options.observe?.(site, message);
    const received = options.viaWire ? decodeWire(encodeWire(message)) : message;
    if (options.batchSigned && (message.type === 'advertise' || message.type === 'consistency')) {
      held.push({ from: site, message: received, sent: message });
      return;
    }
    const stage = server.stage as DropStage;
    record(stage, false, [{ from: site, message: received }]);
    const started = performance.now();
    const cpuStarted = cpu();
    try {
      server.receive(site, received);
    } finally {
      account(stage, started, cpuStarted);
    }
    accepted(site, message);
  };
  const flush = async () => {
    if (held.length === 0) return;
    const batch = held;
    held = [];
    const stage = server.stage as DropStage;
    record(stage, true, batch);
    const started = performance.now();
    const cpuStarted = cpu();
    const errors = await server.receiveAll(batch);
    account(stage, started, cpuStarted);
    // As with `receive`, a refused message is an error of the simulation.
    const refused = errors.find((error) => error !== undefined);
    if (refused) throw refused;
    for (const { from, sent } of batch) accepted(from, sent);
  };
  const runClient = async (
    site: string,
    stage: DropStage,
    call: () => ClientMessage | Promise<ClientMessage>,
  ) => {
    const started = performance.now();
    const cpuStarted = cpu();
    try {
      return await call();
    } catch (error) {
      if (options.onClientError === 'drop' && error instanceof SecAggError) {
        refusals.set(site, error);
        gone.add(site);
        return undefined;
      }
      throw error;
    } finally {
      const ms = performance.now() - started;
      clientMs.set(site, clientMs.get(site)! + ms);
      clientCpuMs.set(site, clientCpuMs.get(site)! + cpu() - cpuStarted);
      clientStageMs.get(site)![stage] = ms;
    }
  };

  const advertiseDrops = dropsAt('advertise');
  for (const site of sites) {
    if (advertiseDrops.has(site)) gone.add(site);
    if (gone.has(site)) continue;
    const reply = await runClient(site, 'advertise', () => clients.get(site)!.advertise());
    if (reply) send(site, reply);
    options.progress?.('advertise', sites.indexOf(site) + 1, sites.length);
  }
  let result: SecAggResult | undefined;
  for (;;) {
    await flush();
    const closing = server.stage as DropStage;
    const started = performance.now();
    const cpuStarted = cpu();
    const output = await server.closeStage();
    serverCpuMs += cpu() - cpuStarted;
    const ms = performance.now() - started;
    serverMs += ms;
    serverStageMs[closing] = (serverStageMs[closing] ?? 0) + ms;
    if (output.result) {
      result = output.result;
      break;
    }
    // The stage the coordinator now collects is the one whose message the sites send next ('reveal'
    // only with SecAgg+ neighbourhoods).
    const stage = server.stage as DropStage;
    const drops = dropsAt(stage);
    let done = 0;
    for (const { to, message } of output.outbound) {
      options.progress?.(stage, ++done, output.outbound.length);
      if (drops.has(to)) gone.add(to);
      if (gone.has(to)) continue;
      const sent = options.viaWire ? parseServerMessage(decodeWire(encodeWire(message))) : message;
      const delivered = options.intercept ? options.intercept(to, sent) : sent;
      if (!delivered) continue;
      if (delivered.type === 'shares') provideInput(to);
      const reply = await runClient(to, stage, () => clients.get(to)!.handle(delivered));
      if (reply) send(to, reply);
    }
  }

  return {
    result,
    expected,
    exact: equalWords(result.sum, expected),
    clientMs,
    clientStageMs,
    serverMs,
    serverStageMs,
    clientCpuMs,
    serverCpuMs,
    uploadBytes,
    refusals,
    identities,
    server,
    received: options.record ? recording : undefined,
  };
}

export interface CoordinatorTiming {
  result: SecAggResult;
  /** The replayed round's sum equals the simulated round's plain sum, bit for bit. */
  exact: boolean;
  serverMs: number;
  serverStageMs: Partial<Record<DropStage, number>>;
  serverCpuMs: number;
}

/**
 * Times the coordinator alone: a fresh coordinator with the same configuration is handed the messages a
 * recorded simulation's coordinator received (`record: true`), stage by stage, back to back and in the
 * same way (`receive` or `receiveAll`), and closes each stage. The coordinator is deterministic in its
 * input, so it computes the same round; what differs is only that the sites' work no longer runs between
 * its calls, sharing its thread, heap and caches, as it never does in a deployment.
 */
export async function replayCoordinator(
  options: SimulateOptions,
  sim: SimulationResult,
): Promise<CoordinatorTiming> {
  if (!sim.received) throw new Error('replayCoordinator needs a simulation run with record: true');
  const server = coordinatorFor(options, sim.identities);
  const cpu = options.cpuClock ?? (() => 0);
  const serverStageMs = Object.fromEntries(
    stagesFor(server.params.neighbours).map((stage) => [stage, 0]),
  ) as Partial<Record<DropStage, number>>;
  let serverMs = 0;
  let serverCpuMs = 0;
  let result: SecAggResult | undefined;
  while (!result) {
    const stage = server.stage as DropStage;
    const started = performance.now();
    const cpuStarted = cpu();
    for (const { batched, messages } of sim.received.filter((entry) => entry.stage === stage)) {
      if (batched) {
        const refused = (await server.receiveAll(messages)).find((error) => error !== undefined);
        if (refused) throw refused;
      } else {
        for (const { from, message } of messages) server.receive(from, message);
      }
    }
    const output = await server.closeStage();
    result = output.result;
    const ms = performance.now() - started;
    serverStageMs[stage] = ms;
    serverMs += ms;
    serverCpuMs += cpu() - cpuStarted;
  }
  return {
    result,
    exact: equalWords(result.sum, sim.expected),
    serverMs,
    serverStageMs,
    serverCpuMs,
  };
}

export function randomWords(length: number): Uint32Array {
  const out = new Uint32Array(length);
  // getRandomValues fills at most 65536 bytes per call.
  for (let i = 0; i < length; i += 16384)
    crypto.getRandomValues(out.subarray(i, Math.min(length, i + 16384)));
  return out;
}

export function equalWords(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
