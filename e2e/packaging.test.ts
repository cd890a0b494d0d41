import { execFile } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, tempDir } from './support/temp.js';

const root = join(import.meta.dirname, '..');
const require = createRequire(import.meta.url);
const run = promisify(execFile);

/** Why electron-builder cannot run here, or undefined when it can. */
function unavailable(): string | undefined {
  if (!existsSync(join(root, 'node_modules', '.bin', 'electron-builder')))
    return 'electron-builder is not installed (npm ci with dev dependencies installs it)';
  if (!existsSync(join(root, 'dist', 'src-main', 'electron', 'app.main.js')))
    return 'dist/ is not built (npm run build)';
  return undefined;
}

afterAll(cleanupTempDirs);

// The real packagers (AppImage, deb, NSIS, dmg) download tools at packaging time and cannot run on an
// offline machine; the `dir` target can, against an unpacked Electron. A stand-in Electron (a script
// named `electron`) is enough to check what electron-builder.yml puts into the app: that layout is what
// every installer wraps.
describe('desktop packaging (electron-builder --linux dir)', () => {
  const reason = unavailable();
  if (reason) console.warn(`skipped: ${reason}`);
  it.skipIf(reason !== undefined)(
    'unpacks native modules from asar, ships the built code, models and icons, and leaves dev dependencies out',
    async () => {
      const electronDist = tempDir('cohort-electron-dist-');
      writeFileSync(join(electronDist, 'electron'), '#!/bin/sh\necho stand-in electron\n');
      chmodSync(join(electronDist, 'electron'), 0o755);
      writeFileSync(join(electronDist, 'LICENSE'), 'stand-in');
      const out = tempDir('cohort-package-');
      const electronVersion = (
        require(join(root, 'node_modules', 'electron', 'package.json')) as { version: string }
      ).version;
      await run(
        join(root, 'node_modules', '.bin', 'electron-builder'),
        [
          '--linux',
          'dir',
          `-c.electronDist=${electronDist}`,
          `-c.electronVersion=${electronVersion}`,
          // Rebuilding native modules for Electron's ABI downloads Electron's headers: packaging machines
          // do it, this offline check cannot.
          '-c.npmRebuild=false',
          `-c.directories.output=${out}`,
        ],
        { cwd: root, timeout: 240_000, env: { ...process.env, CSC_IDENTITY_AUTO_DISCOVERY: 'false' } },
      );
      const app = join(out, 'linux-unpacked');
      expect(existsSync(join(app, 'cohort'))).toBe(true);
      const resources = join(app, 'resources');
      const unpacked = join(resources, 'app.asar.unpacked', 'node_modules');
      // Native addons load from the real file system, never from inside the archive.
      expect(readdirSync(unpacked).sort()).toEqual(
        expect.arrayContaining(['better-sqlite3', 'onnxruntime-node', 'sharp', 'sodium-native']),
      );
      expect(existsSync(join(unpacked, 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'))).toBe(
        true,
      );

      const asar = require('@electron/asar') as { listPackage(path: string, options: object): string[] };
      const files = new Set(
        asar.listPackage(join(resources, 'app.asar'), {}).map((f) => f.replaceAll('\\', '/')),
      );
      for (const shipped of [
        '/dist/src-main/electron/app.main.js',
        '/dist/src-main/electron/bridge.preload.cjs',
        '/dist/src-main/agent/agent-process.js',
        '/dist/renderer/index.html',
        '/dist/icons/tray.png',
        '/models/tinymed-vqa/model.safetensors',
        '/node_modules/zod/package.json',
      ])
        expect(files, shipped).toContain(shipped);
      for (const devOnly of [
        'vitest',
        'typescript',
        'electron',
        'electron-builder',
        'eslint',
        'vite',
        '@playwright/test',
      ])
        expect(files, devOnly).not.toContain(`/node_modules/${devOnly}/package.json`);
    },
    300_000,
  );
});
