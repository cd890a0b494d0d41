import { existsSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { CliError } from '../../core/cli/errors.js';
import { makeDir } from '../../core/util/make-dir.node.js';

export function sitePaths(dataDir: string) {
  return {
    dataDir,
    database: join(dataDir, 'site.db'),
    identityKey: join(dataDir, 'identity.key'),
    /** Image encoders as `<sha256>.onnx` (the default one is converted here on first use). */
    encoders: join(dataDir, 'encoders'),
  };
}
export type SitePaths = ReturnType<typeof sitePaths>;

/** Creates the data directory (owner-only) if needed; refuses a path that is a file. */
export function ensureSiteDataDir(dataDir: string): SitePaths {
  if (existsSync(dataDir) && !statSync(dataDir).isDirectory())
    throw new CliError(`${dataDir} exists and is not a directory`);
  makeDir(dataDir, 0o700);
  return sitePaths(dataDir);
}

/**
 * The paths of an existing site, for commands that only read or change one (audit, participate, data):
 * a mistyped --data-dir is refused rather than created as a new, empty site.
 */
export function requireSiteStore(command: string, dataDir: string): SitePaths {
  const paths = sitePaths(dataDir);
  const hint = "enroll first with 'cohort site enroll' (or import data with 'cohort site import')";
  if (!existsSync(dataDir)) throw new CliError(`${command}: ${dataDir} does not exist; ${hint}`, 2);
  // The coordinator's config file, named here because src-main may not import server/.
  if (existsSync(join(dataDir, 'coordinator.json')))
    throw new CliError(`${command}: ${dataDir} is a coordinator's data directory, not a site's`, 2);
  if (!existsSync(paths.database)) throw new CliError(`${command}: no site store in ${dataDir}; ${hint}`, 2);
  return paths;
}

/**
 * Notes which of a site's files do not exist yet, so that a command that fails half-way (a refused
 * enrollment) can take back what it created: the directory, if it made it, or else only the new files.
 * Files that were there before are never touched.
 */
export function siteFilesToUndo(dataDir: string): () => void {
  let createdDir: string | undefined;
  for (let dir = resolve(dataDir); !existsSync(dir) && dirname(dir) !== dir; dir = dirname(dir))
    createdDir = dir;
  if (createdDir) return () => rmSync(createdDir, { recursive: true, force: true });
  const { database, identityKey } = sitePaths(dataDir);
  const mayCreate = existsSync(database)
    ? [identityKey]
    : [identityKey, database, `${database}-wal`, `${database}-shm`];
  const files = mayCreate.filter((file) => !existsSync(file));
  return () => files.forEach((file) => rmSync(file, { force: true }));
}

/** Everything a site pinned when it enrolled; stored in the site store under `enrollment`. */
export const enrollmentStateSchema = z.object({
  siteId: z.string(),
  siteName: z.string(),
  coordinatorUrl: z.string(),
  coordinatorName: z.string(),
  coordinatorIdentityPublicKey: z.string(),
  certificateFingerprint: z.string(),
  certificatePem: z.string(),
  enrolledAt: z.string(),
});
export type EnrollmentState = z.infer<typeof enrollmentStateSchema>;
export const ENROLLMENT_SETTING = 'enrollment';
