import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { CliError } from '../core/cli/errors.js';
import { isAlive } from '../core/util/data-dir-lock.node.js';

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
    /** Where the running coordinator listens, for the admin commands: written at start, removed at stop. */
    listening: join(dataDir, 'listening.json'),
    /** Held by the coordinator serving this directory (its pid): one coordinator per store. */
    lock: join(dataDir, 'coordinator.lock'),
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

const listeningSchema = z.object({ url: z.url(), pid: z.number().int().positive() });

/**
 * Records the admin address of the coordinator now serving `dataDir`. `server start --port` may differ
 * from the public URL's port (behind a port forward, say), and the admin commands must still find it.
 */
export function writeListeningFile(paths: CoordinatorPaths, url: string): void {
  writeFileSync(paths.listening, `${JSON.stringify({ url, pid: process.pid })}\n`);
}

/** Removes the listening file if this process wrote it (never another coordinator's). */
export function removeListeningFile(paths: CoordinatorPaths): void {
  if (readListening(paths)?.pid === process.pid) rmSync(paths.listening, { force: true });
}

function readListening(paths: CoordinatorPaths): z.infer<typeof listeningSchema> | undefined {
  try {
    const parsed = listeningSchema.safeParse(JSON.parse(readFileSync(paths.listening, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The address recorded by a coordinator that is still running, or undefined. A file left behind by a
 * killed coordinator names a process that is gone, and is ignored.
 */
export function readListeningUrl(paths: CoordinatorPaths): string | undefined {
  const listening = readListening(paths);
  return listening && isAlive(listening.pid) ? listening.url : undefined;
}
