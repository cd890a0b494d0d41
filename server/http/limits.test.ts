import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { RateLimiter, RefusalLog, TokenBucket } from './limits.js';
import { setFrameLimit } from './site-sessions.js';

describe('TokenBucket', () => {
  it('allows a burst, then the refill rate', () => {
    const bucket = new TokenBucket({ perSecond: 2, burst: 3 }, 0);
    expect([1, 2, 3, 4].map(() => bucket.take(0))).toEqual([true, true, true, false]);
    expect(bucket.take(499)).toBe(false);
    expect(bucket.take(500)).toBe(true);
    expect(bucket.full(2_000)).toBe(true);
  });
});

describe('RateLimiter', () => {
  it('limits each key, and all keys together', () => {
    const limiter = new RateLimiter({ perSecond: 0, burst: 2 }, { perSecond: 0, burst: 3 });
    expect([limiter.take('a', 0), limiter.take('a', 0), limiter.take('a', 0)]).toEqual([true, true, false]);
    expect([limiter.take('b', 0), limiter.take('c', 0)]).toEqual([true, false]);
  });
});

describe('RefusalLog', () => {
  it('writes the first refusal of a window at once and the rest as one summary', async () => {
    const rows: [string, string | null, Record<string, unknown>][] = [];
    const log = new RefusalLog(async (...row) => void rows.push(row), 60_000);
    for (let i = 0; i < 1000; i++)
      log.record('enrollment-refused', null, {
        reason: i % 2 ? 'token_unknown' : 'bad_signature',
        remoteAddress: `10.0.${i % 50}.1`,
      });
    log.record('site-auth-failed', 'site-a', { reason: 'bad signature', remoteAddress: '10.0.0.9' });
    expect(rows.map(([kind]) => kind)).toEqual(['enrollment-refused', 'site-auth-failed']);
    await log.close();
    expect(rows).toHaveLength(3);
    const [kind, siteId, detail] = rows[2]!;
    expect([kind, siteId]).toEqual(['refusals-summary', null]);
    expect(detail).toMatchObject({ of: 'enrollment-refused', count: 999 });
    expect(detail.reasons).toEqual({ token_unknown: 500, bad_signature: 499 });
    // Distinct addresses are counted up to a ceiling, the rest together.
    expect(Object.keys(detail.addresses as object)).toHaveLength(21);
  });
});

describe('setFrameLimit', () => {
  it("changes the largest frame one connection accepts (ws's receiver field still exists)", async () => {
    const http = createServer();
    const server = new WebSocketServer({ server: http, maxPayload: 16 });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const port = (http.address() as { port: number }).port;
    const received: number[] = [];
    server.on('connection', (socket) => {
      socket.on('error', () => undefined); // the oversized frame, expected
      socket.on('message', (data: Buffer) => {
        received.push(data.length);
        if (data.length === 8) setFrameLimit(socket, 1024);
      });
    });
    const client = new WebSocket(`ws://127.0.0.1:${port}`);
    await new Promise((resolve) => client.once('open', resolve));
    client.send(Buffer.alloc(8));
    await new Promise((resolve) => setTimeout(resolve, 100));
    client.send(Buffer.alloc(512));
    client.send(Buffer.alloc(2048));
    const code = await new Promise((resolve) => client.once('close', resolve));
    expect(received).toEqual([8, 512]);
    expect(code).toBe(1009);
    server.close();
    http.close();
  });
});
