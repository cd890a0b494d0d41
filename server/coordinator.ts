import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { readIdentityKeyFile } from '../core/crypto/key-file.node.js';
import { CLOSE_CODES } from '../core/protocol/session.js';
import { CliError } from '../core/cli/errors.js';
import { loadCoordinatorConfig, type CoordinatorConfig } from './data-dir.js';
import { buildCoordinatorApp } from './http/coordinator-app.js';
import type { SiteSessions } from './http/site-sessions.js';
import { openCoordinatorStoreWorker } from './store/open-store.js';

export interface RunningCoordinator {
  url: string;
  port: number;
  config: CoordinatorConfig;
  sessions: SiteSessions;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** Starts a coordinator from its data directory: store worker, HTTPS + WebSocket server. */
export async function startCoordinator(options: {
  dataDir: string;
  port: number;
  host?: string;
  heartbeatMs?: number;
}): Promise<RunningCoordinator> {
  const { paths, config } = loadCoordinatorConfig(options.dataDir);
  const identity = readIdentityKeyFile(paths.identityKey);
  const store = await openCoordinatorStoreWorker(paths.database);
  const { app, sessions } = await buildCoordinatorApp({
    config,
    store: store.remote,
    identity,
    tls: { key: readFileSync(paths.tlsKey, 'utf8'), cert: readFileSync(paths.tlsCertificate, 'utf8') },
    adminToken: readFileSync(paths.adminToken, 'utf8'),
    ...(options.heartbeatMs ? { heartbeatMs: options.heartbeatMs } : {}),
  });
  const host = options.host ?? '127.0.0.1';
  try {
    await app.listen({ port: options.port, host });
  } catch (error) {
    await store.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
      throw new CliError(`port ${options.port} on ${host} is already in use (choose another with --port)`);
    if (code === 'EACCES')
      throw new CliError(`not allowed to listen on port ${options.port} (ports below 1024 need privileges)`);
    if (code === 'EADDRNOTAVAIL')
      throw new CliError(`cannot listen on ${host}: no such address on this machine`);
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  await store.remote.audit('coordinator-started', null, { port });
  return {
    url: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    config,
    sessions,
    app,
    async close() {
      sessions.closeAll(CLOSE_CODES.shuttingDown, 'coordinator shutting down');
      await app.close();
      await store.close();
    },
  };
}
