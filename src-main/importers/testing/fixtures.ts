import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';

/** Test-only helpers: temporary folders and generated images (each image different from all others). */
const made: string[] = [];
export function tempDir(prefix = 'cohort-import-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
export function cleanupTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function writeFile(path: string, content: string | Uint8Array): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  return path;
}

/** Deterministic pseudo-random gray pixels: `seed` picks the image. */
export function grayPixels(width: number, height: number, seed: number): Uint8Array {
  const out = new Uint8Array(width * height);
  let state = (seed * 2654435761 + 1) >>> 0;
  for (let i = 0; i < out.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = (state >>> 24) ^ ((i % width) * 2);
  }
  return out;
}

export async function jpegBytes(seed: number, width = 64, height = 48): Promise<Uint8Array> {
  return sharp(grayPixels(width, height, seed), { raw: { width, height, channels: 1 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

export async function pngBytes(seed: number, width = 64, height = 48): Promise<Uint8Array> {
  return sharp(grayPixels(width, height, seed), { raw: { width, height, channels: 1 } })
    .png()
    .toBuffer();
}

/** A valid PNG signature and IHDR claiming `width`×`height`, with no usable image data. */
export function pngHeaderOnly(width: number, height: number): Uint8Array {
  const bytes = new Uint8Array(8 + 25 + 12);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(bytes.buffer);
  view.setUint32(8, 13);
  bytes.set([0x49, 0x48, 0x44, 0x52], 12);
  view.setUint32(16, width);
  view.setUint32(20, height);
  bytes.set([8, 0, 0, 0, 0], 24);
  view.setUint32(29, 0); // CRC left wrong on purpose
  view.setUint32(33, 0);
  bytes.set([0x49, 0x45, 0x4e, 0x44], 37);
  return bytes;
}
