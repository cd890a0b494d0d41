import { describe, expect, it } from 'vitest';
import { toBase64 } from './bytes.js';
import { SecAggClient } from './client.js';
import { advertMessage, consistencyMessage, sign, verify, x25519KeyPair } from './crypto.js';
import { createWorkerMaskEngine } from './mask-engine.node.js';
import { InThreadMaskEngine, type MaskEngine, type SignatureJob } from './mask.js';
import type { ClientMessage } from './messages.js';
import { libsodiumPrg } from './prg.js';
import { SecAggServer, type Outbound } from './server.js';
import { makeIdentities, simulateRound } from './simulate.js';

const SESSION = { federationId: 'fed-b', round: 3, modelHash: 'm', configHash: 'c' };
const SMALL_ORDER = new Uint8Array(32); // the all-zero X25519 point

/** An in-thread engine that checks batches of signatures (as the worker pool does) and counts them. */
function countingEngine(): MaskEngine & { verified: number } {
  const engine = Object.assign(new InThreadMaskEngine(libsodiumPrg), { verified: 0 });
  return Object.assign(engine, {
    async verifySignatures(jobs: readonly SignatureJob[]) {
      engine.verified += jobs.length;
      return jobs.map((job) => verify(job.signature, job.message, job.publicKey));
    },
  });
}

type Delivery = { from: string; message: unknown };
const outcome = (error: Error | undefined) =>
  error ? `${error.name}:${(error as { code?: string }).code ?? ''}:${error.message}` : 'ok';

/**
 * The same deliveries to a coordinator taking them one by one with `receive` and to others taking them in
 * one `receiveAll`: every message must get the same outcome and the stage must close the same way.
 */
async function compare(servers: SecAggServer[], deliveries: Delivery[]): Promise<Outbound[]> {
  const [sequential, ...batched] = servers;
  const expected = deliveries.map(({ from, message }) => {
    try {
      sequential!.receive(from, structuredClone(message));
      return 'ok';
    } catch (error) {
      return outcome(error as Error);
    }
  });
  expect(expected).toContain('ok');
  expect(expected.some((o) => o !== 'ok')).toBe(true);
  for (const server of batched) {
    const results = await server.receiveAll(
      deliveries.map((d) => ({ ...d, message: structuredClone(d.message) })),
    );
    expect(results.map(outcome)).toEqual(expected);
    expect(server.pending()).toEqual(sequential!.pending());
  }
  const closed = await Promise.all(servers.map((server) => server.closeStage()));
  for (const output of closed.slice(1)) expect(output).toEqual(closed[0]);
  return closed[0]!.outbound;
}

describe('receiveAll: the messages of a stage at once, signatures checked in parallel, same outcomes as receive', () => {
  it('adverts and consistency signatures, good and bad, through a whole round', async () => {
    const ids = makeIdentities(8);
    const roster = Object.fromEntries(ids.map((id) => [id.siteId, id.publicKey]));
    const config = { session: SESSION, roster, vectorLength: 40 };
    const counting = countingEngine();
    const pool = createWorkerMaskEngine({ workers: 2 });
    const servers = [
      new SecAggServer(config),
      new SecAggServer({ ...config, engine: counting }),
      new SecAggServer({ ...config, engine: pool }),
      new SecAggServer(config), // receiveAll without a parallel verifier: checks in order
    ];
    try {
      const clients = new Map(
        ids.map((id) => [
          id.siteId,
          new SecAggClient({ ...config, siteId: id.siteId, identitySecretKey: id.secretKey }),
        ]),
      );
      for (const client of clients.values()) client.setInput(new Uint32Array(40).fill(5));
      const secret = (site: string) => ids.find((id) => id.siteId === site)!.secretKey;
      const advert = (site: string, cPk: Uint8Array, sPk: Uint8Array, round = SESSION.round) => ({
        type: 'advertise' as const,
        federationId: SESSION.federationId,
        round,
        site,
        cPk: toBase64(cPk),
        sPk: toBase64(sPk),
        graphCommitment: null,
        signature: toBase64(
          sign(advertMessage(SESSION.federationId, round, site, cPk, sPk, null), secret(site)),
        ),
      });
      const adverts = new Map([...clients].map(([site, client]) => [site, client.advertise()]));
      const good = (site: string): Delivery => ({ from: site, message: adverts.get(site)! });
      const forged = { ...adverts.get('site-006')!, cPk: toBase64(x25519KeyPair().publicKey) };
      const strayBits = { ...adverts.get('site-008')!, cPk: adverts.get('site-008')!.cPk.slice(0, 42) + 'B' };
      const k = x25519KeyPair().publicKey;
      const outbound = await compare(servers, [
        good('site-001'),
        { from: 'site-006', message: forged }, // bad signature: refused, then its good advert is accepted
        good('site-002'),
        good('site-001'), // duplicate
        { from: 'site-003', message: adverts.get('site-004') }, // impersonation
        { from: 'site-099', message: { ...adverts.get('site-001'), site: 'site-099' } },
        { from: 'site-008', message: strayBits }, // not canonical base64: a plain Error, as receive throws
        { from: 'site-007', message: advert('site-007', SMALL_ORDER, k) }, // signed, but a low-order key
        { from: 'site-007', message: advert('site-007', k, k, 4) }, // another round
        { from: 'site-005', message: { ...adverts.get('site-005'), extra: true } }, // malformed
        good('site-003'),
        good('site-004'),
        good('site-005'),
        good('site-006'),
        good('site-007'),
        good('site-008'),
      ]);
      expect(counting.verified).toBeGreaterThanOrEqual(9);

      // Share keys and masked inputs go through receive on every coordinator.
      let messages = outbound;
      for (const stage of ['share-keys', 'masked-input']) {
        const replies: [string, ClientMessage][] = [];
        for (const { to, message } of messages) replies.push([to, await clients.get(to)!.handle(message)]);
        const outputs = [];
        for (const server of servers) {
          for (const [site, reply] of replies) {
            if (stage === 'masked-input' && site === 'site-008') continue; // drops out
            server.receive(site, reply);
          }
          outputs.push(await server.closeStage());
        }
        for (const output of outputs.slice(1)) expect(output).toEqual(outputs[0]);
        messages = outputs[0]!.outbound;
      }

      const before = counting.verified;
      const consistency = new Map<string, ClientMessage>();
      for (const { to, message } of messages) consistency.set(to, await clients.get(to)!.handle(message));
      const signed = (site: string) =>
        consistency.get(site) as Extract<ClientMessage, { type: 'consistency' }>;
      const alive = [...consistency.keys()].sort();
      const otherList = toBase64(
        sign(consistencyMessage(servers[0]!.sessionId!, alive.slice(1)), secret('site-002')),
      );
      const unmask = await compare(servers, [
        { from: 'site-001', message: { ...signed('site-001'), signature: signed('site-003').signature } },
        { from: 'site-001', message: signed('site-001') },
        { from: 'site-002', message: { ...signed('site-002'), signature: otherList } }, // signs another U3
        { from: 'site-002', message: signed('site-002') },
        { from: 'site-001', message: signed('site-001') }, // duplicate
        { from: 'site-008', message: { ...signed('site-003'), site: 'site-008' } }, // not in U3
        { from: 'site-004', message: { ...signed('site-004'), sessionId: toBase64(new Uint8Array(32)) } },
        ...alive.slice(2).map((site) => ({ from: site, message: signed(site) })),
      ]);
      expect(counting.verified - before).toBeGreaterThanOrEqual(alive.length + 2);

      // The round completes identically everywhere.
      const replies: [string, ClientMessage][] = [];
      for (const { to, message } of unmask) replies.push([to, await clients.get(to)!.handle(message)]);
      const sums = [];
      for (const server of servers) {
        for (const [site, reply] of replies) server.receive(site, reply);
        sums.push((await server.closeStage()).result!.sum.slice());
      }
      for (const sum of sums) expect(sum).toEqual(new Uint32Array(40).fill(5 * 7));
    } finally {
      await pool.close();
    }
  });

  it('trusts a precomputed verdict only for the exact bytes it was computed on', async () => {
    const ids = makeIdentities(3);
    const roster = Object.fromEntries(ids.map((id) => [id.siteId, id.publicKey]));
    // A verifier that says yes to everything: the coordinator uses its verdicts (which is why it must be
    // the real check), but a message whose bytes differ from the job's falls back to a real check.
    const lying = Object.assign(new InThreadMaskEngine(libsodiumPrg), {
      verifySignatures: async (jobs: readonly SignatureJob[]) => jobs.map(() => true),
    });
    const server = new SecAggServer({ session: SESSION, roster, vectorLength: 4, engine: lying });
    const clients = ids.map(
      (id) =>
        new SecAggClient({
          session: SESSION,
          roster,
          vectorLength: 4,
          siteId: id.siteId,
          identitySecretKey: id.secretKey,
        }),
    );
    const [a, b] = clients.map((client) => client.advertise());
    const forged = { ...a!, cPk: toBase64(x25519KeyPair().publicKey) };
    const results = await server.receiveAll([
      { from: 'site-001', message: forged },
      { from: 'site-002', message: b },
    ]);
    expect(results.map(outcome)).toEqual(['ok', 'ok']); // the lie was used: the verdicts are not ignored
    const honest = new SecAggServer({ session: SESSION, roster, vectorLength: 4, engine: countingEngine() });
    expect(
      (
        await honest.receiveAll([
          { from: 'site-001', message: forged },
          { from: 'site-002', message: b },
        ])
      ).map(outcome)[0],
    ).toMatch(/bad-signature/);
  });

  it('a simulated round draining signed stages with receiveAll is exact, with SecAgg+ and dropouts', async () => {
    const engine = createWorkerMaskEngine({ workers: 2 });
    try {
      const sim = await simulateRound({
        n: 40,
        params: 1000,
        neighbours: 10,
        batchSigned: true,
        serverEngine: engine,
        dropouts: { 'masked-input': [3, 17], consistency: [20] },
      });
      expect(sim.exact).toBe(true);
      expect(sim.result.included).toHaveLength(38);
    } finally {
      await engine.close();
    }
  });
});
