import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import type { IdentityKeyPair } from './identity.js';
import { fromBase64, toBase64 } from './sodium.js';

const keyFileSchema = z.object({
  kind: z.literal('cohort-ed25519-identity'),
  publicKey: z.string(),
  secretKey: z.string(),
});

/**
 * Writes an identity key readable by its owner only (0600). Refuses to overwrite: replacing an identity
 * key silently would orphan an enrollment.
 */
export function writeIdentityKeyFile(path: string, key: IdentityKeyPair): void {
  const body = JSON.stringify({
    kind: 'cohort-ed25519-identity',
    publicKey: toBase64(key.publicKey),
    secretKey: toBase64(key.secretKey),
  });
  writeFileSync(path, `${body}\n`, { mode: 0o600, flag: 'wx' });
}

export function readIdentityKeyFile(path: string): IdentityKeyPair {
  let text: string;
  try {
    const mode = statSync(path).mode;
    if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
      throw new Error(
        `${path} is readable by other users (mode ${(mode & 0o777).toString(8)}); run 'chmod 600 ${path}'`,
      );
    }
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error(`identity key ${path} does not exist`);
    throw error;
  }
  const parsed = keyFileSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${path} is not a Cohort identity key file`);
  return { publicKey: fromBase64(parsed.data.publicKey), secretKey: fromBase64(parsed.data.secretKey) };
}

/** Writes a secret (token, TLS key) readable by its owner only. */
export function writeSecretFile(path: string, contents: string): void {
  writeFileSync(path, contents, { mode: 0o600, flag: 'wx' });
}
