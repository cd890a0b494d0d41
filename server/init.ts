import { X509Certificate, createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import selfsigned from 'selfsigned';
import { CliError } from '../core/cli/errors.js';
import { generateIdentity, keyFingerprint } from '../core/crypto/identity.js';
import { writeIdentityKeyFile, writeSecretFile } from '../core/crypto/key-file.node.js';
import { coordinatorPaths, type CoordinatorConfig } from './data-dir.js';
import { CoordinatorStore } from './store/coordinator-store.js';
import { makeDir } from '../core/util/make-dir.node.js';

export interface InitOptions {
  dataDir: string;
  name: string;
  publicUrl: string;
  /** Extra DNS names or IP addresses for the certificate, beyond the public URL's host and loopback. */
  altNames?: string[];
}

export function certificateFingerprint(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}

const isIp = (host: string) => /^[\d.]+$/.test(host) || host.includes(':');

/**
 * Creates a coordinator data directory: SQLite store, Ed25519 identity key, a self-signed TLS
 * certificate (ECDSA P-256, ten years; sites pin its fingerprint, so no CA is involved) and an admin token
 * for the CLI and console.
 */
export async function initCoordinator(
  options: InitOptions,
): Promise<{ config: CoordinatorConfig; identityFingerprint: string }> {
  const paths = coordinatorPaths(options.dataDir);
  if (existsSync(options.dataDir) && readdirSync(options.dataDir).length > 0) {
    throw new CliError(
      `${options.dataDir} is not empty; a coordinator is initialised only once, in an empty or new directory`,
    );
  }
  let url: URL;
  try {
    url = new URL(options.publicUrl);
  } catch {
    throw new CliError(`--public-url '${options.publicUrl}' is not a URL`, 2);
  }
  if (url.protocol !== 'https:') throw new CliError('--public-url must be an https:// address', 2);
  makeDir(options.dataDir, 0o700);

  const host = url.hostname.replace(/^\[|\]$/g, '');
  const names = [...new Set([host, 'localhost', '127.0.0.1', '::1', ...(options.altNames ?? [])])];
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore);
  notAfter.setFullYear(notAfter.getFullYear() + 10);
  const pems = await selfsigned.generate([{ name: 'commonName', value: host }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: names.map((n) => (isIp(n) ? { type: 7, ip: n } : { type: 2, value: n })),
      },
    ],
  });
  writeSecretFile(paths.tlsKey, pems.private);
  writeFileSync(paths.tlsCertificate, pems.cert, { flag: 'wx' });

  const identity = await generateIdentity();
  writeIdentityKeyFile(paths.identityKey, identity);
  writeSecretFile(paths.adminToken, `${randomBytes(32).toString('base64url')}\n`);

  const config: CoordinatorConfig = {
    name: options.name,
    publicUrl: url.origin,
    certificateFingerprint: certificateFingerprint(pems.cert),
    createdAt: new Date().toISOString(),
  };
  const store = new CoordinatorStore(paths.database);
  store.audit('coordinator-initialised', null, { name: config.name, publicUrl: config.publicUrl });
  store.close();
  // Written last: its presence marks a complete data directory.
  writeFileSync(paths.config, `${JSON.stringify(config, null, 2)}\n`, { flag: 'wx' });
  return { config, identityFingerprint: await keyFingerprint(identity.publicKey) };
}
