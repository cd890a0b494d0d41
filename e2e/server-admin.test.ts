import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cohortBin } from '../core/cli/cohort-process.node.js';
import { requestJson } from '../core/net/pinned-https.node.js';
import { CLOSE_CODES, coordinatorMessageSchema, type RosterDelta } from '../core/protocol/session.js';
import { closed } from './chaos/hostile-client.js';
import { connectByHand, coordinatorPin, enrollByHand, type HandDrivenSite } from '../bench/hand-site.js';
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

/** A one-time enrollment link from `cohort server invite`. */
function invite(dataDir: string, siteName: string): string {
  const result = run('server', 'invite', '--data-dir', dataDir, '--site', siteName, '--json');
  expect(result.status, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as { link: string }).link;
}

/** Calls the running coordinator's admin API with the data directory's admin token. */
function admin(dataDir: string, url: string, path: string, body: unknown = {}) {
  return requestJson(`${url}${path}`, {
    pin: coordinatorPin(dataDir),
    headers: { authorization: `Bearer ${readFileSync(join(dataDir, 'admin.token'), 'utf8').trim()}` },
    body,
  });
}

describe('revocation and cancellation', () => {
  it('a revoked site is disconnected and refused within one second, dropped from the others’ rosters, and cannot enroll again with its key', async () => {
    // The multi-machine recipe on two loopback addresses: the coordinator on 127.0.0.2, sites dialling it.
    const port = await freePort();
    const url = `https://127.0.0.2:${port}`;
    const dataDir = await initAt(url);
    const server = startProcess('server', 'start', '--data-dir', dataDir);
    await server.waitForEvent((e) => e.event === 'listening', 'the coordinator to listen');
    const pin = coordinatorPin(dataDir);
    const revoked = await enrollByHand(invite(dataDir, 'Former Clinic'), pin);
    const staying = await enrollByHand(invite(dataDir, 'Staying Clinic'), pin);
    const revokedSocket = await connectByHand(url, pin, revoked);
    const stayingSocket = await connectByHand(url, pin, staying);
    const deltas: RosterDelta[] = [];
    stayingSocket.on('message', (data, isBinary) => {
      if (isBinary) return;
      const message = coordinatorMessageSchema.parse(JSON.parse(data.toString()));
      if (message.type === 'roster-delta') deltas.push(message);
    });

    const started = Date.now();
    const disconnected = closed(revokedSocket);
    const response = await admin(dataDir, url, `/v1/admin/sites/${revoked.siteId}/revoke`);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.body).toMatchObject({ siteId: revoked.siteId, name: 'Former Clinic' });
    expect((await disconnected).code).toBe(CLOSE_CODES.unknownSite);
    const refusal = await connectByHand(url, pin, revoked).catch((error: Error & { code?: number }) => error);
    const elapsed = Date.now() - started;
    expect(refusal).toMatchObject({ code: CLOSE_CODES.unknownSite });
    console.log(`revoked site disconnected and its reconnection refused ${elapsed} ms after the revocation`);
    expect(elapsed).toBeLessThan(1000);
    // The other site is told only what changed: one removal, one version on.
    await expect
      .poll(() => deltas.at(-1)?.changes)
      .toEqual([
        { change: 'removed', site: expect.objectContaining({ id: revoked.siteId, name: 'Former Clinic' }) },
      ]);
    expect(deltas.at(-1)!.to).toBe(deltas.at(-1)!.from + 1);

    // Its key stays bound to the revoked site, even with a fresh invitation.
    const again = await enrollByHand(invite(dataDir, 'Former Clinic'), pin, revoked.identity).catch(
      (error: Error) => error,
    );
    expect(String(again)).toMatch(/key_revoked/);
    expectOneLineError(
      run('server', 'site', 'revoke', '--data-dir', dataDir, '--site', revoked.siteId),
      new RegExp(`site '${revoked.siteId}' is already revoked`),
    );
    const byCli = run('server', 'site', 'revoke', '--data-dir', dataDir, '--site', staying.siteId);
    expect(byCli.stdout).toMatch(new RegExp(`^Revoked 'Staying Clinic' \\(${staying.siteId}\\) at `));
    expect((await closed(stayingSocket)).code).toBe(CLOSE_CODES.unknownSite);
  });

  it('invite --cancel refuses the link from then on', async () => {
    const dataDir = await initAt(`https://127.0.0.1:${await freePort()}`);
    const server = startProcess('server', 'start', '--data-dir', dataDir);
    await server.waitForEvent((e) => e.event === 'listening', 'the coordinator to listen');
    // A name with NUL (only the API can carry one: a command line cannot) is refused in one sentence.
    const url = (JSON.parse(readFileSync(join(dataDir, 'listening.json'), 'utf8')) as { url: string }).url;
    const nul = await admin(dataDir, url, '/v1/admin/invitations', { siteName: 'Evil\u0000Clinic' });
    expect(nul.status).toBe(400);
    expect(nul.body).toMatchObject({
      error: { message: 'malformed invitation request: a site name must not contain control characters' },
    });
    const link = invite(dataDir, 'Undecided Clinic');
    const cancelled = run(
      'server',
      'invite',
      '--data-dir',
      dataDir,
      '--site',
      'Undecided Clinic',
      '--cancel',
    );
    expect(cancelled.stdout.trim()).toBe("Cancelled 1 invitation(s) for 'Undecided Clinic'.");
    await expect(enrollByHand(link, coordinatorPin(dataDir))).rejects.toThrow(/token_cancelled/);
    expectOneLineError(
      run('server', 'invite', '--data-dir', dataDir, '--site', 'Undecided Clinic', '--cancel'),
      /no open invitation for a site named 'Undecided Clinic'/,
    );
  });

  it('rounds --cancel aborts the running round and stops its batch', async () => {
    const port = await freePort();
    const url = `https://127.0.0.1:${port}`;
    const dataDir = await initAt(url);
    const server = startProcess('server', 'start', '--data-dir', dataDir);
    await server.waitForEvent((e) => e.event === 'listening', 'the coordinator to listen');
    const pin = coordinatorPin(dataDir);
    const sites: HandDrivenSite[] = [];
    for (const name of ['Silent A', 'Silent B']) sites.push(await enrollByHand(invite(dataDir, name), pin));
    // Connected but silent: the round waits in its join stage (60 s by default) until cancelled.
    for (const site of sites) await connectByHand(url, pin, site);
    const created = run(
      'server',
      'federation',
      'create',
      '--data-dir',
      dataDir,
      '--id',
      'f',
      '--answers',
      'synth',
    );
    expect(created.status, created.stderr).toBe(0);
    const batch = startProcess(
      'server',
      'rounds',
      '--data-dir',
      dataDir,
      '--federation',
      'f',
      '--count',
      '3',
    );
    await server.waitForEvent((e) => e.event === 'round-stage' && e.stage === 'join', 'the join stage');
    const cancel = run('server', 'rounds', '--data-dir', dataDir, '--cancel');
    expect(cancel.stdout.trim()).toBe('Cancelled round 1 of f. Stopped 1 batch(es) of rounds.');
    const finished = await server.waitForEvent((e) => e.event === 'round-finished', 'the round to end');
    expect(finished.outcome).toMatchObject({
      round: 1,
      status: 'aborted',
      reason: 'cancelled by the operator',
    });
    await batch.waitForEvent((e) => e.type === 'rounds-stopped', 'the batch to stop');
    if (batch.child.exitCode === null) await new Promise((resolve) => batch.child.once('exit', resolve));
    expect(batch.child.exitCode).toBe(1);
    const none = run('server', 'rounds', '--data-dir', dataDir, '--cancel');
    expect(none.stdout.trim()).toBe('No round was running.');
  });
});
