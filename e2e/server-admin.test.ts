import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cohortBin } from '../core/cli/cohort-process.node.js';
import { startProcess, stopProcesses } from './support/processes.js';
import { freePort, tempDir } from './support/temp.js';

afterEach(stopProcesses);

const run = (...args: string[]) =>
  spawnSync(process.execPath, [cohortBin, ...args], { encoding: 'utf8', timeout: 60_000 });

/** Bad input must give exactly one line on stderr, a non-zero exit, and no stack trace. */
function expectOneLineError(result: ReturnType<typeof run>, pattern: RegExp) {
  expect(result.status, result.stderr).not.toBe(0);
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^cohort: /);
  expect(lines[0]).toMatch(pattern);
}

async function initAt(publicUrl: string): Promise<string> {
  const dataDir = join(tempDir(), 'coordinator');
  expect(run('server', 'init', '--data-dir', dataDir, '--public-url', publicUrl).status).toBe(0);
  return dataDir;
}

/** Whether a TCP connection to host:port is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('one coordinator per data directory', () => {
  it('a second start says another coordinator is running, and leaves the first one’s listening file', async () => {
    const port = await freePort();
    const dataDir = await initAt(`https://127.0.0.1:${port}`);
    const first = startProcess('server', 'start', '--data-dir', dataDir);
    await first.waitForEvent((e) => e.event === 'listening', 'the first coordinator to listen');
    const listening = readFileSync(join(dataDir, 'listening.json'), 'utf8');
    // Following the old advice (another --port) must not start a second coordinator on the same store.
    expectOneLineError(
      run('server', 'start', '--data-dir', dataDir, '--port', String(await freePort())),
      new RegExp(
        `another coordinator is already running on ${dataDir} \\(pid ${first.child.pid}\\); stop it first`,
      ),
    );
    expect(readFileSync(join(dataDir, 'listening.json'), 'utf8')).toBe(listening);
    expect(readFileSync(join(dataDir, 'coordinator.lock'), 'utf8')).toBe(`${first.child.pid}\n`);
    await first.stop();
    expect(existsSync(join(dataDir, 'coordinator.lock'))).toBe(false);
    expect(existsSync(join(dataDir, 'listening.json'))).toBe(false);
  });
});

describe('a real address', () => {
  it('listens where the public URL points, and warns when --host disagrees', async () => {
    const port = await freePort();
    const dataDir = await initAt(`https://127.0.0.2:${port}`);
    const server = startProcess('server', 'start', '--data-dir', dataDir);
    const listening = await server.waitForEvent((e) => e.event === 'listening', 'the coordinator to listen');
    expect(listening.url).toBe(`https://127.0.0.2:${port}`);
    expect(await accepts('127.0.0.2', port)).toBe(true);
    expect(await accepts('127.0.0.1', port)).toBe(false);
    // The admin commands reach it where it listens.
    const status = run('server', 'status', '--data-dir', dataDir);
    expect(status.status, status.stderr).toBe(0);
    await server.stop();
    expect(server.stderr).toBe('');

    const elsewhere = startProcess('server', 'start', '--data-dir', dataDir, '--host', '127.0.0.3');
    await elsewhere.waitForEvent((e) => e.event === 'listening', 'the coordinator to listen on --host');
    expect(await accepts('127.0.0.3', port)).toBe(true);
    expect(elsewhere.stderr.trim()).toBe(
      `cohort: warning: listening on 127.0.0.3, but the public URL https://127.0.0.2:${port} points at 127.0.0.2: sites and invitation links use the public URL, and will not reach this address`,
    );
  });

  it('documents --host in its help', () => {
    const help = run('server', 'start', '--help');
    expect(help.stdout).toMatch(/--host ADDRESS +listen on this address instead/);
  });
});
