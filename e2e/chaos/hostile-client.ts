import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { connect } from 'node:tls';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import { generateIdentity, signDomain, type IdentityKeyPair } from '../../core/crypto/identity.js';
import { toBase64 } from '../../core/crypto/sodium.js';
import { pinnedTlsOptions, requestJson, type CertificatePin } from '../../core/net/pinned-https.node.js';
import { ENROLL_DOMAIN, parseEnrollmentLink } from '../../core/protocol/enrollment.js';
import { WS_AUTH_DOMAIN, coordinatorMessageSchema } from '../../core/protocol/session.js';
import { coordinatorPaths, loadCoordinatorConfig } from '../../server/data-dir.js';

/**
 * What the chaos tests use to misbehave towards a coordinator on loopback: raw frames no client library
 * would send, floods of requests, and a site identity driven by hand.
 */

export function coordinatorPin(dataDir: string): CertificatePin {
  const { paths, config } = loadCoordinatorConfig(dataDir);
  return {
    certificatePem: readFileSync(paths.tlsCertificate, 'utf8'),
    fingerprint: config.certificateFingerprint,
  };
}

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

/** Peak and current resident memory of a process, in MiB (Linux). */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) / 1024;
  return { rssMiB: field('VmRSS'), peakMiB: field('VmHWM') };
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

export interface HandDrivenSite {
  siteId: string;
  identity: IdentityKeyPair;
}

/** Enrolls an identity (a fresh one by default) with an invitation link, as the site agent would. */
export async function enrollByHand(
  link: string,
  pin: CertificatePin,
  identity?: IdentityKeyPair,
): Promise<HandDrivenSite> {
  const parsed = parseEnrollmentLink(link);
  identity ??= await generateIdentity();
  const publicKey = toBase64(identity.publicKey);
  const response = await requestJson(`${parsed.coordinatorUrl}/v1/enroll`, {
    pin,
    body: {
      token: parsed.token,
      publicKey,
      signature: await signDomain(identity.secretKey, ENROLL_DOMAIN, parsed.token, publicKey),
    },
  });
  if (response.status !== 200) throw new Error(`enrollment refused: ${JSON.stringify(response.body)}`);
  return { siteId: (response.body as { siteId: string }).siteId, identity };
}

/**
 * Connects as the site and answers the challenge. Resolves with the socket once welcomed; rejects with
 * the close code and reason when refused.
 */
export function connectByHand(url: string, pin: CertificatePin, site: HandDrivenSite): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${url.replace(/^https:/, 'wss:')}/v1/ws`, {
      ...(pinnedTlsOptions(pin, url) as unknown as WebSocket.ClientOptions),
    });
    socket.on('message', (data, isBinary) => {
      if (isBinary) return;
      const message = coordinatorMessageSchema.parse(JSON.parse(data.toString()));
      if (message.type === 'challenge') {
        void signDomain(
          site.identity.secretKey,
          WS_AUTH_DOMAIN,
          message.nonce,
          site.siteId,
          pin.fingerprint,
        ).then((signature) =>
          socket.send(JSON.stringify({ type: 'hello', siteId: site.siteId, signature, software: 'chaos' })),
        );
      } else if (message.type === 'welcome') resolve(socket);
    });
    socket.on('error', (error) => reject(error));
    socket.on('close', (code, reason) =>
      reject(Object.assign(new Error(`closed ${code}: ${reason.toString()}`), { code })),
    );
  });
}

/** Resolves with the close code and reason when the socket closes. */
export function closed(socket: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) return resolve({ code: 0, reason: 'already closed' });
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
}
