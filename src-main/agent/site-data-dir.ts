import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { CliError } from '../../core/cli/errors.js';
import { makeDir } from '../../core/util/make-dir.node.js';

export function sitePaths(dataDir: string) {
  return { dataDir, database: join(dataDir, 'site.db'), identityKey: join(dataDir, 'identity.key') };
}
export type SitePaths = ReturnType<typeof sitePaths>;

/** Creates the data directory (owner-only) if needed; refuses a path that is a file. */
export function ensureSiteDataDir(dataDir: string): SitePaths {
  if (existsSync(dataDir) && !statSync(dataDir).isDirectory())
    throw new CliError(`${dataDir} exists and is not a directory`);
  makeDir(dataDir, 0o700);
  return sitePaths(dataDir);
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
