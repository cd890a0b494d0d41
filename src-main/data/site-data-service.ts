import { randomUUID } from 'node:crypto';
import { grayToPng } from '../../core/data/image.node.js';
import type { ImportHistoryQuery, SynthRadRequest } from '../../core/data/site-data-api.js';
import type { GrayImage, VqaDataset } from '../../core/data/types.js';
import type { ImportProgress, ImportRequest, ImportSummary, ItemError } from '../importers/types.js';
import { openSiteStoreWorker, type RemoteSiteStore } from '../store/open-store.js';
import type {
  DataCounts,
  ImageQuery,
  ImageRow,
  ImportRecord,
  RecordQuery,
  RecordRow,
  TrainingDataQuery,
} from '../store/site-data.js';
import type { FeatureProgressEvent, ImportProgressEvent } from '../store/site-store.js';
import type { FeatureOutput } from '../../core/ml/encoder/image-encoder.node.js';
import type { EncoderSpec } from '../../core/ml/encoder/spec.js';

/** Frozen features of a set of images: per image, one array per encoder output (channels-last). */
export interface ImageFeatures {
  /** Hex key of the encoder spec the features belong to. */
  encoderKey: string;
  /** Name and per-image shape of each output, e.g. out_relu [7, 7, 1280]. */
  outputs: FeatureOutput[];
  /** Image key (hex content hash) → one Float32Array per output, in the order of `outputs`. */
  byImage: Map<string, Float32Array[]>;
  /** How many images were encoded by this call (the rest came from the cache). */
  computed: number;
}

export type { DataCounts, ImageQuery, ImageRow, ImportRecord, RecordQuery, RecordRow, TrainingDataQuery };
export type { ImportHistoryQuery, ImportProgress, ImportRequest, ImportSummary, ItemError, SynthRadRequest };

const isProgressFor =
  (token: string) =>
  (event: unknown): event is ImportProgressEvent =>
    typeof event === 'object' &&
    event !== null &&
    (event as ImportProgressEvent).type === 'import-progress' &&
    (event as ImportProgressEvent).token === token;

/**
 * The site's data as the desktop UI and the trainer see it: imports with progress, browsing with
 * thumbnails, counts, import history, and the training view. Every call is a message to the store
 * worker; nothing here touches SQLite or blocks the agent's event loop.
 */
export class SiteDataService {
  constructor(private readonly store: RemoteSiteStore) {}

  /**
   * Opens a store worker of its own for `databasePath` (CLI, tests); `close` ends the worker. With
   * `encoderDir`, imports also compute image features (see SiteStore).
   */
  static async open(
    databasePath: string,
    options: { encoderDir?: string } = {},
  ): Promise<SiteDataService & { close(): Promise<void> }> {
    const handle = await openSiteStoreWorker(databasePath, options);
    const service = new SiteDataService(handle) as SiteDataService & { close(): Promise<void> };
    service.close = () => handle.close();
    return service;
  }

  /**
   * Imports a dataset: all of it in one transaction, or nothing (the promise rejects with a one-line
   * reason). `onProgress` sees phases read → decode (done/total images) → write (done/total rows) → done.
   * Aborting `signal` cancels the import before its write transaction.
   */
  importDataset(
    request: ImportRequest,
    onProgress?: (progress: ImportProgress) => void,
    signal?: AbortSignal,
  ): Promise<ImportSummary> {
    return this.withProgress(onProgress, signal, (token) => this.store.remote.importDataset(request, token));
  }

  /** Generates SynthRad-VQA demo records (preset, n, seed) into the store, like an import. */
  generateSynthRad(
    request: SynthRadRequest,
    onProgress?: (progress: ImportProgress) => void,
    signal?: AbortSignal,
  ): Promise<ImportSummary> {
    return this.withProgress(onProgress, signal, (token) => this.store.remote.importSynthRad(request, token));
  }

  private async withProgress<T>(
    onProgress: ((progress: ImportProgress) => void) | undefined,
    signal: AbortSignal | undefined,
    call: (token: string) => Promise<T>,
  ): Promise<T> {
    const token = randomUUID();
    const matches = isProgressFor(token);
    const unsubscribe = this.store.onEvent((event) => {
      if (onProgress && matches(event))
        onProgress({ phase: event.phase, done: event.done, total: event.total });
    });
    const cancel = () => void this.store.remote.cancelImport(token).catch(() => {});
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      if (signal?.aborted) cancel();
      return await call(token);
    } finally {
      signal?.removeEventListener('abort', cancel);
      unsubscribe();
    }
  }

  /** One page of questions with their image id, split, answer type, organ and modality. */
  listRecords(query: RecordQuery = {}): Promise<{ total: number; rows: RecordRow[] }> {
    return this.store.remote.listRecords(query);
  }

  /** One page of images with their question counts. */
  listImages(query: ImageQuery = {}): Promise<{ total: number; rows: ImageRow[] }> {
    return this.store.remote.listImages(query);
  }

  /** The stored thumbnail (grayscale JPEG, longest side 128 px at most). */
  async thumbnail(imageId: number): Promise<{ type: string; bytes: Uint8Array } | undefined> {
    return this.store.remote.thumbnail(imageId);
  }

  /** The thumbnail as a `data:` URL, ready for an `<img src>`. */
  async thumbnailDataUrl(imageId: number): Promise<string | undefined> {
    const thumb = await this.thumbnail(imageId);
    return thumb && `data:${thumb.type};base64,${Buffer.from(thumb.bytes).toString('base64')}`;
  }

  /** Thumbnails of a page of images, by id (missing ids are left out). */
  async thumbnailDataUrls(imageIds: readonly number[]): Promise<Record<number, string>> {
    const urls = await Promise.all(imageIds.map((id) => this.thumbnailDataUrl(id)));
    const out: Record<number, string> = {};
    imageIds.forEach((id, i) => {
      if (urls[i]) out[id] = urls[i];
    });
    return out;
  }

  /** Exactly what the model sees (grayscale, letterboxed square) as a PNG, for a detail view. */
  async modelInputPng(imageId: number): Promise<Uint8Array | undefined> {
    const pixels = await this.store.remote.imagePixels(imageId);
    return pixels && grayToPng(pixels);
  }

  /** Counts by split, answer type, organ and modality. */
  counts(): Promise<DataCounts> {
    return this.store.remote.dataCounts();
  }

  /** Import history, newest first, each with its first per-item errors. */
  imports(options: ImportHistoryQuery = {}): Promise<ImportRecord[]> {
    return this.store.remote.imports(options);
  }

  /** A page of one import's per-item errors. */
  importErrors(importId: number, offset = 0, limit = 100): Promise<ItemError[]> {
    return this.store.remote.importErrors(importId, offset, limit);
  }

  /**
   * Frozen encoder features of the given images (the hex content-hash keys of loadTrainingData's
   * records): images without cached features are encoded first, in the store worker, from their stored
   * pixels (`onProgress(done, total)` counts those), then everything is read from the cache. Features
   * stay on this machine. Aborting `signal` stops the encoding between batches (nothing is cached).
   */
  async featuresFor(
    imageKeys: readonly string[],
    spec: EncoderSpec,
    options: {
      /** `sitePaths(dataDir).encoders`: `<sha256>.onnx` files; the default encoder is converted there. */
      encoderDir: string;
      /** Only these outputs (e.g. ['block_10_project_BN']); all of the spec's when absent. */
      outputs?: string[];
      onProgress?: (done: number, total: number) => void;
      signal?: AbortSignal;
      threads?: number;
    },
  ): Promise<ImageFeatures> {
    const token = randomUUID();
    const unsubscribe = this.store.onEvent((event) => {
      const e = event as FeatureProgressEvent;
      if (options.onProgress && e?.type === 'feature-progress' && e.token === token)
        options.onProgress(e.done, e.total);
    });
    const cancel = () => void this.store.remote.cancelImport(token).catch(() => {});
    options.signal?.addEventListener('abort', cancel, { once: true });
    try {
      if (options.signal?.aborted) cancel();
      const filled = await this.store.remote.fillFeatures(
        {
          spec,
          encoderDir: options.encoderDir,
          imageKeys: [...imageKeys],
          ...(options.threads ? { threads: options.threads } : {}),
        },
        token,
      );
      const cached = await this.store.remote.cachedFeatures(
        [...imageKeys],
        filled.encoderKey,
        options.outputs,
      );
      const byImage = new Map<string, Float32Array[]>();
      for (const key of imageKeys) {
        const hit = cached.get(key);
        if (!hit) throw new Error(`image ${key.slice(0, 12)}… is not in the site store`);
        byImage.set(key, hit.values);
      }
      const outputs = filled.outputs.filter((o) => !options.outputs || options.outputs.includes(o.name));
      return { encoderKey: filled.encoderKey, outputs, byImage, computed: filled.computed };
    } finally {
      options.signal?.removeEventListener('abort', cancel);
      unsubscribe();
    }
  }

  /**
   * The stored records (optionally one split / organ / modality) and their images, keyed by the hex
   * content hash, in the shape the training engine takes.
   */
  async loadTrainingData(
    query: TrainingDataQuery = {},
  ): Promise<{ records: VqaDataset['records']; images: Map<string, GrayImage> }> {
    return this.store.remote.trainingData(query);
  }
}
