import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { readIdentityKeyFile } from '../core/crypto/key-file.node.js';
import { CLOSE_CODES } from '../core/protocol/session.js';
import { CliError } from '../core/cli/errors.js';
import { DataDirLockedError, acquireDataDirLock } from '../core/util/data-dir-lock.node.js';
import {
  loadCoordinatorConfig,
  removeListeningFile,
  writeListeningFile,
  type CoordinatorConfig,
} from './data-dir.js';
import { buildCoordinatorApp } from './http/coordinator-app.js';
import { defaultListenHost } from './listen-address.js';
import type { SiteSessions } from './http/site-sessions.js';
import type { CoordinatorLimits } from './http/limits.js';
import { openCoordinatorStoreWorker } from './store/open-store.js';
import { RoundEngine, type RoundEvent } from './rounds/round-engine.js';
import { defaultFederationConfig, initialSharedVector } from './federations.js';
import { normalizeAnswerSet } from '../core/ml/adapter.js';
import { defaultBaseModelDir, loadBaseModel } from '../core/ml/base-model.node.js';
import type { BaseModel } from '../core/ml/engine.node.js';
import type { Remote } from '../core/util/worker-rpc.node.js';
import type { CoordinatorStore } from './store/coordinator-store.js';
import { createWorkerMaskEngine } from '../core/secagg/mask-engine.node.js';

export interface RunningCoordinator {
  url: string;
  port: number;
  config: CoordinatorConfig;
  sessions: SiteSessions;
  rounds: RoundEngine;
  store: Remote<CoordinatorStore>;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** Starts a coordinator from its data directory: store worker, HTTPS + WebSocket server. */
export async function startCoordinator(options: {
  dataDir: string;
  port: number;
  /** Where to listen; by default where the public URL points (`defaultListenHost`). */
  host?: string;
  heartbeatMs?: number;
  baseModelDir?: string;
  limits?: Partial<CoordinatorLimits>;
}): Promise<RunningCoordinator> {
  const { paths, config } = loadCoordinatorConfig(options.dataDir);
  const identity = readIdentityKeyFile(paths.identityKey);
  let releaseLock: () => void;
  try {
    releaseLock = acquireDataDirLock(
      paths.lock,
      (pid) => `another coordinator is already running on ${options.dataDir} (pid ${pid}); stop it first`,
    );
  } catch (error) {
    if (error instanceof DataDirLockedError) throw new CliError(error.message);
    throw error;
  }
  let store;
  try {
    store = await openCoordinatorStoreWorker(paths.database);
  } catch (error) {
    releaseLock();
    throw error;
  }
  const interrupted = await store.remote.abortInterruptedRounds(new Date().toISOString());
  for (const { federationId, round } of interrupted) {
    console.error(
      `coordinator: round ${round} of ${federationId} was interrupted by a restart and is closed as aborted`,
    );
  }
  const maskEngine = createWorkerMaskEngine();
  let base: Promise<BaseModel> | undefined;
  const loadBase = () => (base ??= loadBaseModel(options.baseModelDir ?? defaultBaseModelDir()));
  const { app, sessions, rounds } = await buildCoordinatorApp({
    config,
    store: store.remote,
    identity,
    tls: { key: readFileSync(paths.tlsKey, 'utf8'), cert: readFileSync(paths.tlsCertificate, 'utf8') },
    adminToken: readFileSync(paths.adminToken, 'utf8'),
    ...(options.heartbeatMs ? { heartbeatMs: options.heartbeatMs } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
    rounds: (siteSessions) => new RoundEngine(store.remote, siteSessions, identity, maskEngine),
    createFederation: async ({ name, answers, overrides }) => {
      const model = await loadBase();
      const config = defaultFederationConfig(model, name, normalizeAnswerSet(answers), overrides);
      return { config, initialShared: initialSharedVector(model, config) };
    },
  });
  const host = options.host ?? (await defaultListenHost(config.publicUrl)).host;
  try {
    await app.listen({ port: options.port, host });
  } catch (error) {
    await store.close();
    releaseLock();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
      throw new CliError(`port ${options.port} on ${host} is already in use (choose another with --port)`);
    if (code === 'EACCES')
      throw new CliError(`not allowed to listen on port ${options.port} (ports below 1024 need privileges)`);
    if (code === 'EADDRNOTAVAIL')
      throw new CliError(
        `cannot listen on ${host}: no such address on this machine` +
          (options.host
            ? ''
            : ` (it is the public URL's; choose another with --host, 0.0.0.0 for every address)`),
      );
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  await store.remote.audit('coordinator-started', null, { port });
  const inUrl = (address: string) => (address.includes(':') ? `[${address}]` : address);
  // Admin commands on this machine reach a wildcard address through loopback.
  const adminHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  writeListeningFile(paths, `https://${inUrl(adminHost)}:${port}`);
  return {
    url: `https://${inUrl(host)}:${port}`,
    port,
    config,
    sessions,
    rounds: rounds!,
    store: store.remote,
    app,
    async close() {
      const roundEnded = rounds!.runningRound ? roundFinished(rounds!, 10_000) : undefined;
      rounds!.stop('coordinator shut down');
      sessions.closeAll(CLOSE_CODES.shuttingDown, 'coordinator shutting down');
      // The round in flight aborts as its sites go away; its record must reach the store before the store
      // closes (a round left running is only closed at the next start, as interrupted by a restart).
      await roundEnded;
      removeListeningFile(paths);
      await app.close();
      await maskEngine.close();
      await store.close();
      releaseLock();
    },
  };
}

/** Resolves when the running round has finished, or after `timeoutMs` (a site slow to close its socket). */
function roundFinished(rounds: RoundEngine, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      rounds.off('event', onEvent);
      resolve();
    };
    const onEvent = (event: RoundEvent) => {
      if (event.type === 'round-finished') done();
    };
    const timer = setTimeout(done, timeoutMs);
    rounds.on('event', onEvent);
  });
}
