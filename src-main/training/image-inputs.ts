/**
 * What a base model reads of each image: TinyMed-VQA its pixels, FeatVQA its frozen encoder features
 * (featureRow of the encoder's outputs). For a site's federated rounds the features come from the
 * site store's cache (SiteDataService.featuresFor); for `cohort train` / `cohort eval` on a dataset
 * folder they are computed here, once per run (315 VQA-RAD images take a few seconds).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GrayImage } from '../../core/data/types.js';
import type { BaseModel } from '../../core/ml/engine.node.js';
import { extractFeatures } from '../../core/ml/encoder/extract.node.js';
import { ImageEncoder, readEncoderFile } from '../../core/ml/encoder/image-encoder.node.js';
import { featureRows } from '../../core/ml/feat-vqa.js';
import type { ImageInput } from '../../core/ml/features.js';

/** Where `cohort train` / `cohort eval` keep the converted default encoder between runs. */
export const CLI_ENCODER_DIR = join(tmpdir(), 'cohort-encoders');

/** The model's image inputs for `images`, encoding them with the base's encoder when it reads features. */
export async function imageInputsFor(
  base: BaseModel,
  images: ReadonlyMap<string, GrayImage>,
  options: { encoderDir?: string; threads?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<ReadonlyMap<string, ImageInput>> {
  const cfg = base.config;
  if (cfg.arch !== 'feat-vqa') return images;
  const encoder = await ImageEncoder.open(
    readEncoderFile(options.encoderDir ?? CLI_ENCODER_DIR, cfg.encoder),
    cfg.encoder,
    { threads: options.threads ?? 1 },
  );
  try {
    const keys = [...images.keys()];
    const values = await extractFeatures(
      encoder,
      keys.map((k) => images.get(k)!),
      options.onProgress ? { onProgress: options.onProgress } : {},
    );
    return featureRows(cfg, {
      outputs: encoder.outputs,
      byImage: new Map(keys.map((k, i) => [k, values[i]!])),
    });
  } finally {
    await encoder.release();
  }
}

/** Only the images the records ask about (the encoder need not see the others). */
export function imagesOf<T>(
  records: readonly { imageKey: string }[],
  images: ReadonlyMap<string, T>,
): Map<string, T> {
  const out = new Map<string, T>();
  for (const r of records) {
    const image = images.get(r.imageKey);
    if (image !== undefined) out.set(r.imageKey, image);
  }
  return out;
}
