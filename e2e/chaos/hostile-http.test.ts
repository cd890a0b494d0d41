import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:https';
import { connect, type ConnectionOptions } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { initCoordinator, inviteLink, startCoordinator, stopProcesses } from '../support/processes.js';
import { connectByHand, coordinatorPin, enrollByHand } from '../../bench/hand-site.js';
import { recordChaos } from './report.js';

// Hostile HTTP and WebSocket traffic from one loopback address (127.0.0.5) at a coordinator process;
// afterwards a well-behaved site on 127.0.0.1 must still enroll and connect.

afterEach(stopProcesses);

const LONG = process.env.COHORT_CHAOS_LONG === '1';
const ATTACKER = '127.0.0.5';

function send(
  url: string,
  agent: Agent,
  options: { method?: string; path: string; body?: string | Buffer; headers?: Record<string, string> },
): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      `${url}${options.path}`,
      {
        method: options.method ?? 'POST',
        agent,
        headers: { 'content-type': 'application/json', ...options.headers },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(options.body);
  });
}

/** `bytes` with `flips` random bytes replaced. */
function mutate(bytes: Buffer, flips: number): Buffer {
  const copy = Buffer.from(bytes);
  for (let i = 0; i < flips; i++)
    copy[Math.floor(Math.random() * copy.length)] = Math.floor(Math.random() * 256);
  return copy;
}

describe('hostile HTTP and WebSocket traffic', () => {
  it('oversized, malformed and mutated requests and pre-hello floods are refused; nothing crashes, nothing is accepted', async () => {
    const coordinator = await initCoordinator();
    const server = await startCoordinator(coordinator);
    const agent = new Agent({
      keepAlive: true,
      maxSockets: 8,
      rejectUnauthorized: false,
      localAddress: ATTACKER,
    });
    const { url } = coordinator;
    let messages = 0;
    const statuses: number[] = [];
    const hostile = async (options: Parameters<typeof send>[2]) => {
      messages++;
      const status = await send(url, agent, options);
      statuses.push(status);
      return status;
    };

    expect(await hostile({ path: '/v1/enroll', body: `{"token":"${'a'.repeat(2 * 1024 * 1024)}"}` })).toBe(
      413,
    );
    expect(await hostile({ path: '/v1/enroll', body: '{"token": ' })).toBe(400);
    expect(await hostile({ path: '/v1/enroll', body: '['.repeat(200_000) })).toBe(400);
    // A body that is not JSON: refused as an unsupported type or a malformed request.
    expect([400, 415]).toContain(
      await hostile({ path: '/v1/enroll', body: 'token=x', headers: { 'content-type': 'text/plain' } }),
    );
    for (const [method, path] of [
      ['GET', '/v1/admin/status'],
      ['GET', '/v1/admin/federations'],
      ['POST', '/v1/admin/rounds/cancel'],
      ['POST', '/v1/admin/sites/any/revoke'],
    ] as const) {
      const body = method === 'POST' ? '{}' : undefined;
      const headers = { authorization: 'Bearer guess' };
      expect(await hostile({ method, path, ...(body ? { body } : {}), headers })).toBe(401);
    }
    expect(
      await hostile({ method: 'GET', path: '/v1/info', headers: { 'x-big': 'h'.repeat(64 * 1024) } }),
    ).toBe(431);

    // Mutations of a well-formed enrollment request: each is refused (4xx), none is a server error.
    const valid = Buffer.from(
      JSON.stringify({
        token: randomBytes(32).toString('base64url'),
        publicKey: randomBytes(32).toString('base64url'),
        signature: randomBytes(64).toString('base64url'),
      }),
    );
    for (let i = 0; i < (LONG ? 5_000 : 300); i++)
      await hostile({ path: '/v1/enroll', body: mutate(valid, 1 + (i % 8)) });

    // Garbage instead of TLS, and garbage inside TLS instead of HTTP.
    const { hostname, port } = new URL(url);
    for (let i = 0; i < 20; i++) {
      messages++;
      await new Promise<void>((resolve) => {
        const socket = connect({
          host: hostname,
          port: Number(port),
          rejectUnauthorized: false,
          localAddress: ATTACKER,
          // localAddress goes through to net.connect; tls' typings leave it out.
        } as ConnectionOptions);
        socket.on('secureConnect', () => socket.end(randomBytes(4096)));
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
        // The coordinator answers garbage with a 400 but may leave closing to the peer: one second each.
        setTimeout(() => socket.destroy(), 1_000);
      });
    }

    // Pre-hello WebSocket floods: text, binary and oversized first messages; past the per-address rate
    // and pending limits the upgrade itself is refused.
    const outcomes = await Promise.all(
      Array.from({ length: LONG ? 1_000 : 150 }, (_, i) => {
        messages++;
        return new Promise<string>((resolve) => {
          const socket = new WebSocket(`${url.replace('https:', 'wss:')}/v1/ws`, {
            rejectUnauthorized: false,
            localAddress: ATTACKER,
          });
          socket.on('open', () => {
            if (i % 3 === 0) socket.send(randomBytes(64));
            else if (i % 3 === 1)
              socket.send(JSON.stringify({ type: 'hello', siteId: 'x'.repeat(60), signature: 'y' }));
            else socket.send(Buffer.alloc(16 * 1024));
          });
          socket.on('unexpected-response', (_request, response) => {
            resolve(`http ${response.statusCode}`);
            socket.terminate();
          });
          socket.on('close', (code) => resolve(`closed ${code}`));
          socket.on('error', () => resolve('error'));
        });
      }),
    );
    const tally = outcomes.reduce<Record<string, number>>(
      (all, o) => ({ ...all, [o]: (all[o] ?? 0) + 1 }),
      {},
    );
    console.log(`pre-hello floods: ${JSON.stringify(tally)}`);
    expect(
      outcomes.filter((o) => !/^(http 429|http 503|closed 4400|closed 1009|closed 4403)$/.test(o)),
    ).toEqual([]);
    agent.destroy();

    const accepted = statuses.filter((s) => s >= 200 && s < 300).length;
    const serverErrors = statuses.filter((s) => s >= 500).length;
    expect(accepted).toBe(0);
    expect(serverErrors).toBe(0);
    expect(server.child.exitCode).toBeNull();

    // A well-behaved site from another address is unaffected.
    const pin = coordinatorPin(coordinator.dataDir);
    const site = await enrollByHand(inviteLink(coordinator, 'Patient Clinic'), pin);
    const socket = await connectByHand(url, pin, site);
    socket.close();
    recordChaos({
      faultsInjected: 20,
      messagesFuzzed: messages,
      crashes: server.child.exitCode === null ? 0 : 1,
      invalidMessagesAccepted: accepted,
    });
  });
});
