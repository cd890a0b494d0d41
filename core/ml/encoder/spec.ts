/**
 * What names an image encoder and how to feed it: the ONNX file's SHA-256, its input (NCHW float32,
 * square), the per-channel normalisation of [0, 1] pixels, and the channels-last feature outputs
 * ([batch, …, C]: every position before C is one feature token) the site caches. A federation may name
 * another encoder with the same fields (`federationConfigSchema.encoder`).
 */
import { z } from 'zod';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const rgb = z.tuple([z.number(), z.number(), z.number()]);

export const encoderSpecSchema = z.object({
  /** SHA-256 (hex) of the .onnx file. */
  sha256: hex64,
  /** Name of the image input, shaped [batch, 3, inputSize, inputSize]. */
  input: z.string().min(1).max(200),
  inputSize: z.number().int().min(16).max(1024),
  /** Per channel (R, G, B): (pixel / 255 − mean) / std. Grayscale images are replicated to 3 channels. */
  mean: rgb,
  std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]),
  /** The outputs cached per image, each channels-last. */
  outputs: z.array(z.string().min(1).max(200)).min(1).max(4),
});
export type EncoderSpec = z.infer<typeof encoderSpecSchema>;

/**
 * The embedded default: ImageNet MobileNetV2, converted from nsfwjs's TF.js model by `convertMobileNetV2`.
 * Outputs (see core/ml/README.md, "Image encoder"): `out_relu` is the final 7×7×1280 map (before the
 * pooling and nsfwjs's head), `block_10_project_BN` the 14×14×96 output of block 10, the last block that
 * still holds ImageNet weights.
 */
export const MOBILENET_V2_OUTPUTS = { final: 'out_relu', block10: 'block_10_project_BN' } as const;

export const MOBILENET_V2_SPEC: EncoderSpec = {
  // Pinned: the conversion of nsfwjs 4.3.0 must give exactly this file (checked at every conversion).
  sha256: 'ecd5d2d4824a847fe80e60a058fa031d32e1570533383ec3e654210f9d7af8ed',
  input: 'image',
  inputSize: 224,
  // MobileNetV2's ImageNet preprocessing (Keras `preprocess_input`): pixels to [−1, 1].
  mean: [0.5, 0.5, 0.5],
  std: [0.5, 0.5, 0.5],
  outputs: [MOBILENET_V2_OUTPUTS.final, MOBILENET_V2_OUTPUTS.block10],
};

/** The encoder a federation uses: the one its config names, else the embedded MobileNetV2. */
export function federationEncoder(config: { encoder?: EncoderSpec | undefined }): EncoderSpec {
  return config.encoder ?? MOBILENET_V2_SPEC;
}

/** Grayscale `inputSize`² images → the encoder's NCHW input, each image replicated to R, G and B. */
export function encoderInput(images: readonly Uint8Array[], spec: EncoderSpec): Float32Array {
  const n = spec.inputSize * spec.inputSize;
  const out = new Float32Array(images.length * 3 * n);
  images.forEach((pixels, b) => {
    if (pixels.length !== n) {
      throw new Error(
        `encoder input must be ${spec.inputSize}×${spec.inputSize}, got ${pixels.length} pixels`,
      );
    }
    for (let c = 0; c < 3; c++) {
      const scale = 1 / (255 * spec.std[c]!);
      const shift = spec.mean[c]! / spec.std[c]!;
      const base = (b * 3 + c) * n;
      for (let i = 0; i < n; i++) out[base + i] = pixels[i]! * scale - shift;
    }
  });
  return out;
}
