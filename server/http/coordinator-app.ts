import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import fastifyStatic from '@fastify/static';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import {
  decodeKey,
  encodeKey,
  keyFingerprint,
  signDomain,
  verifyDomain,
  type IdentityKeyPair,
} from '../../core/crypto/identity.js';
import {
  ENROLL_ACK_DOMAIN,
  ENROLL_DOMAIN,
  enrollRequestSchema,
  type EnrollResponse,
} from '../../core/protocol/enrollment.js';
import {
  CLOSE_CODES,
  HELLO_FRAME_BYTES,
  WS_AUTH_DOMAIN,
  siteMessageSchema,
  type CoordinatorMessage,
} from '../../core/protocol/session.js';
import {
  siteNameSchema,
  type AdminInvitation,
  type AdminInvitationCancellation,
  type AdminRevocation,
  type AdminStatus,
} from '../../core/protocol/admin.js';
import { builtUiDir } from '../../core/util/package-root.node.js';
import type { Remote } from '../../core/util/worker-rpc.node.js';
import type { CoordinatorConfig } from '../data-dir.js';
import type { CoordinatorStore } from '../store/coordinator-store.js';
import { SiteSessions } from './site-sessions.js';
import { DEFAULT_LIMITS, RateLimiter, RefusalLog, type CoordinatorLimits } from './limits.js';
import { HttpError } from './http-error.js';
import { registerFederationRoutes, type FederationFactory } from './federation-routes.js';
import type { RoundEngine } from '../rounds/round-engine.js';
import { createInvitation } from '../invite.js';
import { z } from 'zod';

export interface CoordinatorAppOptions {
  /** Creates the round engine once the app's site sessions exist. */
  rounds?: (sessions: SiteSessions) => RoundEngine;
  /** Builds a new federation's config and version 0 (needs the base model). */
  createFederation?: FederationFactory;
  config: CoordinatorConfig;
  store: Remote<CoordinatorStore>;
  identity: IdentityKeyPair;
  tls: { key: string; cert: string };
  adminToken: string;
  /** How long a connecting site has to answer the challenge. */
  helloTimeoutMs?: number;
  heartbeatMs?: number;
  /** Rate limits and allowances (tests and load benches on one address raise them). */
  limits?: Partial<CoordinatorLimits>;
}

export const SOFTWARE = 'cohort-coordinator/0.1.0';

const sha256 = (text: string) => createHash('sha256').update(text).digest();

const invitationRefusals = {
  unknown: [
    403,
    'token_unknown',
    'this invitation is not valid: the coordinator knows no such token (check the link, or ask the coordinator for a new invitation)',
  ],
  used: [403, 'token_used', 'this invitation has already been used; ask the coordinator for a new one'],
  cancelled: [403, 'token_cancelled', 'this invitation was cancelled; ask the coordinator for a new one'],
  expired: [403, 'token_expired', 'this invitation has expired; ask the coordinator for a new one'],
  'key-in-use': [409, 'key_in_use', 'this site identity key is already enrolled'],
  'key-revoked': [
    403,
    'key_revoked',
    'this site identity key belongs to a revoked site and cannot enroll again (a new site needs a new identity)',
  ],
  'name-in-use': [409, 'name_in_use', 'a site with this name is already enrolled'],
} as const;

/**
 * The coordinator's HTTPS + WebSocket API under /v1, and the web console under /console/. Everything
 * that arrives is validated against a schema before it is used.
 */
export async function buildCoordinatorApp(
  options: CoordinatorAppOptions,
): Promise<{ app: FastifyInstance; sessions: SiteSessions; rounds: RoundEngine | undefined }> {
  const { config, store, identity } = options;
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const sessions = new SiteSessions(limits.invalidFrames);
  const rounds = options.rounds?.(sessions);
  const adminTokenDigest = sha256(options.adminToken.trim());
  const identityFingerprint = await keyFingerprint(identity.publicKey);

  const app = Fastify({
    https: { key: options.tls.key, cert: options.tls.cert },
    logger: false,
    bodyLimit: 1024 * 1024,
    // Round messages are validated per message; nothing in the API needs a request body beyond 1 MiB.
  });
  // Every connection starts with the hello's limit; authenticated sites get more (SiteSessions).
  await app.register(fastifyWebsocket, { options: { maxPayload: HELLO_FRAME_BYTES } });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, _request, reply) => {
    if (error instanceof HttpError)
      return reply.status(error.statusCode).send({ error: { code: error.code, message: error.message } });
    const status = error.statusCode && error.statusCode < 500 ? error.statusCode : 500;
    const message = status < 500 ? error.message : 'internal error';
    if (status >= 500) console.error('coordinator: request failed:', error);
    return reply.status(status).send({ error: { code: status < 500 ? 'bad_request' : 'internal', message } });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      error: {
        code: 'not_found',
        message: `no such endpoint: ${request.method} ${request.url.split('?')[0]}`,
      },
    }),
  );

  // Audit writes that must not hold up the connection they describe; a failure is reported, not thrown.
  const auditInBackground = (kind: string, siteId: string | null, detail: Record<string, unknown>) =>
    store
      .audit(kind, siteId, detail)
      .catch((error: Error) => console.error(`coordinator: audit '${kind}' not written: ${error.message}`));

  const refusals = new RefusalLog(auditInBackground, limits.refusalWindowMs);
  app.addHook('onClose', () => refusals.close());
  const enrollLimiter = new RateLimiter(limits.enrollPerAddress, limits.enrollGlobal);
  const helloLimiter = new RateLimiter(limits.helloPerAddress, limits.helloGlobal);
  /** Connections that have not authenticated yet, per remote address. */
  const pending = new Map<string, number>();
  let pendingTotal = 0;
  /** Sites disconnected for sending invalid messages, and until when their connections are refused. */
  const cooldowns = new Map<string, number>();
  sessions.on('rejected', (session, reason) =>
    refusals.record('round-message-rejected', session.siteId, {
      reason,
      remoteAddress: session.remoteAddress,
    }),
  );
  sessions.on('abusive', (session) => {
    cooldowns.set(session.siteId, Date.now() + limits.abuseCooldownMs);
    refusals.record('site-disconnected-abuse', session.siteId, {
      reason: 'too many invalid messages',
      remoteAddress: session.remoteAddress,
    });
  });

  const requireAdmin = async (request: FastifyRequest) => {
    const header = request.headers.authorization ?? '';
    const presented = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    if (!timingSafeEqual(sha256(presented), adminTokenDigest)) {
      throw new HttpError(401, 'unauthorized', 'this endpoint needs the coordinator admin token');
    }
  };

  /** The roster version every connected site has been sent. */
  let announcedVersion = await store.rosterVersion();
  let announcing = Promise.resolve();
  /**
   * Tells every connected site what changed in the roster since the last announcement (after an
   * enrollment or a revocation): one small message per site, serialised so versions go out in order.
   */
  const announceRoster = () =>
    (announcing = announcing.then(async () => {
      try {
        const delta = await store.rosterDelta(announcedVersion);
        if (delta.to === announcedVersion) return;
        const message = JSON.stringify(delta satisfies CoordinatorMessage);
        for (const id of sessions.connectedIds()) sessions.get(id)?.socket.send(message);
        announcedVersion = delta.to;
      } catch (error) {
        console.error(`coordinator: could not announce the roster: ${(error as Error).message}`);
      }
    }));

  app.get('/v1/info', async () => ({
    name: config.name,
    identityPublicKey: encodeKey(identity.publicKey),
    identityFingerprint,
    software: SOFTWARE,
  }));

  app.post('/v1/enroll', async (request): Promise<EnrollResponse> => {
    const refuse = (status: number, code: string, message: string) => {
      refusals.record('enrollment-refused', null, { reason: code, remoteAddress: request.ip });
      return new HttpError(status, code, message);
    };
    if (!enrollLimiter.take(request.ip))
      throw refuse(429, 'rate_limited', 'too many enrollment attempts; try again in a minute');
    const parsed = enrollRequestSchema.safeParse(request.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw refuse(
        400,
        'bad_request',
        `malformed enrollment request (${issue?.path.join('.')}: ${issue?.message})`,
      );
    }
    const { token, publicKey, signature } = parsed.data;
    const sitePublicKey = decodeKey(publicKey);
    if (!(await verifyDomain(sitePublicKey, signature, ENROLL_DOMAIN, token, publicKey))) {
      throw refuse(
        400,
        'bad_signature',
        "the enrollment request's signature does not verify with its public key",
      );
    }
    const result = await store.redeemInvitation({
      tokenHash: sha256(token).toString('hex'),
      idSuffix: randomBytes(3).toString('hex'),
      identityPublicKey: publicKey,
      now: new Date().toISOString(),
    });
    if (!result.ok) {
      const [status, code, message] = invitationRefusals[result.reason];
      throw refuse(status, code, result.expiresAt ? `${message} (expired ${result.expiresAt})` : message);
    }
    const { site } = result;
    void announceRoster();
    return {
      siteId: site.id,
      siteName: site.name,
      coordinator: { name: config.name, identityPublicKey: encodeKey(identity.publicKey) },
      signature: await signDomain(identity.secretKey, ENROLL_ACK_DOMAIN, site.id, site.name, publicKey),
    };
  });

  app.get('/v1/admin/status', { preHandler: requireAdmin }, async (): Promise<AdminStatus> => {
    const connected = new Set(sessions.connectedIds());
    const sites = await store.listSites();
    return {
      coordinator: {
        name: config.name,
        publicUrl: config.publicUrl,
        certificateFingerprint: config.certificateFingerprint,
        identityFingerprint,
      },
      sites: await Promise.all(
        sites.map(async (site) => ({
          id: site.id,
          name: site.name,
          fingerprint: await keyFingerprint(decodeKey(site.identityPublicKey)),
          enrolledAt: site.enrolledAt,
          revoked: site.revokedAt !== null,
          connected: connected.has(site.id),
          connectedAt: sessions.get(site.id)?.connectedAt ?? null,
        })),
      ),
    };
  });

  const invitationRequestSchema = z.object({
    siteName: siteNameSchema,
    expiresInHours: z
      .number()
      .positive()
      .max(24 * 90)
      .default(24),
  });
  app.post(
    '/v1/admin/invitations',
    { preHandler: requireAdmin },
    async (request): Promise<AdminInvitation> => {
      const parsed = invitationRequestSchema.safeParse(request.body);
      if (!parsed.success)
        throw new HttpError(
          400,
          'bad_request',
          `malformed invitation request: ${parsed.error.issues[0]?.message}`,
        );
      try {
        return await createInvitation(
          store,
          config,
          parsed.data.siteName,
          parsed.data.expiresInHours * 3_600_000,
        );
      } catch (error) {
        if ((error as { code?: string }).code === 'name_in_use')
          throw new HttpError(409, 'name_in_use', (error as Error).message);
        throw error;
      }
    },
  );

  // Refused before the upgrade: a connection attempt past the rate, or beyond the pending connections
  // the coordinator holds for an address or in all, costs no TLS session kept open and no hello check.
  const admitConnection = async (request: FastifyRequest) => {
    const address = request.ip;
    const refuse = (status: number, code: string, message: string) => {
      refusals.record('connection-refused', null, { reason: code, remoteAddress: address });
      return new HttpError(status, code, message);
    };
    if (!helloLimiter.take(address))
      throw refuse(429, 'rate_limited', 'too many connection attempts; try again shortly');
    if (pendingTotal >= limits.pendingGlobal || (pending.get(address) ?? 0) >= limits.pendingPerAddress)
      throw refuse(503, 'busy', 'too many connections are authenticating; try again shortly');
  };

  app.post(
    '/v1/admin/invitations/cancel',
    { preHandler: requireAdmin },
    async (request): Promise<AdminInvitationCancellation> => {
      const parsed = z.object({ siteName: siteNameSchema }).safeParse(request.body);
      if (!parsed.success)
        throw new HttpError(400, 'bad_request', `malformed request: ${parsed.error.issues[0]?.message}`);
      const { siteName } = parsed.data;
      const cancelled = await store.cancelInvitations(siteName, new Date().toISOString());
      if (cancelled === 0)
        throw new HttpError(404, 'not_found', `no open invitation for a site named '${siteName}'`);
      return { siteName, cancelled };
    },
  );

  app.post<{ Params: { id: string } }>(
    '/v1/admin/sites/:id/revoke',
    { preHandler: requireAdmin },
    async (request): Promise<AdminRevocation> => {
      const siteId = request.params.id;
      const result = await store.revokeSite(siteId, new Date().toISOString());
      if (!result.ok) {
        if (result.reason === 'unknown') throw new HttpError(404, 'not_found', `no site '${siteId}'`);
        throw new HttpError(409, 'already_revoked', `site '${siteId}' is already revoked`);
      }
      sessions.close(siteId, CLOSE_CODES.unknownSite, 'this site was revoked by the coordinator');
      void announceRoster();
      return { siteId, name: result.site.name, revokedAt: result.site.revokedAt! };
    },
  );

  app.get('/v1/ws', { websocket: true, preValidation: admitConnection }, (socket, request) => {
    void handleSiteSocket(socket, request.ip);
  });

  async function handleSiteSocket(socket: WebSocket, remoteAddress: string): Promise<void> {
    const nonce = encodeKey(randomBytes(32));
    const send = (message: CoordinatorMessage) => socket.send(JSON.stringify(message));
    let siteId: string | undefined;
    let helloReceived = false;
    let authenticating = true;
    pending.set(remoteAddress, (pending.get(remoteAddress) ?? 0) + 1);
    pendingTotal++;
    const authenticated = () => {
      if (!authenticating) return;
      authenticating = false;
      pendingTotal--;
      const left = (pending.get(remoteAddress) ?? 1) - 1;
      if (left > 0) pending.set(remoteAddress, left);
      else pending.delete(remoteAddress);
    };
    const helloTimer = setTimeout(
      () => socket.close(CLOSE_CODES.authFailed, 'no hello within the time limit'),
      options.helloTimeoutMs ?? 10_000,
    );
    let alive = true;
    const heartbeat = setInterval(() => {
      if (!alive) return socket.terminate();
      alive = false;
      socket.ping();
    }, options.heartbeatMs ?? 15_000);
    socket.on('pong', () => (alive = true));
    socket.on('close', () => {
      authenticated();
      clearTimeout(helloTimer);
      clearInterval(heartbeat);
      if (siteId) {
        sessions.remove(siteId, socket);
        void auditInBackground('site-disconnected', siteId, { remoteAddress });
      }
    });
    socket.on('message', (data, isBinary) => {
      authenticate(data, isBinary).catch((error: Error) => {
        console.error(`coordinator: connection from ${remoteAddress} failed: ${error.message}`);
        socket.close(1011, 'internal error');
      });
    });
    const authenticate = async (data: RawData, isBinary: boolean) => {
      if (siteId) {
        // A session closed for abuse, or replaced, stops counting the moment it is dropped.
        if (sessions.get(siteId)?.socket !== socket) return;
        // After the handshake, only binary round frames; the round engine validates them.
        if (!isBinary) return socket.close(CLOSE_CODES.protocolError, 'expected binary round frames');
        const bytes = Array.isArray(data)
          ? Buffer.concat(data)
          : Buffer.isBuffer(data)
            ? data
            : Buffer.from(data);
        sessions.emit('frame', siteId, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
        return;
      }
      if (helloReceived)
        return socket.close(CLOSE_CODES.protocolError, 'message before the hello was answered');
      helloReceived = true;
      clearTimeout(helloTimer);
      let parsed;
      try {
        parsed = isBinary ? undefined : siteMessageSchema.safeParse(JSON.parse(data.toString()));
      } catch {
        parsed = undefined;
      }
      if (!parsed?.success || parsed.data.type !== 'hello')
        return socket.close(CLOSE_CODES.protocolError, 'expected a hello message');
      const hello = parsed.data;
      const site = await store.getSite(hello.siteId);
      if (!site || site.revokedAt) {
        // Keyed by site only when the site exists: made-up ids must not grow the refusal log's windows.
        refusals.record('site-refused', site?.id ?? null, {
          reason: site ? 'revoked' : 'unknown site',
          remoteAddress,
        });
        return socket.close(CLOSE_CODES.unknownSite, 'unknown or revoked site');
      }
      const cooldown = cooldowns.get(site.id);
      if (cooldown !== undefined && cooldown > Date.now()) {
        refusals.record('site-refused', site.id, { reason: 'cooling down after abuse', remoteAddress });
        return socket.close(CLOSE_CODES.protocolError, 'disconnected for invalid messages; try again later');
      }
      cooldowns.delete(site.id);
      const ok = await verifyDomain(
        decodeKey(site.identityPublicKey),
        hello.signature,
        WS_AUTH_DOMAIN,
        nonce,
        site.id,
        config.certificateFingerprint,
      );
      if (!ok) {
        refusals.record('site-auth-failed', site.id, { reason: 'bad signature', remoteAddress });
        return socket.close(CLOSE_CODES.authFailed, 'signature verification failed');
      }
      const since = hello.rosterVersion ?? 0;
      const catchUp = await store.rosterDelta(since);
      // The welcome (and the roster changes the site missed) go out before the session is registered:
      // registering lets round traffic (catch-up versions, round invitations) flow, and a site accepts
      // round frames only after its welcome, and judges a round's roster against the one it holds.
      send({ type: 'welcome', siteId: site.id, coordinatorName: config.name, rosterVersion: catchUp.to });
      if (catchUp.to !== since) send(catchUp);
      siteId = site.id;
      authenticated();
      sessions.add({ siteId, socket, connectedAt: new Date().toISOString(), remoteAddress });
      // A change announced while the catch-up was read went to the sessions registered then, not this one.
      if (announcedVersion > catchUp.to) send(await store.rosterDelta(catchUp.to));
      await store.audit('site-connected', siteId, { remoteAddress });
    };
    send({ type: 'challenge', nonce, serverTime: new Date().toISOString() });
  }

  const consoleDir = builtUiDir('console');
  if (existsSync(consoleDir)) {
    await app.register(fastifyStatic, { root: consoleDir, prefix: '/console/' });
    app.get('/', async (_request, reply: FastifyReply) => reply.redirect('/console/'));
  }
  if (rounds && options.createFederation) {
    registerFederationRoutes(app, {
      store,
      rounds,
      requireAdmin,
      createFederation: options.createFederation,
    });
  }
  return { app, sessions, rounds };
}
