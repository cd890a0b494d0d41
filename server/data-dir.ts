import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { CliError } from '../core/cli/errors.js';

/** Where a coordinator keeps its state. Secrets (identity key, TLS key, admin token) are mode 0600. */
export function coordinatorPaths(dataDir: string) {
  return {
    dataDir,
    config: join(dataDir, 'coordinator.json'),
    database: join(dataDir, 'coordinator.db'),
    identityKey: join(dataDir, 'identity.key'),
    tlsCertificate: join(dataDir, 'tls-cert.pem'),
    tlsKey: join(dataDir, 'tls-key.pem'),
    adminToken: join(dataDir, 'admin.token'),
  };
}
export type CoordinatorPaths = ReturnType<typeof coordinatorPaths>;

export const coordinatorConfigSchema = z.object({
  name: z.string().min(1),
  /** The address sites use; enrollment links carry it. */
  publicUrl: z.url(),
  /** SHA-256 of the TLS certificate (DER), lowercase hex. */
  certificateFingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.string(),
});
export type CoordinatorConfig = z.infer<typeof coordinatorConfigSchema>;

/** Loads an initialised data directory, or explains in one line what is wrong with it. */
export function loadCoordinatorConfig(dataDir: string): {
  paths: CoordinatorPaths;
  config: CoordinatorConfig;
} {
  const paths = coordinatorPaths(dataDir);
  if (!existsSync(dataDir) || !statSync(dataDir).isDirectory()) {
    throw new CliError(
      `data directory ${dataDir} does not exist (create it with 'cohort server init --data-dir ${dataDir}')`,
    );
  }
  if (!existsSync(paths.config)) {
    throw new CliError(
      `${dataDir} is not a coordinator data directory (run 'cohort server init --data-dir ${dataDir}')`,
    );
  }
  const parsed = coordinatorConfigSchema.safeParse(JSON.parse(readFileSync(paths.config, 'utf8')));
  if (!parsed.success) throw new CliError(`${paths.config} is damaged: ${parsed.error.issues[0]?.message}`);
  return { paths, config: parsed.data };
}
