import sharp from 'sharp';
import { headerDimensions } from './sniff.js';
import { STORED_IMAGE_SIZE, type GrayImage } from './types.js';

/** Largest image side we accept before decoding: anything bigger is a decompression bomb or a mistake. */
export const MAX_IMAGE_SIDE = 16_384;

/** Longest side of the thumbnail the site store keeps for the UI (aspect kept, no letterbox). */
export const THUMBNAIL_SIZE = 128;

export class ImageDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageDecodeError';
  }
}

/** Already-decoded pixels (DICOM frames, generated images): 8-bit, interleaved, row-major. */
export interface RawPixels {
  width: number;
  height: number;
  channels: 1 | 3;
  pixels: Uint8Array;
}

// 'warning' rather than 'error': libjpeg reports corrupt entropy-coded data only as a warning, and a
// radiograph with garbage in the middle must not be stored as training data. All 315 VQA-RAD JPEGs pass.
const FAIL_ON = 'warning' as const;

function open(input: Uint8Array | RawPixels): sharp.Sharp {
  if (input instanceof Uint8Array) {
    return sharp(input, { failOn: FAIL_ON, limitInputPixels: MAX_IMAGE_SIDE * MAX_IMAGE_SIDE });
  }
  return sharp(input.pixels, { raw: { width: input.width, height: input.height, channels: input.channels } });
}

async function checkedSize(input: Uint8Array | RawPixels) {
  let width = 0;
  let height = 0;
  let format = 'raw';
  if (input instanceof Uint8Array) {
    const claimed = headerDimensions(input);
    if (claimed) checkDimensions(claimed.width, claimed.height);
    let metadata: sharp.Metadata;
    try {
      metadata = await open(input).metadata();
    } catch (error) {
      throw new ImageDecodeError(`not a readable image (${firstLine(error)})`);
    }
    ({ width = 0, height = 0, format = 'unknown' } = metadata);
  } else {
    ({ width, height } = input);
    if (input.pixels.length !== width * height * input.channels) {
      throw new ImageDecodeError(
        `pixel buffer holds ${input.pixels.length} bytes, expected ${width * height * input.channels}`,
      );
    }
  }
  checkDimensions(width, height);
  return { width, height, format };
}

function checkDimensions(width: number, height: number): void {
  if (width <= 0 || height <= 0) throw new ImageDecodeError(`image has no pixels (${width}×${height})`);
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) {
    throw new ImageDecodeError(
      `image is ${width}×${height}, larger than the ${MAX_IMAGE_SIDE}-pixel limit per side`,
    );
  }
}

const firstLine = (error: unknown) => String((error as Error)?.message ?? error).split('\n')[0];

/** Grayscale, scaled so its longer side is `size` (aspect kept): the content of the letterboxed form. */
async function scaledGray(input: Uint8Array | RawPixels, size: number) {
  try {
    const { data, info } = await open(input)
      .rotate()
      .flatten({ background: { r: 0, g: 0, b: 0 } })
      .resize(size, size, { fit: 'inside' })
      .toColourspace('b-w')
      .extractChannel(0)
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    return {
      pixels: new Uint8Array(data.buffer, data.byteOffset, data.length),
      width: info.width,
      height: info.height,
    };
  } catch (error) {
    throw new ImageDecodeError(`image data is corrupt or truncated (${firstLine(error)})`);
  }
}

/**
 * Centres the scaled image in a black `size`×`size` square. Byte for byte what sharp's
 * `resize(size, size, { fit: 'contain' })` gives (checked on all 315 VQA-RAD images), but the scaled
 * image stays at hand for the thumbnail, so each image is decoded once.
 */
function letterbox(inner: { pixels: Uint8Array; width: number; height: number }, size: number): Uint8Array {
  const out = new Uint8Array(size * size);
  const left = Math.floor((size - inner.width) / 2);
  const top = Math.floor((size - inner.height) / 2);
  for (let y = 0; y < inner.height; y++) {
    out.set(inner.pixels.subarray(y * inner.width, (y + 1) * inner.width), (top + y) * size + left);
  }
  return out;
}

/**
 * Decodes a JPEG/PNG (or anything else sharp reads) to the stored form: grayscale, letterboxed into a
 * `size`×`size` square. Throws ImageDecodeError with a readable reason for corrupt, empty or absurd images.
 */
export async function decodeToGray(
  bytes: Uint8Array,
  size = STORED_IMAGE_SIZE,
): Promise<GrayImage & { sourceWidth: number; sourceHeight: number; format: string }> {
  const { width, height, format } = await checkedSize(bytes);
  const pixels = letterbox(await scaledGray(bytes, size), size);
  return { width: size, height: size, pixels, sourceWidth: width, sourceHeight: height, format };
}

export interface StoreReadyImage {
  /** `size`×`size` letterboxed grayscale, exactly what `decodeToGray` gives for the same input. */
  pixels: Uint8Array;
  size: number;
  sourceWidth: number;
  sourceHeight: number;
  format: string;
  /** A small grayscale JPEG for the UI: the image scaled to a longest side of `THUMBNAIL_SIZE`, no bars. */
  thumbnail: Uint8Array;
  thumbnailType: 'image/jpeg';
  /** With `encoderSize`: the same letterboxed grayscale at that size, from the source (for the image encoder). */
  encoderPixels?: Uint8Array;
}

/**
 * Everything the site store keeps of one image: the model's input pixels and a thumbnail. Accepts
 * encoded bytes (JPEG, PNG) or raw 8-bit pixels (a DICOM frame after windowing).
 */
export async function decodeForStore(
  input: Uint8Array | RawPixels,
  size = STORED_IMAGE_SIZE,
  options: { invert?: boolean; encoderSize?: number } = {},
): Promise<StoreReadyImage> {
  const { width, height, format } = await checkedSize(input);
  // Inverting (DICOM MONOCHROME1 stored as JPEG) must happen before letterboxing, or the bars turn white.
  if (options.invert) {
    const gray = await fullGray(input);
    for (let i = 0; i < gray.length; i++) gray[i] = 255 - gray[i]!;
    const inverted = await decodeForStore({ width, height, channels: 1, pixels: gray }, size, {
      ...(options.encoderSize ? { encoderSize: options.encoderSize } : {}),
    });
    return { ...inverted, format };
  }
  const scaled = await scaledGray(input, size);
  const pixels = letterbox(scaled, size);
  // The thumbnail is the same scaled image, unpadded (THUMBNAIL_SIZE equals the stored size by default).
  const small =
    size === THUMBNAIL_SIZE
      ? scaled
      : await scaledGray(
          { width: scaled.width, height: scaled.height, channels: 1, pixels: scaled.pixels },
          THUMBNAIL_SIZE,
        );
  const thumbnail = await sharp(small.pixels, {
    raw: { width: small.width, height: small.height, channels: 1 },
  })
    .jpeg({ quality: 80 })
    .toBuffer();
  return {
    pixels,
    size,
    sourceWidth: width,
    sourceHeight: height,
    format,
    thumbnail: new Uint8Array(thumbnail.buffer, thumbnail.byteOffset, thumbnail.length),
    thumbnailType: 'image/jpeg',
    ...(options.encoderSize
      ? { encoderPixels: letterbox(await scaledGray(input, options.encoderSize), options.encoderSize) }
      : {}),
  };
}

async function fullGray(input: Uint8Array | RawPixels): Promise<Uint8Array> {
  try {
    const gray = await open(input)
      .flatten({ background: { r: 0, g: 0, b: 0 } })
      .toColourspace('b-w')
      .extractChannel(0)
      .raw({ depth: 'uchar' })
      .toBuffer();
    return new Uint8Array(gray.buffer, gray.byteOffset, gray.length);
  } catch (error) {
    throw new ImageDecodeError(`image data is corrupt or truncated (${firstLine(error)})`);
  }
}

/** Encodes stored grayscale pixels as PNG (for a detail view of what the model sees). */
export async function grayToPng(image: GrayImage): Promise<Uint8Array> {
  const png = await sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 1 } })
    .png()
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.length);
}
