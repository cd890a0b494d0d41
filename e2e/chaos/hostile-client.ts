import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:https';
import { connect } from 'node:tls';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import { generateIdentity } from '../../core/crypto/identity.js';
import { toBase64 } from '../../core/crypto/sodium.js';
import { coordinatorPaths } from '../../server/data-dir.js';

/**
 * What the chaos tests use to misbehave towards a coordinator on loopback: raw frames no client library
 * would send and floods of requests (sites driven by hand are in bench/hand-site.ts).
 */

/** Rows in the coordinator's audit log (read beside the running coordinator: SQLite in WAL mode). */
export function auditRows(dataDir: string, kind?: string): number {
  const db = new Database(coordinatorPaths(dataDir).database, { readonly: true });
  try {
    const row = (
      kind
        ? db.prepare('SELECT COUNT(*) AS n FROM audit_log WHERE kind = ?').get(kind)
        : db.prepare('SELECT COUNT(*) AS n FROM audit_log').get()
    ) as { n: number };
    return row.n;
  } finally {
    db.close();
  }
}

/**
 * Opens a WebSocket by hand and sends one binary frame whose header declares `bytes` of payload, then
 * streams that payload (from one shared zero buffer, so the sender holds no copy). Resolves with how
 * many payload bytes were written before the coordinator closed the connection.
 */
export function sendOversizedFrame(url: string, bytes: number): Promise<{ written: number }> {
  const { hostname, port } = new URL(url);
  const chunk = Buffer.alloc(1024 * 1024);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port), rejectUnauthorized: false });
    let written = 0;
    let upgraded = false;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve({ written });
    };
    socket.setTimeout(60_000, finish);
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('secureConnect', () => {
      socket.write(
        `GET /v1/ws HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    socket.on('data', (data: Buffer) => {
      if (upgraded) return;
      if (!data.toString('latin1').startsWith('HTTP/1.1 101')) return finish();
      upgraded = true;
      // FIN + binary, masked, 64-bit length, an all-zero mask (the payload goes out unchanged).
      const header = Buffer.alloc(14);
      header[0] = 0x82;
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(BigInt(bytes), 2);
      socket.write(header);
      const pump = () => {
        while (!done && written < bytes) {
          const part = chunk.subarray(0, Math.min(chunk.length, bytes - written));
          written += part.length;
          if (!socket.write(part)) return void socket.once('drain', pump);
        }
      };
      pump();
    });
  });
}

/** POSTs many enrollment requests with random tokens over a few kept-alive connections; counts statuses. */
export async function floodEnrollment(url: string, count: number): Promise<Record<number, number>> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: false });
  const statuses: Record<number, number> = {};
  const identity = await generateIdentity();
  const publicKey = toBase64(identity.publicKey);
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const token = toBase64(randomBytes(32));
      const body = JSON.stringify({ token, publicKey, signature: toBase64(randomBytes(64)) });
      const req = request(
        `${url}/v1/enroll`,
        { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
        (response) => {
          response.resume();
          response.on('end', () => {
            statuses[response.statusCode ?? 0] = (statuses[response.statusCode ?? 0] ?? 0) + 1;
            resolve();
          });
        },
      );
      req.on('error', () => {
        statuses[0] = (statuses[0] ?? 0) + 1;
        resolve();
      });
      req.end(body);
    });
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next++ < count) await one();
    }),
  );
  agent.destroy();
  return statuses;
}

/** Resolves with the close code and reason when the socket closes. */
export function closed(socket: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) return resolve({ code: 0, reason: 'already closed' });
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
}
