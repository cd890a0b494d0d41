/**
 * Reads the TF.js layers models that the npm package `nsfwjs` ships. Each model is two UMD bundles in
 * `dist/models/<model>/`: `model.min.js` exports `{ modelTopology, weightsManifest }` (a JS object
 * literal, not JSON), and each `<shard>.min.js` exports the shard's bytes as one base64 string. They are
 * loaded with `require` from wherever the package is installed (never a hard-coded node_modules path).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { layersTopologySchema, weightSpecSchema, type LayersModelArtifacts } from './tfjs-layers.js';

const require = createRequire(import.meta.url);

const modelFileSchema = z.object({
  modelTopology: layersTopologySchema,
  weightsManifest: z.array(
    z.object({ paths: z.array(z.string().min(1)), weights: z.array(weightSpecSchema) }),
  ),
});

/** The installed package's root directory and version (`nsfwjs/package.json` is not in its exports). */
export function nsfwjsPackage(): { root: string; version: string } {
  let dir: string;
  try {
    dir = dirname(require.resolve('nsfwjs'));
  } catch {
    throw new Error("the npm package 'nsfwjs' is not installed (it ships the MobileNetV2 weights)");
  }
  for (let i = 0; i < 6; i++, dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (!existsSync(manifest)) continue;
    const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'nsfwjs') return { root: dir, version: String(pkg.version) };
  }
  throw new Error("cannot find the root of the installed 'nsfwjs' package");
}

/** Topology, weight manifest and weight bytes of one of nsfwjs's bundled models (e.g. 'mobilenet_v2'). */
export function loadNsfwjsModel(model: string): LayersModelArtifacts & { version: string } {
  const { root, version } = nsfwjsPackage();
  const dir = join(root, 'dist', 'models', model);
  const parsed = modelFileSchema.safeParse(require(join(dir, 'model.min.js')));
  if (!parsed.success) {
    throw new Error(
      `nsfwjs ${version} ${model}: model.min.js is not a TF.js layers model (${parsed.error.issues[0]?.message})`,
    );
  }
  const shards: Uint8Array[] = [];
  const weightSpecs = parsed.data.weightsManifest.flatMap((group) => {
    for (const path of group.paths) {
      const text: unknown = require(join(dir, `${path}.min.js`));
      if (typeof text !== 'string')
        throw new Error(`nsfwjs ${version} ${model}: ${path}.min.js holds no base64 string`);
      shards.push(Buffer.from(text, 'base64'));
    }
    return group.weights;
  });
  const weightData = new Uint8Array(shards.reduce((n, s) => n + s.length, 0));
  shards.reduce((offset, s) => (weightData.set(s, offset), offset + s.length), 0);
  return { topology: parsed.data.modelTopology, weightSpecs, weightData, version };
}
