import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CohortProcess, cohort } from '../../core/cli/cohort-process.node.js';
import { cleanupTempDirs, freePort, tempDir } from './temp.js';

/** Every `cohort … --json` process a test started, stopped (and temp dirs removed) by `stopProcesses`. */
const running: CohortProcess[] = [];

export function startProcess(...args: string[]): CohortProcess {
  const process = new CohortProcess(args);
  running.push(process);
  return process;
}

export async function stopProcesses(): Promise<void> {
  await Promise.all(running.splice(0).map((process) => process.stop()));
  cleanupTempDirs();
}

export interface TestCoordinator {
  dataDir: string;
  port: number;
  url: string;
  adminToken: string;
}

/** `cohort server init` in a fresh directory, on a port that was free a moment ago (not started yet). */
export async function initCoordinator(name = 'Test consortium'): Promise<TestCoordinator> {
  const port = await freePort();
  const dataDir = join(tempDir(), 'coordinator');
  const url = `https://127.0.0.1:${port}`;
  cohort('server', 'init', '--data-dir', dataDir, '--name', name, '--public-url', url);
  return { dataDir, port, url, adminToken: readFileSync(join(dataDir, 'admin.token'), 'utf8').trim() };
}

/** `cohort server start`, resolved once it listens. */
export async function startCoordinator(coordinator: TestCoordinator): Promise<CohortProcess> {
  const server = startProcess('server', 'start', '--data-dir', coordinator.dataDir);
  await server.waitForEvent((e) => e.event === 'listening', 'the coordinator to listen');
  return server;
}

/** A one-time enrollment link from `cohort server invite`. */
export function inviteLink(coordinator: TestCoordinator, siteName: string): string {
  return (
    JSON.parse(
      cohort('server', 'invite', '--data-dir', coordinator.dataDir, '--site', siteName, '--json'),
    ) as { link: string }
  ).link;
}
