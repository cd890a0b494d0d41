import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { decodeForStore } from '../../core/data/image.node.js';
import { checkImageFormat, type SniffedFormat } from '../../core/data/sniff.js';
import { forEachBounded, type ImportContext } from './context.js';
import type { DecodedImage } from './types.js';

/** Files larger than this are refused before reading: no radiograph JPEG/PNG is anywhere near it. */
export const MAX_IMAGE_FILE_BYTES = 256 * 1024 * 1024;

export const sha256 = (bytes: Uint8Array) => new Uint8Array(createHash('sha256').update(bytes).digest());
export const toHex = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');

export type ImageFileResult =
  { ok: true; hash: Uint8Array; hex: string; decoded?: DecodedImage } | { ok: false; message: string };

export interface ImageFile {
  /** The name the dataset uses for the file (its extension is checked against the content). */
  name: string;
  /** Resolves the name to a safe absolute path (see pathResolver); may throw. */
  resolve: () => Promise<string>;
}

/** Why a file could not be read, in words (Node's codes mean little to an operator). */
export function fileErrorMessage(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'image file not found';
  if (code === 'EISDIR') return 'is a folder, not an image file';
  if (code === 'EACCES' || code === 'EPERM') return 'cannot read the file (permission denied)';
  if (code === 'ELOOP') return 'too many symbolic links';
  return (error as Error).message ?? String(error);
}

/** Loads a file's bytes after checking it is a regular file of sane size. */
export async function readImageBytes(path: string): Promise<Uint8Array> {
  const info = await stat(path);
  if (info.isDirectory()) throw Object.assign(new Error('is a folder'), { code: 'EISDIR' });
  if (!info.isFile()) throw new Error('not a regular file');
  if (info.size > MAX_IMAGE_FILE_BYTES) {
    throw new Error(
      `file is ${(info.size / 2 ** 20).toFixed(0)} MiB, over the ${MAX_IMAGE_FILE_BYTES / 2 ** 20} MiB limit`,
    );
  }
  return readFile(path);
}

/**
 * Reads, checks and decodes image files with bounded concurrency. Each file is hashed (SHA-256 of its
 * bytes); a file whose hash the store already knows is not decoded again. Never throws for one bad file:
 * its result carries the reason.
 */
export async function decodeImageFiles(
  files: readonly ImageFile[],
  accepted: readonly SniffedFormat[],
  context: ImportContext,
): Promise<ImageFileResult[]> {
  const results: ImageFileResult[] = new Array(files.length);
  let done = 0;
  context.onProgress({ phase: 'decode', done, total: files.length });
  await forEachBounded(files, context.concurrency, context.signal, async (file, index) => {
    results[index] = await decodeOne(file, accepted, context);
    context.onProgress({ phase: 'decode', done: ++done, total: files.length });
  });
  return results;
}

async function decodeOne(
  file: ImageFile,
  accepted: readonly SniffedFormat[],
  context: ImportContext,
): Promise<ImageFileResult> {
  let bytes: Uint8Array;
  try {
    bytes = await readImageBytes(await file.resolve());
  } catch (error) {
    return { ok: false, message: fileErrorMessage(error) };
  }
  const format = checkImageFormat(file.name, bytes, accepted);
  if (!format.ok) return { ok: false, message: format.reason };
  const hash = sha256(bytes);
  const hex = toHex(hash);
  if (context.isKnownImage(hex)) return { ok: true, hash, hex };
  try {
    const image = await decodeForStore(bytes, undefined, { encoderSize: context.encoderSize });
    return {
      ok: true,
      hash,
      hex,
      decoded: {
        sourceFormat: format.format,
        sourceWidth: image.sourceWidth,
        sourceHeight: image.sourceHeight,
        size: image.size,
        pixels: image.pixels,
        thumbnail: image.thumbnail,
        thumbnailType: image.thumbnailType,
        ...(image.encoderPixels ? { encoderPixels: image.encoderPixels } : {}),
      },
    };
  } catch (error) {
    return { ok: false, message: (error as Error).message };
  }
}
