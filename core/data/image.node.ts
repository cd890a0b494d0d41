import sharp from 'sharp';
import { STORED_IMAGE_SIZE, type GrayImage } from './types.js';

/** Largest image side we accept before decoding: anything bigger is a decompression bomb or a mistake. */
export const MAX_IMAGE_SIDE = 16_384;

export class ImageDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageDecodeError';
  }
}

/**
 * Decodes a JPEG/PNG (or anything else sharp reads) to the stored form: grayscale, letterboxed into a
 * `size`×`size` square. Throws ImageDecodeError with a readable reason for corrupt, empty or absurd images.
 */
export async function decodeToGray(
  bytes: Uint8Array,
  size = STORED_IMAGE_SIZE,
): Promise<GrayImage & { sourceWidth: number; sourceHeight: number; format: string }> {
  let metadata: sharp.Metadata;
  try {
    metadata = await sharp(bytes, { failOn: 'error' }).metadata();
  } catch (error) {
    throw new ImageDecodeError(`not a readable image (${(error as Error).message})`);
  }
  const { width = 0, height = 0, format = 'unknown' } = metadata;
  if (width <= 0 || height <= 0) throw new ImageDecodeError(`image has no pixels (${width}×${height})`);
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) {
    throw new ImageDecodeError(
      `image is ${width}×${height}, larger than the ${MAX_IMAGE_SIDE}-pixel limit per side`,
    );
  }
  try {
    const pixels = await sharp(bytes, { failOn: 'error' })
      .rotate()
      .resize(size, size, { fit: 'contain', background: { r: 0, g: 0, b: 0 } })
      .toColourspace('b-w')
      .extractChannel(0)
      .raw()
      .toBuffer();
    return {
      width: size,
      height: size,
      pixels: new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.length),
      sourceWidth: width,
      sourceHeight: height,
      format,
    };
  } catch (error) {
    throw new ImageDecodeError(`image data is corrupt or truncated (${(error as Error).message})`);
  }
}
