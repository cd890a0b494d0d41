// Builds everything a run needs into dist/: Node-side TypeScript transpiled file by file (layout kept, so
// worker entry points sit beside their callers), the Electron preload as CommonJS (sandboxed preloads
// cannot be ES modules), and the two React UIs with Vite.
import { build as esbuild } from 'esbuild';
import { build as viteBuild } from 'vite';
import sharp from 'sharp';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const quiet = process.argv.includes('--quiet');

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) {
      if (name !== 'node_modules' && name !== 'console') walk(full, out);
    } else out.push(relative(root, full));
  }
  return out;
}

const isTest = (f) => /\.test\.ts$/.test(f) || /\.spec\.ts$/.test(f);
const nodeSources = ['core', 'src-main', 'server', 'bench']
  .flatMap((d) => walk(join(root, d)))
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !isTest(f) && !/\.dom\.tsx?$/.test(f));
const preloads = nodeSources.filter((f) => f.endsWith('.preload.ts'));
const nodeEntries = nodeSources.filter((f) => !f.endsWith('.preload.ts'));

rmSync(join(root, 'dist'), { recursive: true, force: true });
const started = Date.now();
await esbuild({
  absWorkingDir: root,
  entryPoints: nodeEntries,
  outdir: 'dist',
  outbase: '.',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
});
if (preloads.length > 0) {
  await esbuild({
    absWorkingDir: root,
    entryPoints: preloads,
    outdir: 'dist',
    outbase: '.',
    outExtension: { '.js': '.cjs' },
    bundle: true,
    external: ['electron'],
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
  });
}
for (const config of ['src-renderer/vite.config.ts', 'server/console/vite.config.ts']) {
  await viteBuild({ configFile: join(root, config), logLevel: quiet ? 'warn' : 'warn' });
}
// The desktop app's window, tray and installer icons, rendered from the site UI's favicon so there is one
// drawing. 32 px for the tray (Electron picks @2x itself), 512 px for the packagers.
mkdirSync(join(root, 'dist', 'icons'), { recursive: true });
const iconSource = join(root, 'src-renderer', 'public', 'favicon.svg');
for (const [name, size] of [
  ['tray.png', 32],
  ['tray@2x.png', 64],
  ['icon.png', 512],
]) {
  await sharp(iconSource, { density: 1200 })
    .resize(size, size)
    .png()
    .toFile(join(root, 'dist', 'icons', name));
}
if (!quiet)
  console.log(
    `cohort: built ${nodeEntries.length + preloads.length} node modules and 2 UIs in ${Date.now() - started} ms`,
  );
