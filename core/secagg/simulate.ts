import { SecAggClient } from './client.js';
import { SecAggError } from './errors.js';
import type { MaskEngine } from './mask.js';
import { wireSize, type ClientMessage, type ServerMessage } from './messages.js';
import type { SecAggOptions, SessionInfo } from './params.js';
import { SecAggServer, type SecAggResult, type ServerStage } from './server.js';
import { sodium } from './sodium.js';

/** The stage before whose message a site goes silent. */
export type DropStage = Exclude<ServerStage, 'done' | 'aborted'>;
export const DROP_STAGES: readonly DropStage[] = [
  'advertise',
  'share-keys',
  'masked-input',
  'consistency',
  'unmask',
];

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
  /** Sites (by id or index) that go silent before sending their message of that stage. */
  dropouts?: Partial<Record<DropStage, Iterable<string | number>>>;
  session?: Partial<SessionInfo>;
  clientEngine?: MaskEngine;
  serverEngine?: MaskEngine;
  /** Rewrites (or drops, by returning undefined) a coordinator message on its way to a site. */
  intercept?: (to: string, message: ServerMessage) => ServerMessage | undefined;
  /** 'throw' (default): a client's refusal rejects the simulation. 'drop': the site just drops out. */
  onClientError?: 'throw' | 'drop';
  /** Count wire bytes per site (default true). */
  measureTraffic?: boolean;
}

export interface SimulationResult {
  result: SecAggResult;
  /** Σ x_u over U3, computed in the clear, and whether the protocol's sum equals it bit for bit. */
  expected: Uint32Array;
  exact: boolean;
  /** Per site: milliseconds spent inside its client calls (all stages). */
  clientMs: Map<string, number>;
  /** Milliseconds spent inside the coordinator (receive + closeStage, unmasking included). */
  serverMs: number;
  /** Per site: bytes it sent (wire encoding). */
  uploadBytes: Map<string, number>;
  refusals: Map<string, SecAggError>;
  identities: SiteIdentity[];
}

/**
 * Runs one round in-process: real SecAggClient/SecAggServer objects, messages passed by reference,
 * dropouts and tampering injected. Sites run one after another, so per-site timings are not disturbed by
 * each other.
 */
export async function simulateRound(options: SimulateOptions): Promise<SimulationResult> {
  const identities = options.identities ?? makeIdentities(options.n ?? 0);
  const sites = identities.map((id) => id.siteId);
  const roster = Object.fromEntries(identities.map((id) => [id.siteId, id.publicKey]));
  const session: SessionInfo = {
    federationId: 'sim',
    round: 1,
    modelHash: 'model',
    configHash: 'config',
    ...options.session,
  };
  const common = {
    vectorLength: options.params,
    threshold: options.threshold,
    neighbours: options.neighbours,
    neighbourhoodThreshold: options.neighbourhoodThreshold,
    session,
    roster,
  };
  const server = new SecAggServer({ ...common, engine: options.serverEngine });
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
  const inputs = new Map<string, Uint32Array>();
  sites.forEach((site, i) => {
    const input = options.inputs ? options.inputs(site, i) : randomWords(options.params);
    inputs.set(site, input);
    clients.get(site)!.setInput(input);
  });

  const drops = new Map<DropStage, Set<string>>();
  for (const stage of DROP_STAGES) {
    const list = [...(options.dropouts?.[stage] ?? [])].map((s) => (typeof s === 'number' ? sites[s]! : s));
    drops.set(stage, new Set(list));
  }
  const gone = new Set<string>();
  const clientMs = new Map(sites.map((s) => [s, 0]));
  const uploadBytes = new Map(sites.map((s) => [s, 0]));
  const refusals = new Map<string, SecAggError>();
  let serverMs = 0;
  const measure = options.measureTraffic ?? true;

  const send = (site: string, message: ClientMessage) => {
    if (measure) uploadBytes.set(site, uploadBytes.get(site)! + wireSize(message));
    const started = performance.now();
    server.receive(site, message);
    serverMs += performance.now() - started;
  };
  const runClient = async (site: string, call: () => ClientMessage | Promise<ClientMessage>) => {
    const started = performance.now();
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
      clientMs.set(site, clientMs.get(site)! + performance.now() - started);
    }
  };

  for (const site of sites) {
    if (drops.get('advertise')!.has(site)) gone.add(site);
    if (gone.has(site)) continue;
    const reply = await runClient(site, () => clients.get(site)!.advertise());
    if (reply) send(site, reply);
  }
  let result: SecAggResult | undefined;
  for (let index = 1; ; index++) {
    const started = performance.now();
    const output = await server.closeStage();
    serverMs += performance.now() - started;
    if (output.result) {
      result = output.result;
      break;
    }
    const stage = DROP_STAGES[index]!;
    for (const { to, message } of output.outbound) {
      if (drops.get(stage)!.has(to)) gone.add(to);
      if (gone.has(to)) continue;
      const delivered = options.intercept ? options.intercept(to, message) : message;
      if (!delivered) continue;
      const reply = await runClient(to, () => clients.get(to)!.handle(delivered));
      if (reply) send(to, reply);
    }
  }

  const expected = new Uint32Array(options.params);
  for (const site of result.included) {
    const x = inputs.get(site)!;
    for (let i = 0; i < expected.length; i++) expected[i] = expected[i]! + x[i]!;
  }
  return {
    result,
    expected,
    exact: equalWords(result.sum, expected),
    clientMs,
    serverMs,
    uploadBytes,
    refusals,
    identities,
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
