import { combine } from 'shamir-secret-sharing';
import { describe, expect, it } from 'vitest';
import { frame, fromBase64, toBase64, utf8 } from './bytes.js';
import { SecAggClient } from './client.js';
import {
  advertMessage,
  DOMAIN,
  encryptShares,
  graphSeed,
  pairSeed,
  selfMaskKey,
  sessionId,
  shareKey,
  sign,
  x25519,
  x25519KeyPair,
} from './crypto.js';
import { keystream, libsodiumPrg } from './prg.js';
import { SecAggError } from './errors.js';
import type {
  ClientMessage,
  GraphReveal,
  RevealList,
  ServerMessage,
  UnmaskRequest,
  UnmaskResponse,
} from './messages.js';
import { neighbourhoods, paramsTag, resolveParams } from './params.js';
import { makeIdentities, randomWords } from './simulate.js';
import { SecAggServer, type Outbound } from './server.js';
import { sodium } from './sodium.js';

const LENGTH = 8;

/** Five sites (t = 4) driven stage by stage, so a test can tamper with any message or act for a site. */
async function harness(
  options: { n?: number; malicious?: string; length?: number; neighbours?: number; threshold?: number } = {},
) {
  const ids = makeIdentities(options.n ?? 5);
  const roster = Object.fromEntries(ids.map((id) => [id.siteId, id.publicKey]));
  const session = { federationId: 'fed-a', round: 7, modelHash: 'model-h', configHash: 'config-h' };
  const length = options.length ?? LENGTH;
  const config = {
    session,
    roster,
    vectorLength: length,
    neighbours: options.neighbours,
    threshold: options.threshold,
  };
  const server = new SecAggServer(config);
  const clients = new Map(
    ids
      .filter((id) => id.siteId !== options.malicious)
      .map((id) => [
        id.siteId,
        new SecAggClient({ ...config, siteId: id.siteId, identitySecretKey: id.secretKey }),
      ]),
  );
  for (const client of clients.values()) client.setInput(new Uint32Array(length).fill(3));
  let outbound: Outbound[] | undefined;
  const h = {
    ids,
    roster,
    session,
    config,
    server,
    clients,
    client: (site: string) => clients.get(site)!,
    secretKey: (site: string) => ids.find((id) => id.siteId === site)!.secretKey,
    /** The coordinator's current message to `site`. */
    messageFor: (site: string) => structuredClone(outbound!.find((o) => o.to === site)!.message),
    /** Clients answer the current messages (or advertise, first), the coordinator takes the answers and closes the stage. */
    async step(
      options: { tamper?: (to: string, m: ServerMessage) => ServerMessage | undefined; skip?: string[] } = {},
    ) {
      const errors = new Map<string, SecAggError>();
      const replies: [string, ClientMessage][] = [];
      if (!outbound) {
        for (const [site, client] of clients)
          if (!options.skip?.includes(site)) replies.push([site, client.advertise()]);
      } else {
        for (const { to, message } of outbound) {
          const client = clients.get(to);
          if (!client || options.skip?.includes(to)) continue;
          const delivered = options.tamper ? options.tamper(to, structuredClone(message)) : message;
          if (!delivered) continue;
          try {
            replies.push([to, await client.handle(delivered)]);
          } catch (error) {
            errors.set(to, error as SecAggError);
          }
        }
      }
      for (const [site, reply] of replies) server.receive(site, reply);
      outbound = (await server.closeStage()).outbound;
      return { errors, replies: new Map(replies) };
    },
  };
  return h;
}
type Harness = Awaited<ReturnType<typeof harness>>;

/**
 * SecAgg+: the graph every party will derive, computed ahead from the r_u each client committed to in its
 * advert (white-box: read from the clients before they reveal it).
 */
function graphAhead(h: Harness): Map<string, string[]> {
  const reveals = [...h.clients].map(([site, client]) => ({
    site,
    seed: (client as unknown as { graphRandom: Uint8Array }).graphRandom,
  }));
  return neighbourhoods(graphSeed('fed-a', 7, reveals), [...h.clients.keys()], h.config.neighbours);
}

const expectRefusal = async (call: Promise<unknown> | (() => unknown), code: string) => {
  const promise = typeof call === 'function' ? Promise.resolve().then(call) : call;
  await expect(promise).rejects.toMatchObject({ name: 'SecAggError', code });
};

/** A correctly signed advert of `site` with chosen keys (what a malicious site or a replaying coordinator sends). */
function advertOf(
  h: Harness,
  site: string,
  cPk: Uint8Array,
  sPk: Uint8Array,
  federationId = 'fed-a',
  round = 7,
) {
  const signature = sign(advertMessage(federationId, round, site, cPk, sPk, null), h.secretKey(site));
  return {
    type: 'advertise' as const,
    federationId,
    round,
    site,
    cPk: toBase64(cPk),
    sPk: toBase64(sPk),
    graphCommitment: null,
    signature: toBase64(signature),
  };
}

describe('small-order X25519 points', () => {
  it('the blacklist is exactly what libsodium refuses to multiply, high bit or not', async () => {
    const { isSmallOrder } = await import('./crypto.js');
    const sk = x25519KeyPair().secretKey;
    const list = [
      ...SMALL_ORDER_POINTS,
      sodium.from_hex('5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157'),
      sodium.from_hex('ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
      sodium.from_hex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
      sodium.from_hex('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
    ];
    for (const point of [
      ...list,
      ...list.map((p) => Uint8Array.from(p, (b, i) => (i === 31 ? b | 0x80 : b))),
    ]) {
      expect(isSmallOrder(point)).toBe(true);
      expect(() => sodium.crypto_scalarmult(sk, point)).toThrow();
    }
    for (let i = 0; i < 100; i++) expect(isSmallOrder(x25519KeyPair().publicKey)).toBe(false);
  });
});

const SMALL_ORDER_POINTS = [
  new Uint8Array(32),
  Uint8Array.from([1, ...new Array(31).fill(0)]),
  sodium.from_hex('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800'),
];

describe('the client refuses at AdvertiseKeys → ShareKeys', () => {
  it('an advert with a bad signature', async () => {
    const h = await harness();
    await h.step();
    const list = h.messageFor('site-001') as Extract<ServerMessage, { type: 'adverts' }>;
    const victim = list.adverts[2]!;
    victim.sPk = list.adverts[3]!.sPk; // keys swapped in: the signature no longer covers them
    await expectRefusal(h.client('site-001').handle(list), 'bad-signature');
  });

  it("with SecAgg+, a bad advert of a neighbour; non-neighbours' adverts are not its to check", async () => {
    const badSignature = toBase64(sodium.randombytes_buf(64));
    const withBadSignature = (list: Extract<ServerMessage, { type: 'adverts' }>, site: string) => ({
      ...list,
      adverts: list.adverts.map((a) => (a.site === site ? { ...a, signature: badSignature } : a)),
    });
    for (const target of ['neighbour', 'stranger'] as const) {
      const h = await harness({ n: 12, neighbours: 4 });
      await h.step();
      const near = graphAhead(h).get('site-001')!;
      const site =
        target === 'neighbour'
          ? near[0]!
          : [...h.clients.keys()].find((v) => v !== 'site-001' && !near.includes(v))!;
      // The signatures are checked once the graph is known, after the reveals.
      await h.step({
        tamper: (to, m) => (to === 'site-001' && m.type === 'adverts' ? withBadSignature(m, site) : m),
      });
      expect(h.server.neighboursOf('site-001')).toEqual(near);
      const reply = h.client('site-001').handle(h.messageFor('site-001'));
      if (target === 'neighbour') await expectRefusal(reply, 'bad-signature');
      else expect((await reply).type).toBe('share-keys');
    }
  });

  it('an advert for another round or federation, even correctly signed', async () => {
    for (const [federationId, round] of [
      ['fed-a', 8],
      ['fed-b', 7],
    ] as const) {
      const h = await harness();
      await h.step();
      const list = h.messageFor('site-001') as Extract<ServerMessage, { type: 'adverts' }>;
      const keys = x25519KeyPair();
      list.adverts[2] = advertOf(
        h,
        list.adverts[2]!.site,
        keys.publicKey,
        keys.publicKey,
        federationId,
        round,
      );
      await expectRefusal(h.client('site-001').handle(list), 'wrong-session');
      // Relabelled to this round, the same advert no longer verifies.
      const h2 = await harness();
      await h2.step();
      const list2 = h2.messageFor('site-001') as Extract<ServerMessage, { type: 'adverts' }>;
      const replay = advertOf(
        h2,
        list2.adverts[2]!.site,
        keys.publicKey,
        keys.publicKey,
        federationId,
        round,
      );
      list2.adverts[2] = { ...replay, federationId: 'fed-a', round: 7 };
      await expectRefusal(h2.client('site-001').handle(list2), 'bad-signature');
    }
  });

  it('an advert list for another federation or round', async () => {
    const h = await harness();
    await h.step();
    const list = h.messageFor('site-001') as Extract<ServerMessage, { type: 'adverts' }>;
    await expectRefusal(h.client('site-001').handle({ ...list, round: 6 }), 'wrong-session');
  });

  it('an unknown site, a duplicate, its own advert missing or replaced, fewer than t adverts', async () => {
    const cases: [string, (list: Extract<ServerMessage, { type: 'adverts' }>, h: Harness) => void][] = [
      ['unknown-site', (list) => list.adverts.push({ ...list.adverts[1]!, site: 'site-999' })],
      ['duplicate-site', (list) => list.adverts.push(list.adverts[1]!)],
      ['self-missing', (list) => list.adverts.splice(0, 1)],
      [
        'list-mismatch',
        (list, h) => {
          const keys = x25519KeyPair();
          list.adverts[0] = advertOf(h, 'site-001', keys.publicKey, keys.publicKey);
        },
      ],
      ['below-threshold', (list) => list.adverts.splice(3)],
    ];
    for (const [code, tamper] of cases) {
      const h = await harness();
      await h.step();
      const list = h.messageFor('site-001') as Extract<ServerMessage, { type: 'adverts' }>;
      tamper(list, h);
      await expectRefusal(h.client('site-001').handle(list), code);
    }
  });

  it('a low-order X25519 point, in either key, even when correctly signed', async () => {
    for (const point of SMALL_ORDER_POINTS) {
      for (const which of ['c', 's'] as const) {
        const h = await harness();
        await h.step();
        const list = h.messageFor('site-001') as Extract<ServerMessage, { type: 'adverts' }>;
        const good = x25519KeyPair().publicKey;
        list.adverts[4] = advertOf(h, 'site-005', which === 'c' ? point : good, which === 's' ? point : good);
        await expectRefusal(h.client('site-001').handle(list), 'low-order-point');
      }
    }
  });

  it('a replayed or reordered message, and everything after a refusal', async () => {
    const h = await harness();
    await h.step();
    const list = h.messageFor('site-001');
    await h.client('site-001').handle(list);
    await expectRefusal(h.client('site-001').handle(list), 'unexpected-message');
    await expectRefusal(h.client('site-001').handle(list), 'aborted');

    const h2 = await harness();
    await h2.step();
    const early = { type: 'alive' as const, sessionId: toBase64(new Uint8Array(32)), alive: ['site-001'] };
    await expectRefusal(h2.client('site-001').handle(early), 'unexpected-message');
    await expectRefusal(h2.client('site-001').handle(h2.messageFor('site-001')), 'aborted');
  });

  it('a malformed message', async () => {
    const h = await harness();
    await h.step();
    await expectRefusal(
      h.client('site-001').handle({ type: 'adverts', federationId: 'fed-a', round: -1, adverts: [] }),
      'malformed',
    );
  });
});

describe('the SecAgg+ graph: commit-reveal', () => {
  /** Deterministic stand-ins for keys and seeds (session_id and the graph only hash them). */
  const bytes = (label: string) => sodium.crypto_generichash(32, utf8(label), null);

  it('grinding: re-drawn advert keys chose the graph when it came from session_id; with commit-reveal they do not move it', () => {
    // 60 sites, k = 10 (t_k = 8 of 11), 12 of them corrupt. One corrupt site re-draws its advert keys
    // 3,000 times, knowing every other advert, and keeps the draw that gives some honest site the most
    // corrupt neighbours: 8 is enough to reconstruct both of its secrets, 5 (2·t_k − (k + 1)) a split view.
    const n = 60;
    const k = 10;
    const sites = Array.from({ length: n }, (_, i) => `site-${String(i + 1).padStart(3, '0')}`);
    const corrupt = new Set(sites.slice(0, 12));
    const grinder = sites[0]!;
    const session = { federationId: 'fed-a', round: 7, modelHash: 'model-h', configHash: 'config-h' };
    const tag = paramsTag(resolveParams(n, { vectorLength: 8, neighbours: k }));
    const reveals = sites.map((site) => ({ site, seed: bytes(`r ${site}`) }));
    const worstHonest = (graph: Map<string, string[]>) =>
      Math.max(
        ...sites
          .filter((v) => !corrupt.has(v))
          .map((v) => graph.get(v)!.filter((w) => corrupt.has(w)).length),
      );
    const before = new Set<number>();
    const after = new Set<string>();
    for (let draw = 0; draw < 3000; draw++) {
      const adverts = sites.map((site) => {
        const label = site === grinder ? `draw ${draw}` : site;
        return {
          site,
          cPk: bytes(`c ${label}`),
          sPk: bytes(`s ${label}`),
          graphCommitment: bytes(`g ${site}`),
        };
      });
      const sid = sessionId(session, tag, adverts);
      before.add(worstHonest(neighbourhoods(sid, sites, k)));
      after.add(JSON.stringify([...neighbourhoods(graphSeed('fed-a', 7, reveals), sites, k)]));
    }
    expect(Math.max(...before)).toBeGreaterThanOrEqual(8);
    // The graph is a function of the revealed seeds alone, each fixed by a commitment made before any was seen.
    expect(after.size).toBe(1);
    const other = reveals.map((r) => (r.site === grinder ? { site: grinder, seed: bytes('another r') } : r));
    expect(neighbourhoods(graphSeed('fed-a', 7, other), sites, k)).not.toEqual(
      neighbourhoods(graphSeed('fed-a', 7, reveals), sites, k),
    );
  });

  /** A SecAgg+ round (12 sites, k = 4) up to the reveals: each client's reply to the advert list. */
  const atReveal = async () => {
    const h = await harness({ n: 12, neighbours: 4 });
    await h.step();
    const replies = new Map<string, ClientMessage>();
    for (const [site, client] of h.clients) replies.set(site, await client.handle(h.messageFor(site)));
    return { h, replies };
  };

  it('the coordinator refuses a reveal that does not open its commitment, and the round aborts without it', async () => {
    const { h, replies } = await atReveal();
    const bad = {
      ...(replies.get('site-003') as GraphReveal),
      graphSeed: toBase64(sodium.randombytes_buf(32)),
    };
    expect(() => h.server.receive('site-003', bad)).toThrow(expect.objectContaining({ code: 'bad-reveal' }));
    for (const [site, reply] of replies) if (site !== 'site-003') h.server.receive(site, reply);
    expect(h.server.pending()).toEqual(['site-003']);
    await expect(h.server.closeStage()).rejects.toMatchObject({ code: 'missing-reveal' });
    expect(h.server.stage).toBe('aborted');
  });

  it('the site refuses a reveal list that leaves a site out or carries a seed other than the committed one', async () => {
    const { h, replies } = await atReveal();
    for (const [site, reply] of replies) h.server.receive(site, reply);
    const { outbound } = await h.server.closeStage();
    const list = outbound.find((o) => o.to === 'site-001')!.message as RevealList;
    expect(list.reveals.map((r) => r.site)).toEqual([...h.clients.keys()].sort());
    const dropped = { ...list, reveals: list.reveals.filter((r) => r.site !== 'site-007') };
    await expectRefusal(h.client('site-001').handle(dropped), 'missing-reveal');
    const forged = {
      ...list,
      reveals: list.reveals.map((r) =>
        r.site === 'site-007' ? { ...r, graphSeed: toBase64(sodium.randombytes_buf(32)) } : r,
      ),
    };
    await expectRefusal(h.client('site-002').handle(forged), 'bad-reveal');
    expect((await h.client('site-003').handle(list)).type).toBe('share-keys');
  });

  it('an advert with a graph commitment where none belongs (complete graph), or without one (SecAgg+)', async () => {
    const complete = await harness();
    const advert = complete.client('site-001').advertise();
    expect(advert.graphCommitment).toBeNull();
    expect(() =>
      complete.server.receive('site-001', { ...advert, graphCommitment: toBase64(bytes('x')) }),
    ).toThrow(expect.objectContaining({ code: 'malformed' }));
    const { h } = await atReveal();
    const list = h.messageFor('site-001') as Extract<ServerMessage, { type: 'adverts' }>;
    const client = new SecAggClient({
      ...h.config,
      siteId: 'site-001',
      identitySecretKey: h.secretKey('site-001'),
    });
    const own = client.advertise();
    expect(own.graphCommitment).not.toBeNull();
    const stripped = {
      ...list,
      adverts: list.adverts.map((a) => (a.site === 'site-001' ? own : { ...a, graphCommitment: null })),
    };
    await expectRefusal(client.handle(stripped), 'malformed');
  });
});

describe('the client refuses at ShareKeys → MaskedInputCollection', () => {
  it('a bundle for another session', async () => {
    const h = await harness();
    await h.step();
    await h.step();
    const bundle = h.messageFor('site-001') as Extract<ServerMessage, { type: 'shares' }>;
    bundle.sessionId = toBase64(sodium.randombytes_buf(32));
    await expectRefusal(h.client('site-001').handle(bundle), 'wrong-session');
  });

  it('envelopes relabelled by the coordinator (sender/recipient are authenticated data)', async () => {
    const h = await harness();
    await h.step();
    await h.step();
    const bundle = h.messageFor('site-001') as Extract<ServerMessage, { type: 'shares' }>;
    const [a, b] = bundle.shares;
    [a!.ciphertext, b!.ciphertext] = [b!.ciphertext, a!.ciphertext];
    await expectRefusal(h.client('site-001').handle(bundle), 'decrypt-failed');
  });

  it('an envelope from another session (replayed from an earlier round)', async () => {
    const old = await harness();
    await old.step();
    await old.step();
    const h = await harness();
    await h.step();
    await h.step();
    const bundle = h.messageFor('site-001') as Extract<ServerMessage, { type: 'shares' }>;
    const replayed = old.messageFor('site-001') as Extract<ServerMessage, { type: 'shares' }>;
    bundle.shares[0]!.ciphertext = replayed.shares[0]!.ciphertext;
    await expectRefusal(h.client('site-001').handle(bundle), 'decrypt-failed');
  });

  it('a share whose decrypted sender/recipient do not match the envelope', async () => {
    for (const inner of [
      ['site-005', 'site-002'],
      ['site-004', 'site-001'],
    ]) {
      const h = await harness({ malicious: 'site-005' });
      const c = x25519KeyPair();
      const s = x25519KeyPair();
      h.server.receive('site-005', advertOf(h, 'site-005', c.publicKey, s.publicKey));
      await h.step();
      const sid = h.server.sessionId!;
      const list = h.messageFor('site-001') as Extract<ServerMessage, { type: 'adverts' }>;
      const cPkOf = (site: string) => fromBase64(list.adverts.find((a) => a.site === site)!.cPk);
      const share = () => sodium.randombytes_buf(33);
      const shares = ['site-001', 'site-002', 'site-003', 'site-004'].map((to) => {
        const key = shareKey(x25519(c.secretKey, cPkOf(to), to), sid);
        if (to !== 'site-001')
          return { to, ciphertext: toBase64(encryptShares(key, sid, 'site-005', to, share(), share())) };
        // Correct key and associated data, lying plaintext.
        const nonce = sodium.randombytes_buf(24);
        const plaintext = frame(DOMAIN.share, inner[0]!, inner[1]!, share(), share());
        const ad = frame(DOMAIN.share, sid, 'site-005', 'site-001');
        const body = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key);
        return { to, ciphertext: toBase64(new Uint8Array([...nonce, ...body])) };
      });
      const commitment = toBase64(sodium.randombytes_buf(32));
      h.server.receive('site-005', {
        type: 'share-keys',
        sessionId: toBase64(sid),
        site: 'site-005',
        selfMaskCommitment: commitment,
        shares,
      });
      await h.step();
      await expectRefusal(h.client('site-001').handle(h.messageFor('site-001')), 'share-mismatch');
    }
  });

  it('duplicate, unknown or self senders, and too few shares', async () => {
    const cases: [string, (b: Extract<ServerMessage, { type: 'shares' }>) => void][] = [
      ['duplicate-site', (b) => b.shares.push(b.shares[0]!)],
      ['unknown-site', (b) => (b.shares[0]!.from = 'site-001')],
      ['unknown-site', (b) => (b.shares[0]!.from = 'site-999')],
      ['below-threshold', (b) => b.shares.splice(2)],
    ];
    for (const [code, tamper] of cases) {
      const h = await harness();
      await h.step();
      await h.step();
      const bundle = h.messageFor('site-001') as Extract<ServerMessage, { type: 'shares' }>;
      tamper(bundle);
      await expectRefusal(h.client('site-001').handle(bundle), code);
    }
  });

  it('an input vector of the wrong length (client), and a masked vector of the wrong length (coordinator)', async () => {
    const h = await harness();
    expect(() => h.client('site-001').setInput(new Uint32Array(LENGTH + 1))).toThrow(
      expect.objectContaining({ code: 'wrong-length' }),
    );
    await h.step();
    await h.step();
    await expectRefusal(
      h.client('site-001').onShares(h.messageFor('site-001') as never, new Uint32Array(LENGTH - 1)),
      'wrong-length',
    );
    const masked = await h.client('site-002').handle(h.messageFor('site-002'));
    const short = { ...masked, vector: (masked as { vector: Uint32Array }).vector.subarray(1) };
    expect(() => h.server.receive('site-002', short)).toThrow(
      expect.objectContaining({ code: 'wrong-length' }),
    );
  });
});

describe('the client refuses at ConsistencyCheck', () => {
  const atAlive = async (options: { dropAtShareKeys?: string } = {}) => {
    const h = await harness();
    await h.step();
    await h.step({ skip: options.dropAtShareKeys ? [options.dropAtShareKeys] : [] });
    await h.step();
    return h;
  };

  it('duplicates, unknown sites, itself missing, fewer than t alive, a site alive that never sent shares', async () => {
    const cases: [string, (alive: string[]) => string[]][] = [
      ['duplicate-site', (a) => [...a, a[1]!]],
      ['unknown-site', (a) => [...a, 'site-999']],
      ['self-missing', (a) => a.filter((s) => s !== 'site-001')],
      ['below-threshold', (a) => a.slice(0, 3)],
    ];
    for (const [code, tamper] of cases) {
      const h = await atAlive();
      const message = h.messageFor('site-001') as Extract<ServerMessage, { type: 'alive' }>;
      await expectRefusal(h.client('site-001').handle({ ...message, alive: tamper(message.alive) }), code);
    }
    const h = await atAlive({ dropAtShareKeys: 'site-005' });
    const message = h.messageFor('site-001') as Extract<ServerMessage, { type: 'alive' }>;
    expect(message.alive).not.toContain('site-005');
    await expectRefusal(
      h.client('site-001').handle({ ...message, alive: [...message.alive, 'site-005'] }),
      'list-mismatch',
    );
  });
});

describe('the client refuses at Unmasking', () => {
  /** A round where site-005 dropped after ShareKeys (so it is dead), run up to the unmask requests. */
  const atUnmask = async () => {
    const h = await harness();
    await h.step();
    await h.step();
    await h.step({ skip: ['site-005'] });
    await h.step();
    return h;
  };
  const request = (h: Harness) => h.messageFor('site-001') as UnmaskRequest;

  it('answers an honest request, never with both shares for one site', async () => {
    const h = await atUnmask();
    const { replies } = await h.step();
    for (const reply of replies.values()) {
      if (reply.type !== 'unmask') throw new Error('expected unmask responses');
      const self = reply.selfMaskShares.map((s) => s.of);
      const keys = reply.keyShares.map((s) => s.of);
      expect(self.filter((s) => keys.includes(s))).toEqual([]);
      expect(keys).toEqual(['site-005']);
      expect(self).toEqual(['site-001', 'site-002', 'site-003', 'site-004']);
    }
  });

  const cases: [string, string, (r: UnmaskRequest) => void][] = [
    ['alive-dead-overlap', 'a site in both the alive and the dead list', (r) => r.dead.push('site-002')],
    ['alive-dead-overlap', 'itself in both lists', (r) => r.dead.push('site-001')],
    ['duplicate-site', 'a duplicate in the alive list', (r) => r.alive.push('site-003')],
    ['duplicate-site', 'a duplicate in the dead list', (r) => r.dead.push('site-005')],
    ['unknown-site', 'an unknown site in the dead list', (r) => r.dead.push('site-999')],
    [
      'self-dead',
      'itself listed dead',
      (r) => {
        r.alive = r.alive.filter((s) => s !== 'site-001');
        r.dead.push('site-001');
      },
    ],
    ['below-threshold', '|alive| < t', (r) => (r.alive = r.alive.slice(0, 3))],
    ['list-mismatch', 'a dead list that omits a site in U2 \\ U3', (r) => (r.dead = [])],
    [
      'list-mismatch',
      'an alive list that differs from the U3 it signed',
      (r) => {
        r.alive = ['site-001', 'site-002', 'site-003', 'site-005'];
        r.dead = ['site-004'];
      },
    ],
    ['insufficient-signatures', 'U3 signed by t − 1 sites', (r) => (r.signatures = r.signatures.slice(0, 3))],
    [
      'bad-signature',
      'one bad consistency signature',
      (r) => (r.signatures[1]!.signature = toBase64(sodium.randombytes_buf(64))),
    ],
    ['duplicate-site', 'a signer counted twice', (r) => r.signatures.push(r.signatures[0]!)],
    [
      'unknown-site',
      'a signature from a site outside U3',
      (r) => r.signatures.push({ ...r.signatures[0]!, site: 'site-005' }),
    ],
    ['wrong-session', 'a request for another session', (r) => (r.sessionId = toBase64(new Uint8Array(32)))],
  ];
  for (const [code, what, tamper] of cases) {
    it(`${what} (${code})`, async () => {
      const h = await atUnmask();
      const r = request(h);
      tamper(r);
      await expectRefusal(h.client('site-001').handle(r), code);
    });
  }

  it('a replayed unmask request', async () => {
    const h = await atUnmask();
    await h.client('site-001').handle(request(h));
    await expectRefusal(h.client('site-001').handle(request(h)), 'unexpected-message');
  });

  it('a split view: two alive lists, neither signed by t sites, so no site reveals both shares of a target', async () => {
    // The coordinator received every masked input but tells sites 1, 2, 5 that U3 = all five (site-005 alive:
    // they would reveal b_5) and sites 3, 4 that U3 = {1, 2, 3, 4} (site-005 dead: they would reveal s_5^SK).
    const h = await harness();
    await h.step();
    await h.step();
    await h.step();
    const all = ['site-001', 'site-002', 'site-003', 'site-004', 'site-005'];
    const fake = all.slice(0, 4);
    const sid = toBase64(h.server.sessionId!);
    const signatures = new Map<string, string>();
    for (const site of all) {
      const alive = ['site-003', 'site-004'].includes(site) ? fake : all;
      const reply = h.client(site).onAlive({ type: 'alive', sessionId: sid, alive });
      signatures.set(site, reply.signature);
    }
    const sigs = (sites: string[]) => sites.map((site) => ({ site, signature: signatures.get(site)! }));
    // Group A (alive view) has 3 < t = 4 signatures over its list; padding with group B's fails verification.
    await expectRefusal(
      () =>
        h.client('site-001').onUnmaskRequest({
          type: 'unmask-request',
          sessionId: sid,
          alive: all,
          dead: [],
          signatures: sigs(['site-001', 'site-002', 'site-005']),
        }),
      'insufficient-signatures',
    );
    await expectRefusal(
      () =>
        h.client('site-002').onUnmaskRequest({
          type: 'unmask-request',
          sessionId: sid,
          alive: all,
          dead: [],
          signatures: sigs(all),
        }),
      'bad-signature',
    );
    await expectRefusal(
      () =>
        h.client('site-003').onUnmaskRequest({
          type: 'unmask-request',
          sessionId: sid,
          alive: fake,
          dead: ['site-005'],
          signatures: sigs(fake),
        }),
      'bad-signature',
    );
    await expectRefusal(
      () =>
        h.client('site-004').onUnmaskRequest({
          type: 'unmask-request',
          sessionId: sid,
          alive: fake,
          dead: ['site-005'],
          signatures: sigs(['site-003', 'site-004']),
        }),
      'insufficient-signatures',
    );
  });
});

/**
 * The split view of issue 12: the coordinator received every masked input of six sites, tells sites 1–3
 * that U3 = {1, 2, 3} and sites 4–6 that U3 = {4, 5, 6}. Each group's consistency check sees only its
 * own list, signed by its three members. Group 1–3 then reveals its shares of s_4^SK (site-004 is "dead"
 * to it) and group 4–6 its shares of b_4 (alive), and the coordinator unmasks y_4 on its own. Returns the
 * refusal that stopped it, or whether site-004's input came out bit for bit.
 */
async function splitView(threshold: number): Promise<{ refused: string } | { recovered: boolean }> {
  const victim = 'site-004';
  const groupA = ['site-001', 'site-002', 'site-003'];
  const groupB = ['site-004', 'site-005', 'site-006'];
  try {
    const h = await harness({ n: 6, threshold });
    const input = randomWords(LENGTH);
    h.client(victim).setInput(input);
    await h.step();
    const adverts = (h.messageFor(victim) as Extract<ServerMessage, { type: 'adverts' }>).adverts;
    const sPk = (site: string) => fromBase64(adverts.find((a) => a.site === site)!.sPk);
    await h.step();
    const { replies } = await h.step();
    const y = (replies.get(victim) as Extract<ClientMessage, { type: 'masked-input' }>).vector;
    const sid = h.server.sessionId!;
    const session = toBase64(sid);
    const reveal = (group: string[], other: string[]) => {
      const signatures = group.map((site) => ({
        site,
        signature: h.client(site).onAlive({ type: 'alive', sessionId: session, alive: group }).signature,
      }));
      return group.map((site) =>
        h.client(site).onUnmaskRequest({
          type: 'unmask-request',
          sessionId: session,
          alive: group,
          dead: other,
          signatures,
        }),
      );
    };
    const fromA = reveal(groupA, groupB);
    const fromB = reveal(groupB, groupA);
    const shares = (responses: UnmaskResponse[], kind: 'selfMaskShares' | 'keyShares') =>
      responses
        .flatMap((r) => r[kind])
        .filter((s) => s.of === victim)
        .map((s) => fromBase64(s.share));
    const sKey = await combine(shares(fromA, 'keyShares'));
    const selfSeed = await combine(shares(fromB, 'selfMaskShares'));
    const x = y.slice();
    const self = keystream(libsodiumPrg, selfMaskKey(selfSeed, sid, victim), LENGTH);
    for (let i = 0; i < LENGTH; i++) x[i] = x[i]! - self[i]!;
    for (const v of [...groupA, ...groupB].filter((site) => site !== victim)) {
      const stream = keystream(libsodiumPrg, pairSeed(x25519(sKey, sPk(v), v), sid, victim, v), LENGTH);
      for (let i = 0; i < LENGTH; i++) x[i] = x[i]! - (victim < v ? 1 : -1) * stream[i]!;
    }
    return { recovered: x.every((word, i) => word === input[i]) };
  } catch (error) {
    if (error instanceof SecAggError) return { refused: error.code };
    throw error;
  }
}

describe('the threshold floor t ≥ ⌊n/2⌋ + 1 stops the split view', () => {
  it('t = 3 of 6: refused as a configuration (with it, the split view recovered a victim bit for bit)', async () => {
    expect(await splitView(3)).toEqual({ refused: 'invalid-config' });
  });

  it('t = 4 of 6, the floor: a view of three alive is below t (and two views of t would share a signer)', async () => {
    expect(await splitView(4)).toEqual({ refused: 'below-threshold' });
  });
});

describe('the coordinator refuses bad site messages and keeps going', () => {
  it('at AdvertiseKeys: unknown or impersonated sites, duplicates, other rounds, bad signatures, low-order keys', async () => {
    const h = await harness({ malicious: 'site-005' });
    const keys = x25519KeyPair();
    const good = advertOf(h, 'site-005', keys.publicKey, keys.publicKey);
    const refusesWith = (from: string, message: unknown, code: string) =>
      expect(() => h.server.receive(from, message)).toThrow(expect.objectContaining({ code }));
    refusesWith('site-999', { ...good, site: 'site-999' }, 'unknown-site');
    refusesWith('site-004', good, 'unknown-site');
    refusesWith(
      'site-005',
      advertOf(h, 'site-005', keys.publicKey, keys.publicKey, 'fed-a', 8),
      'wrong-session',
    );
    refusesWith('site-005', { ...good, cPk: toBase64(x25519KeyPair().publicKey) }, 'bad-signature');
    refusesWith(
      'site-005',
      advertOf(h, 'site-005', SMALL_ORDER_POINTS[0]!, keys.publicKey),
      'low-order-point',
    );
    refusesWith('site-005', { ...good, extra: 1 }, 'malformed');
    h.server.receive('site-005', good);
    refusesWith('site-005', good, 'duplicate-site');
    await h.step();
    expect(h.server.stage).toBe('share-keys');
    refusesWith('site-005', good, 'stage-closed');
  });

  it('at later stages: wrong session, messages from sites not in the stage set, the wrong kind of share', async () => {
    const h = await harness();
    await h.step();
    const { replies } = await h.step({ skip: ['site-005'] });
    expect(() => h.server.receive('site-005', { ...replies.get('site-001')!, site: 'site-005' })).toThrow(
      expect.objectContaining({ code: 'stage-closed' }),
    );
    await h.step();
    await h.step();
    const response = await h.client('site-001').handle(h.messageFor('site-001'));
    if (response.type !== 'unmask') throw new Error('expected an unmask response');
    const swapped = { ...response, selfMaskShares: response.keyShares, keyShares: response.selfMaskShares };
    expect(() => h.server.receive('site-001', swapped)).toThrow(
      expect.objectContaining({ code: 'list-mismatch' }),
    );
    expect(() =>
      h.server.receive('site-001', { ...response, sessionId: toBase64(new Uint8Array(32)) }),
    ).toThrow(expect.objectContaining({ code: 'wrong-session' }));
    h.server.receive('site-001', response);
    expect(() => h.server.receive('site-001', response)).toThrow(
      expect.objectContaining({ code: 'duplicate-site' }),
    );
  });
});

describe('the coordinator never outputs a wrong sum from bad shares', () => {
  for (const kind of ['random bytes', 'a copy of another share (same x coordinate)'] as const) {
    it(`aborts with reconstruction-failed when a responder reveals ${kind}`, async () => {
      const h = await harness();
      await h.step();
      await h.step();
      await h.step();
      await h.step();
      const replies = new Map<string, ClientMessage>();
      for (const site of ['site-001', 'site-002', 'site-003', 'site-004', 'site-005']) {
        replies.set(site, await h.client(site).handle(h.messageFor(site)));
      }
      const first = replies.get('site-001') as Extract<ClientMessage, { type: 'unmask' }>;
      const second = replies.get('site-002') as Extract<ClientMessage, { type: 'unmask' }>;
      const target = first.selfMaskShares.find((s) => s.of === 'site-003')!;
      target.share =
        kind === 'random bytes'
          ? toBase64(sodium.randombytes_buf(33))
          : second.selfMaskShares.find((s) => s.of === 'site-003')!.share;
      for (const [site, reply] of replies) h.server.receive(site, reply);
      await expect(h.server.closeStage()).rejects.toMatchObject({ code: 'reconstruction-failed' });
      expect(h.server.stage).toBe('aborted');
    });
  }
});

describe('a dropped site', () => {
  it('stays hidden by its self mask when its masked input arrives late and its mask key is revealed', async () => {
    // site-005 sends its shares, then its masked input arrives only after the coordinator closed that stage.
    const length = 4096;
    const h = await harness({ length });
    h.client('site-005').setInput(new Uint32Array(length)); // a maximally non-random input: all zeros
    await h.step();
    const adverts = (h.messageFor('site-001') as Extract<ServerMessage, { type: 'adverts' }>).adverts;
    const sPk = (site: string) => fromBase64(adverts.find((a) => a.site === site)!.sPk);
    await h.step();
    const late = await h.client('site-005').handle(h.messageFor('site-005'));
    await h.step({ skip: ['site-005'] });
    expect(() => h.server.receive('site-005', late)).toThrow(
      expect.objectContaining({ code: 'stage-closed' }),
    );
    await h.step();
    const { replies } = await h.step();
    expect(h.server.stage).toBe('done');

    // Everything the coordinator learns about site-005: its late y and the revealed shares of s_5^SK.
    const responses = [...replies.values()].filter((r) => r.type === 'unmask');
    expect(responses.flatMap((r) => r.selfMaskShares).filter((s) => s.of === 'site-005')).toEqual([]);
    const keyShares = responses.flatMap((r) => r.keyShares).filter((s) => s.of === 'site-005');
    const sKey = await combine(keyShares.map((s) => fromBase64(s.share)));
    expect(sodium.crypto_scalarmult_base(sKey)).toEqual(sPk('site-005')); // the real mask key
    const sid = h.server.sessionId!;
    const z = (late as { vector: Uint32Array }).vector.slice();
    for (const v of ['site-001', 'site-002', 'site-003', 'site-004']) {
      const stream = keystream(libsodiumPrg, pairSeed(x25519(sKey, sPk(v), v), sid, 'site-005', v), length);
      for (let i = 0; i < length; i++) z[i] = z[i]! - ('site-005' < v ? 1 : -1) * stream[i]!;
    }
    // What is left is x_5 + PRG(b_5): x_5 is all zeros, the remainder is uniform.
    expect(z.filter((w) => w === 0).length).toBeLessThan(2);
    expect(chiSquareTopByte(z)).toBeLessThan(CHI2_255_LIMIT);
  });
});

/** χ² of the top bytes of `words` against uniform over 256 values (255 degrees of freedom). */
function chiSquareTopByte(words: Uint32Array): number {
  const counts = new Array<number>(256).fill(0);
  for (const w of words) counts[w >>> 24]!++;
  const expected = words.length / 256;
  return counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
}
/** P(χ²₂₅₅ > 420) < 1e-9: a uniform stream essentially never fails; a structured one always does. */
const CHI2_255_LIMIT = 420;
