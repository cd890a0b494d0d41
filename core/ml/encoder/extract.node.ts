/**
 * Grayscale images → encoder features, batch by batch: resize to the encoder's input with sharp (when the
 * image is not already that size), normalise, run. Used by the site's feature cache and by anything that
 * trains straight from a dataset folder.
 */
import sharp from 'sharp';
import type { GrayImage } from '../../data/types.js';
import type { ImageEncoder } from './image-encoder.node.js';
import { encoderInput } from './spec.js';

export interface ExtractTimings {
  /** Resizing to the encoder's input (decoding, when the caller decodes, is its own). */
  resizeMs: number;
  encodeMs: number;
}

/** A square (letterboxed) grayscale image at `size`×`size`; bilinear like most encoders' preprocessing. */
export async function resizeGray(image: GrayImage, size: number): Promise<Uint8Array> {
  if (image.width === size && image.height === size) return image.pixels;
  const data = await sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 1 } })
    .resize(size, size, { fit: 'fill', kernel: 'linear' })
    .toColourspace('b-w') // sharp widens a 1-channel raw input to sRGB on output otherwise
    .extractChannel(0)
    .raw()
    .toBuffer();
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

/**
 * Features of each image: one Float32Array per encoder output (channels-last, see ImageEncoder.outputs).
 * `onProgress(done, total)` after each batch; an aborted `signal` stops between batches.
 */
export async function extractFeatures(
  encoder: ImageEncoder,
  images: readonly GrayImage[],
  options: {
    batchSize?: number;
    onProgress?: (done: number, total: number) => void;
    signal?: AbortSignal;
    timings?: ExtractTimings;
  } = {},
): Promise<Float32Array[][]> {
  const batchSize = Math.max(1, options.batchSize ?? 8);
  const out: Float32Array[][] = [];
  options.onProgress?.(0, images.length);
  for (let start = 0; start < images.length; start += batchSize) {
    options.signal?.throwIfAborted();
    const batch = images.slice(start, start + batchSize);
    const t0 = performance.now();
    const pixels = await Promise.all(batch.map((image) => resizeGray(image, encoder.spec.inputSize)));
    const t1 = performance.now();
    out.push(...(await encoder.encode(encoderInput(pixels, encoder.spec), batch.length)));
    if (options.timings) {
      options.timings.resizeMs += t1 - t0;
      options.timings.encodeMs += performance.now() - t1;
    }
    options.onProgress?.(out.length, images.length);
  }
  return out;
}
