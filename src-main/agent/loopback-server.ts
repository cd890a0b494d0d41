import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import fastifyStatic from '@fastify/static';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyInstance } from 'fastify';
import { builtUiDir } from '../../core/util/package-root.node.js';
import type { SiteEvent } from '../../core/site-api/contract.js';
import type { SiteAgent } from './site-agent.js';
import { handleSiteApiCall } from './site-api-handlers.js';

export interface LoopbackServer {
  /** The URL to open, with the per-launch token in the fragment (never sent to the server by browsers). */
  uiUrl: string;
  port: number;
  close(): Promise<void>;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * Headless mode's front door: the renderer and the SiteApi on 127.0.0.1 only. Every API call and the
 * event stream need the per-launch token (constant-time comparison); Host and Origin must be loopback, so
 * a web page the operator visits cannot reach the agent by DNS rebinding.
 */
export async function startLoopbackServer(agent: SiteAgent, port: number): Promise<LoopbackServer> {
  const token = randomBytes(32).toString('base64url');
  const tokenDigest = digest(token);
  const tokenMatches = (presented: string) => timingSafeEqual(digest(presented), tokenDigest);
  let allowedHosts = new Set<string>();

  // Closing drops every connection: a browser keeps sockets it opened ahead of time (no request sent
  // yet), which Node would otherwise hold open until its 60 s header timeout, delaying the agent's exit.
  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: 256 * 1024, forceCloseConnections: true });
  await app.register(fastifyWebsocket, { options: { maxPayload: 64 * 1024 } });

  app.addHook('onRequest', async (request, reply) => {
    if (!allowedHosts.has(request.headers.host ?? ''))
      return reply.status(421).send({ error: { code: 'bad_host', message: 'wrong Host' } });
    const origin = request.headers.origin;
    if (origin && !allowedHosts.has(origin.replace(/^http:\/\//, ''))) {
      return reply
        .status(403)
        .send({ error: { code: 'bad_origin', message: 'cross-origin requests are refused' } });
    }
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
  });

  app.post<{ Params: { channel: string }; Body: { input?: unknown } }>(
    '/api/:channel',
    async (request, reply) => {
      const header = request.headers.authorization ?? '';
      if (!tokenMatches(header.startsWith('Bearer ') ? header.slice(7) : '')) {
        return reply
          .status(401)
          .send({ error: { code: 'unauthorized', message: 'missing or wrong launch token' } });
      }
      const body = request.body;
      const result = await handleSiteApiCall(
        agent,
        request.params.channel,
        body && typeof body === 'object' ? body.input : undefined,
      );
      return result.ok ? { result: result.value } : reply.status(400).send({ error: result.error });
    },
  );

  // Browsers cannot set headers on a WebSocket: the first message must carry the token.
  app.get('/api/events', { websocket: true }, (socket) => {
    let authenticated = false;
    const deadline = setTimeout(() => socket.close(4401, 'no token'), 5_000);
    const forward = (event: SiteEvent) => socket.send(JSON.stringify(event));
    socket.on('message', async (data) => {
      if (authenticated) return;
      clearTimeout(deadline);
      let presented = '';
      try {
        presented = String((JSON.parse(data.toString()) as { token?: unknown }).token ?? '');
      } catch {
        // Falls through to the refusal below.
      }
      if (!tokenMatches(presented)) return socket.close(4401, 'wrong launch token');
      authenticated = true;
      agent.recentActivity().forEach(forward);
      forward({ type: 'status', status: await agent.status() });
      agent.on('event', forward);
    });
    socket.on('close', () => {
      clearTimeout(deadline);
      agent.off('event', forward);
    });
  });

  const rendererDir = builtUiDir('renderer');
  if (!existsSync(rendererDir))
    throw new Error(`the desktop UI is not built (${rendererDir} is missing); run 'npm run build'`);
  await app.register(fastifyStatic, { root: rendererDir, prefix: '/' });

  try {
    await app.listen({ port, host: '127.0.0.1' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE')
      throw new Error(`port ${port} on 127.0.0.1 is already in use (choose another with --port)`);
    throw error;
  }
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  allowedHosts = new Set([`127.0.0.1:${actualPort}`, `localhost:${actualPort}`]);
  return {
    uiUrl: `http://127.0.0.1:${actualPort}/#token=${token}`,
    port: actualPort,
    close: () => app.close(),
  };
}
