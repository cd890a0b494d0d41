import https from 'node:https';
import { syncBuiltinESMExports } from 'node:module';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { RunningCoordinator } from '../../server/coordinator.js';
import type { SiteAgent } from '../../src-main/agent/site-agent.js';
import { createFederation, federationOf } from '../support/federation-rounds.js';
import { cleanupTempDirs } from '../support/temp.js';
import { recordChaos } from './report.js';

// Everything the sites send, from the enrollment request to the last frame of the second round, captured
// before TLS (and before WebSocket masking) and searched for what must never leave a site.

const running: { server: RunningCoordinator; sites: SiteAgent[] }[] = [];
const restores: (() => void)[] = [];
afterEach(async () => {
  for (const restore of restores.splice(0)) restore();
  for (const { server, sites } of running.splice(0)) {
    await Promise.all(sites.map((site) => site.close()));
    await server.close();
  }
  cleanupTempDirs();
});

/** Records every message a WebSocket client sends and every HTTPS request body, in this process. */
function captureSiteTraffic(): Buffer[] {
  const captured: Buffer[] = [];
  const bytesOf = (data: unknown) =>
    Buffer.isBuffer(data)
      ? Buffer.from(data)
      : typeof data === 'string'
        ? Buffer.from(data)
        : ArrayBuffer.isView(data)
          ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
          : Buffer.from(data as ArrayBuffer);
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (
    this: WebSocket & { _isServer: boolean },
    data: unknown,
    ...rest: never[]
  ) {
    // The coordinator's sockets are in this process too: only the clients (the sites) are captured.
    if (!this._isServer) captured.push(bytesOf(data));
    return (send as (...args: unknown[]) => void).call(this, data, ...rest);
  } as typeof send;
  const request = https.request;
  https.request = ((...args: Parameters<typeof request>) => {
    const req = request(...args);
    const write = req.write.bind(req);
    const end = req.end.bind(req);
    req.write = ((chunk: unknown, ...rest: never[]) => {
      if (chunk !== undefined && typeof chunk !== 'function') captured.push(bytesOf(chunk));
      return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof req.write;
    req.end = ((chunk?: unknown, ...rest: never[]) => {
      if (chunk !== undefined && typeof chunk !== 'function') captured.push(bytesOf(chunk));
      return (end as (...a: unknown[]) => typeof req)(chunk, ...rest);
    }) as typeof req.end;
    return req;
  }) as typeof request;
  syncBuiltinESMExports();
  restores.push(() => {
    WebSocket.prototype.send = send;
    https.request = request;
    syncBuiltinESMExports();
  });
  return captured;
}

/** What a site holds that must never be sent: long enough not to occur by chance in random bytes. */
function secretsOf(database: string): { kind: string; bytes: Buffer }[] {
  const db = new Database(database, { readonly: true });
  try {
    const secrets: { kind: string; bytes: Buffer }[] = [];
    const text = (kind: string, sql: string) => {
      for (const { value } of db.prepare(sql).all() as { value: string | null }[])
        if (value && value.length >= 8) secrets.push({ kind, bytes: Buffer.from(value) });
    };
    text('question', 'SELECT DISTINCT question AS value FROM questions');
    text('answer', 'SELECT DISTINCT answer AS value FROM questions');
    text('file name', 'SELECT DISTINCT source_name AS value FROM images');
    text('file name', 'SELECT DISTINCT source_key AS value FROM questions');
    // Pixel rows: 32-byte runs with many distinct values (a flat run would match any zero padding).
    for (const { pixels, size } of db.prepare('SELECT pixels, size FROM images').all() as {
      pixels: Buffer;
      size: number;
    }[]) {
      for (let row = 0; row < size; row += 8) {
        const run = pixels.subarray(row * size + size / 2 - 16, row * size + size / 2 + 16);
        if (new Set(run).size >= 12) secrets.push({ kind: 'pixel row', bytes: Buffer.from(run) });
      }
    }
    return secrets;
  } finally {
    db.close();
  }
}

describe('capture', () => {
  it('nothing a site sends during enrollment and two secure rounds holds its questions, answers, file names or pixels; its audit log counts every byte', async () => {
    const captured = captureSiteTraffic();
    const federation = await federationOf(2, 40);
    running.push(federation);
    await createFederation(federation, 'captured');
    for (let round = 1; round <= 2; round++) {
      const outcome = await federation.server.rounds.runRound('captured');
      expect(outcome.status, outcome.reason ?? '').toBe('completed');
    }
    const all = Buffer.concat(captured);
    const secrets = federation.sites.flatMap((site) => secretsOf(site.paths.database));
    expect(secrets.filter((s) => s.kind === 'question').length).toBeGreaterThan(10);
    expect(secrets.filter((s) => s.kind === 'pixel row').length).toBeGreaterThan(10);
    const hits = secrets.filter((secret) => all.includes(secret.bytes));
    console.log(
      `captured ${captured.length} messages, ${all.length} bytes; searched ${secrets.length} secrets; ${hits.length} hits`,
    );
    expect(hits.map((h) => `${h.kind}: ${h.bytes.toString('utf8').slice(0, 40)}`)).toEqual([]);

    // The audit logs account for exactly the bytes sent, the enrollment request included.
    await expect
      .poll(async () => {
        const totals = await Promise.all(
          federation.sites.map(async (site) => (await site.storeRemote.auditLog(0, 1)).totalBytes),
        );
        return totals.reduce((a, b) => a + b, 0);
      })
      .toBe(all.length);
    const kinds = new Set(
      (await federation.sites[0]!.storeRemote.auditLog(0, 10_000)).entries.map((entry) => entry.kind),
    );
    expect(kinds).toContain('enroll');
    recordChaos({ captureHits: hits.length, messagesFuzzed: 0 });
  });
});
