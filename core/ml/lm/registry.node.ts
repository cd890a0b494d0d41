/**
 * The local model registry: a checkpoint is validated (it must load), named by a content hash over its
 * files, and copied into `<registry>/<hash>/` with a manifest. Importing the same files again is a no-op.
 *
 * hash = sha256("cohort/lm-checkpoint/v1\n" ‖ for each file, sorted by name: "<name>\n<bytes>\n<sha256>\n")
 * over exactly the files the checkpoint consists of (config, tokenizer, weights and index, optional
 * tokenizer/generation configs), so that stray files in the directory do not change the name.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { copyFile, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { makeDir } from '../../util/make-dir.node.js';
import { loadCheckpoint } from './checkpoint.node.js';

export const HASH_DOMAIN = 'cohort/lm-checkpoint/v1\n';
export const MANIFEST = 'cohort-model.json';

const manifestSchema = z.object({
  format: z.literal('cohort-lm/v1'),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  modelType: z.string(),
  parameters: z.number().int().positive(),
  files: z.array(z.object({ name: z.string(), bytes: z.number().int().nonnegative(), sha256: z.string() })),
});
export type ModelManifest = z.infer<typeof manifestSchema>;

export interface ImportProgress {
  phase: 'validate' | 'hash' | 'copy';
  bytesDone: number;
  bytesTotal: number;
}

async function sha256File(path: string, onBytes: (n: number) => void): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) {
    hash.update(chunk as Buffer);
    onBytes((chunk as Buffer).length);
  }
  return hash.digest('hex');
}

/** The canonical content hash of a checkpoint's files (and each file's own hash). */
export async function hashCheckpoint(
  dir: string,
  files: readonly string[],
  onProgress: (p: ImportProgress) => void = () => {},
): Promise<{ hash: string; files: ModelManifest['files'] }> {
  const sorted = [...files].sort();
  const sizes = await Promise.all(sorted.map(async (f) => (await stat(join(dir, f))).size));
  const total = sizes.reduce((a, b) => a + b, 0);
  let done = 0;
  const entries: ModelManifest['files'] = [];
  const outer = createHash('sha256').update(HASH_DOMAIN);
  for (const [i, name] of sorted.entries()) {
    const sha256 = await sha256File(join(dir, name), (n) => {
      done += n;
      onProgress({ phase: 'hash', bytesDone: done, bytesTotal: total });
    });
    entries.push({ name, bytes: sizes[i]!, sha256 });
    outer.update(`${name}\n${sizes[i]}\n${sha256}\n`);
  }
  return { hash: outer.digest('hex'), files: entries };
}

export interface ImportResult {
  hash: string;
  path: string;
  modelType: string;
  parameters: number;
  files: ModelManifest['files'];
  /** The registry already held these exact files. */
  alreadyPresent: boolean;
}

/** Validates, hashes and copies a checkpoint directory into the registry. */
export async function importCheckpoint(
  dir: string,
  registry: string,
  onProgress: (p: ImportProgress) => void = () => {},
): Promise<ImportResult> {
  onProgress({ phase: 'validate', bytesDone: 0, bytesTotal: 0 });
  const ckpt = await loadCheckpoint(dir);
  let parameters = 0;
  for (const w of ckpt.weights.values()) parameters += w.length;
  ckpt.weights.clear(); // validation only; free the weights before copying
  const { hash, files } = await hashCheckpoint(dir, ckpt.files, onProgress);
  const dest = join(registry, hash);
  const result = { hash, path: dest, modelType: ckpt.config.modelType, parameters, files };
  if (existsSync(join(dest, MANIFEST))) return { ...result, alreadyPresent: true };
  makeDir(registry, 0o700);
  // Copy into a temporary sibling and rename, so a registry entry is either complete or absent.
  const tmp = join(registry, `.import-${randomBytes(6).toString('hex')}`);
  makeDir(tmp, 0o700);
  try {
    const total = files.reduce((a, f) => a + f.bytes, 0);
    let done = 0;
    for (const f of files) {
      await copyFile(join(dir, f.name), join(tmp, f.name));
      done += f.bytes;
      onProgress({ phase: 'copy', bytesDone: done, bytesTotal: total });
    }
    const manifest: ModelManifest = {
      format: 'cohort-lm/v1',
      hash,
      modelType: result.modelType,
      parameters,
      files,
    };
    await writeFile(join(tmp, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    if (existsSync(dest)) await rm(dest, { recursive: true, force: true }); // an incomplete earlier entry
    await rename(tmp, dest);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
  return { ...result, alreadyPresent: false };
}

/** A registered model's manifest, after checking that its files still hash to its name. */
export async function verifyRegistered(registry: string, hash: string): Promise<ModelManifest> {
  const dir = join(registry, hash);
  if (!existsSync(join(dir, MANIFEST))) throw new Error(`no model ${hash} in ${registry}`);
  const manifest = manifestSchema.parse(JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')));
  const { hash: actual } = await hashCheckpoint(
    dir,
    manifest.files.map((f) => f.name),
  );
  if (actual !== hash || manifest.hash !== hash)
    throw new Error(`model ${hash} in ${registry} does not match its hash`);
  return manifest;
}
