import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { decodeForStore } from '../../core/data/image.node.js';
import { DataInputError } from '../../core/data/text.js';
import type { VqaDataset } from '../../core/data/types.js';
import { DEFAULT_SPLIT } from '../../core/data/vqa-rad.node.js';
import type { SiteData } from '../store/site-data.js';
import { ImportCancelledError, forEachBounded, type ImportContext } from './context.js';
import { prepareDicom } from './dicom.js';
import { toHex } from './image-files.js';
import { HOSPITAL_FORMATS, storedSource } from './stored-source.js';
import { assembleQuestions, type NamedQuestion } from './named-dataset.js';
import { parseImportRequest } from './request.js';
import { prepareSlake } from './slake.js';
import { prepareTable } from './tabular.js';
import type { ImportProgress, ImportRequest, ImportSummary, PreparedImage, PreparedImport } from './types.js';
import { prepareVqaRad, type SplitOptions } from './vqa-rad.js';

export interface RunOptions {
  onProgress?: (progress: ImportProgress) => void;
  signal?: AbortSignal;
  /**
   * Image-encoder features at import: each new image is also decoded at `size` from its source, and
   * `save` encodes and caches those after the write transaction (phase 'features'). The store's cache
   * is keyed by content, so a re-import finds them; a failure leaves a note, and training computes
   * them later from the stored pixels.
   */
  features?: {
    size: number;
    save: (
      images: { imageKey: string; pixels: Uint8Array }[],
      onProgress: (done: number, total: number) => void,
    ) => Promise<void>;
  };
}

/** Reads, validates and decodes everything the request names; writes nothing. */
export async function prepareImport(
  data: Pick<SiteData, 'hasImage'>,
  request: ImportRequest,
  split: SplitOptions,
  options: RunOptions = {},
): Promise<PreparedImport> {
  const context: ImportContext = {
    isKnownImage: (hashHex) => data.hasImage(hashHex),
    onProgress: options.onProgress ?? (() => {}),
    signal: options.signal,
    concurrency: request.options?.concurrency,
    encoderSize: options.features?.size,
  };
  const importOptions = request.options ?? {};
  switch (request.format) {
    case 'vqa-rad':
      return prepareVqaRad(request.path, importOptions, split, context);
    case 'slake':
      return prepareSlake(request.path, importOptions, split, context);
    case 'csv':
    case 'jsonl':
      return prepareTable(request.format, request.path, importOptions, split, context);
    case 'dicom':
      return prepareDicom(request.path, importOptions, split, context);
  }
}

export function splitOptions(request: Pick<ImportRequest, 'options'>): SplitOptions {
  return {
    seed: request.options?.seed ?? DEFAULT_SPLIT.seed,
    validationFraction: request.options?.validationFraction ?? DEFAULT_SPLIT.validationFraction,
  };
}

/**
 * One import, start to end: prepare (read, validate, decode — nothing written), then one write
 * transaction. An import that fails as a whole or is cancelled stores nothing but a history entry.
 */
export async function runImport(
  data: SiteData,
  input: unknown,
  options: RunOptions = {},
): Promise<ImportSummary> {
  const startedAt = new Date().toISOString();
  const started = Date.now();
  const request = parseImportRequest(input);
  const split = splitOptions(request);
  let prepared: PreparedImport;
  try {
    prepared = await prepareImport(data, request, split, options);
    const forEncoder = prepared.images.flatMap((image) =>
      image.stored?.encoderPixels
        ? [{ imageKey: toHex(image.hash), pixels: image.stored.encoderPixels }]
        : [],
    );
    let done: ImportProgress | undefined;
    const summary = data.commitImport(
      prepared,
      { startedAt, ...split, strict: request.options?.strict ?? false },
      // With features to compute, 'done' waits until they are.
      forEncoder.length > 0
        ? (p) => (p.phase === 'done' ? (done = p) : options.onProgress?.(p))
        : options.onProgress,
    );
    if (forEncoder.length > 0 && options.features) {
      try {
        await options.features.save(forEncoder, (n, total) =>
          options.onProgress?.({ phase: 'features', done: n, total }),
        );
      } catch (error) {
        summary.notes.push(
          `image features were not computed at import (${(error as Error).message}); they will be computed from the stored images before training`,
        );
      }
      if (done) options.onProgress?.(done);
    }
    return { ...summary, durationMs: Date.now() - started };
  } catch (error) {
    const cancelled = error instanceof ImportCancelledError;
    data.recordFailedImport({
      format: request.format,
      source: storedSource(request.format, resolve(request.path)),
      options: { ...split },
      startedAt,
      status: cancelled ? 'cancelled' : 'failed',
      failure: storableFailure(request, error),
    });
    throw error;
  }
}

/** A failure message fit for the imports table: hospital paths can carry patient names, so they go. */
function storableFailure(request: ImportRequest, error: unknown): string {
  let message = error instanceof Error ? error.message : String(error);
  if (!(error instanceof DataInputError || error instanceof ImportCancelledError))
    message = `internal error: ${message}`;
  if (!HOSPITAL_FORMATS.has(request.format)) return message;
  const paths = [
    request.path,
    resolve(request.path),
    request.options?.questionsTable,
    request.options?.imagesDir,
  ];
  for (const path of paths.filter(Boolean)) {
    message = message.split(path!).join('<path>');
  }
  return message;
}

/**
 * Turns generated records (SynthRad-VQA) into a prepared import: images are hashed by their pixels,
 * letterboxed to the stored size and given thumbnails; the records' own splits are kept per image.
 */
export async function prepareGenerated(
  data: Pick<SiteData, 'hasImage'>,
  dataset: Pick<VqaDataset, 'records' | 'images'>,
  meta: { source: string; options: Record<string, unknown> },
  options: RunOptions = {},
): Promise<PreparedImport> {
  const keys = [...dataset.images.keys()];
  const images = new Map<string, PreparedImage>();
  const hexByKey = new Map<string, string>();
  let done = 0;
  options.onProgress?.({ phase: 'decode', done, total: keys.length });
  await forEachBounded(keys, undefined, options.signal, async (key) => {
    const gray = dataset.images.get(key)!;
    const hash = new Uint8Array(
      createHash('sha256')
        .update(`cohort/gray/v1|${gray.width}|${gray.height}|`)
        .update(gray.pixels)
        .digest(),
    );
    const hex = toHex(hash);
    hexByKey.set(key, hex);
    const image: PreparedImage = { hash, sourceName: null, modality: null, organ: null, split: 'train' };
    if (!images.has(hex)) images.set(hex, image);
    if (!data.hasImage(hex)) {
      const decoded = await decodeForStore({
        width: gray.width,
        height: gray.height,
        channels: 1,
        pixels: gray.pixels,
      });
      image.stored = {
        sourceFormat: 'generated',
        sourceWidth: gray.width,
        sourceHeight: gray.height,
        size: decoded.size,
        pixels: decoded.pixels,
        thumbnail: decoded.thumbnail,
        thumbnailType: decoded.thumbnailType,
      };
    }
    options.onProgress?.({ phase: 'decode', done: ++done, total: keys.length });
  });
  const errors: PreparedImport['errors'] = [];
  const byImage = new Map<string, NamedQuestion[]>();
  for (const hex of images.keys()) byImage.set(hex, []);
  for (const record of dataset.records) {
    const hex = hexByKey.get(record.imageKey);
    if (!hex) {
      errors.push({
        item: `record ${record.id}`,
        message: 'refers to an image the generator did not produce',
      });
      continue;
    }
    byImage.get(hex)!.push({
      imageName: hex,
      sourceId: record.id,
      question: record.question,
      answer: record.answer,
      answerType: record.answerType,
      ...(record.organ ? { organ: record.organ } : {}),
      ...(record.modality ? { modality: record.modality.toUpperCase() } : {}),
      item: `record ${record.id}`,
      requestedSplit: record.split,
    });
  }
  const assembled = assembleQuestions(byImage, images, errors);
  return {
    format: 'synthrad',
    source: meta.source,
    options: meta.options,
    images: [...images.values()],
    questions: assembled.questions,
    errors,
    skipped: {},
    failedImages: 0,
    failedQuestions: assembled.failed + errors.length,
    notes: [],
  };
}
