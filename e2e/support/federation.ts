import { join } from 'node:path';
import type { SiteEvent, SiteStatus } from '../../core/site-api/contract.js';
import { SiteAgent } from '../../src-main/agent/site-agent.js';
import { startCoordinator, type RunningCoordinator } from '../../server/coordinator.js';
import { initCoordinator } from '../../server/init.js';
import { createInvitation } from '../../server/invite.js';
import { coordinatorPaths, loadCoordinatorConfig } from '../../server/data-dir.js';
import { CoordinatorStore } from '../../server/store/coordinator-store.js';
import { freePort, tempDir } from './temp.js';

/** An initialised coordinator data directory on a known free port, not yet started. */
export async function makeCoordinator(name = 'Test consortium'): Promise<{ dataDir: string; port: number }> {
  const port = await freePort();
  const dataDir = join(tempDir('cohort-coordinator-'), 'data');
  await initCoordinator({ dataDir, name, publicUrl: `https://127.0.0.1:${port}` });
  return { dataDir, port };
}

export function start(coordinator: { dataDir: string; port: number }): Promise<RunningCoordinator> {
  return startCoordinator({ dataDir: coordinator.dataDir, port: coordinator.port });
}

/** Creates an invitation directly in the coordinator's store (as `cohort server invite` does). */
export async function invite(
  dataDir: string,
  siteName: string,
  ttlMs = 3_600_000,
  now = new Date(),
): Promise<string> {
  const { config } = loadCoordinatorConfig(dataDir);
  const store = new CoordinatorStore(coordinatorPaths(dataDir).database);
  try {
    return (await createInvitation(store, config, siteName, ttlMs, now)).link;
  } finally {
    store.close();
  }
}

export async function openSite(dataDir = join(tempDir('cohort-site-'), 'data')): Promise<SiteAgent> {
  return SiteAgent.open({ dataDir, reconnect: { initialMs: 100, maxMs: 500 } });
}

/** Waits until the agent reports a connection state (subscribing before it checks the current one). */
export function waitForConnection(
  agent: SiteAgent,
  state: SiteStatus['connection']['state'],
  timeoutMs = 20_000,
): Promise<SiteStatus> {
  return new Promise((resolve, reject) => {
    const finish = (status: SiteStatus) => {
      clearTimeout(timer);
      agent.off('event', onEvent);
      resolve(status);
    };
    const onEvent = (event: SiteEvent) => {
      if (event.type === 'status' && event.status.connection.state === state) finish(event.status);
    };
    const timer = setTimeout(() => {
      agent.off('event', onEvent);
      reject(new Error(`timed out waiting for site connection state '${state}'`));
    }, timeoutMs);
    agent.on('event', onEvent);
    void agent.status().then((status) => {
      if (status.connection.state === state) finish(status);
    });
  });
}
