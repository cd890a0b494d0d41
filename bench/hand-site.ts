import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { generateIdentity, signDomain, type IdentityKeyPair } from '../core/crypto/identity.js';
import { toBase64 } from '../core/crypto/sodium.js';
import { pinnedTlsOptions, requestJson, type CertificatePin } from '../core/net/pinned-https.node.js';
import { ENROLL_DOMAIN, parseEnrollmentLink } from '../core/protocol/enrollment.js';
import { WS_AUTH_DOMAIN, coordinatorMessageSchema } from '../core/protocol/session.js';
import { loadCoordinatorConfig } from '../server/data-dir.js';

/**
 * A site driven by hand, without the site agent: enrollment and the authenticated WebSocket only. For
 * load benches (thousands of connections in one process) and the chaos tests (sites that misbehave).
 */

export function coordinatorPin(dataDir: string): CertificatePin {
  const { paths, config } = loadCoordinatorConfig(dataDir);
  return {
    certificatePem: readFileSync(paths.tlsCertificate, 'utf8'),
    fingerprint: config.certificateFingerprint,
  };
}

/** Peak and current resident memory of a process, in MiB (Linux). */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) / 1024;
  return { rssMiB: field('VmRSS'), peakMiB: field('VmHWM') };
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
export function connectByHand(
  url: string,
  pin: CertificatePin,
  site: HandDrivenSite,
  /** The loopback address to connect from (rate limits are per address). */
  localAddress?: string,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${url.replace(/^https:/, 'wss:')}/v1/ws`, {
      ...(pinnedTlsOptions(pin, url) as unknown as WebSocket.ClientOptions),
      ...(localAddress ? { localAddress } : {}),
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
