import { readSetting, writeSetting } from '../../core/store/settings.node.js';
import { canonicalJson } from '../../core/util/canonical-json.js';
import { openDatabase, type SqliteDatabase } from '../../core/store/sqlite.node.js';
import { synthRadRequestSchema, type SynthRadRequest } from '../../core/data/site-data-api.js';
import type { ImportProgress, ImportSummary } from '../importers/types.js';
import { sitePolicySchema, type SitePolicy } from '../../core/site-api/contract.js';
import { DEFAULT_SITE_POLICY } from '../federation/security-policy.js';
import type { RunOptions } from '../importers/run-import.js';
import { siteMigrations } from './migrations.js';
import type { FeatureOutput, ImageEncoder } from '../../core/ml/encoder/image-encoder.node.js';
import { MOBILENET_V2_SPEC, encoderSpecSchema, type EncoderSpec } from '../../core/ml/encoder/spec.js';
import { FeatureCache, type CachedFeatures } from './feature-cache.js';
import {
  SecurityData,
  type DeclineRow,
  type PendingConfigRow,
  type PinnedConfigRow,
  type PreapprovedConfigRow,
} from './security-data.js';
import {
  FederationData,
  type AuditEntry,
  type GlobalVersionRow,
  type LocalRoundRow,
  type PersonalAdapterRow,
} from './federation-data.js';
import {
  SiteData,
  type DataCounts,
  type ImportHistoryQuery,
  type ImageQuery,
  type ImageRow,
  type ImportRecord,
  type RecordQuery,
  type RecordRow,
  type TrainingDataQuery,
} from './site-data.js';

/** Progress of filling the feature cache (images encoded so far), sent like import progress. */
export interface FeatureProgressEvent {
  type: 'feature-progress';
  token: string;
  done: number;
  total: number;
}

export interface FillFeaturesRequest {
  spec: EncoderSpec;
  /** Where encoder files live (`<dir>/<sha256>.onnx`); the default is converted there when missing. */
  encoderDir: string;
  /** Only these images (content-hash keys); every stored image when absent. */
  imageKeys?: string[];
  threads?: number;
}

export interface FillFeaturesSummary {
  encoderKey: string;
  outputs: FeatureOutput[];
  /** Images encoded now, and images whose features were already cached. */
  computed: number;
  cached: number;
  ms: number;
}

/** Progress of a running import, sent from the store worker to whoever started it (by token). */
export interface ImportProgressEvent extends ImportProgress {
  type: 'import-progress';
  token: string;
}

/**
 * The site's local SQLite store. Synchronous (better-sqlite3): it runs inside the store worker
 * (`store-worker.ts`), never on the event loop that serves the UI; tests may use it directly.
 */
export class SiteStore {
  readonly db: SqliteDatabase;
  /** Images, questions and imports (migration 2). */
  readonly data: SiteData;
  /** Global versions, personal adapters, local rounds, audit log (migration 3). */
  readonly federation: FederationData;
  /** Security policy, pinned and pending configurations, declines, contributed versions (migration 4). */
  readonly security: SecurityData;
  /** Frozen image-encoder features per image (migration 5). */
  readonly features: FeatureCache;
  private readonly encoders = new Map<string, Promise<ImageEncoder>>();
  private readonly emit: (event: unknown) => void;
  /** Where image encoders live; when set, imports compute the default encoder's features from the source. */
  private readonly encoderDir: string | undefined;
  private importQueue: Promise<unknown> = Promise.resolve();
  private readonly runningImports = new Map<string, AbortController>();

  constructor(
    readonly path: string,
    options: { emit?: (event: unknown) => void; encoderDir?: string } = {},
  ) {
    // Owner-only file modes (database, -wal, -shm) are set by openDatabase.
    this.db = openDatabase(path, siteMigrations);
    this.data = new SiteData(this.db);
    this.federation = new FederationData(this.db);
    this.security = new SecurityData(this.db);
    this.features = new FeatureCache(this.db);
    this.emit = options.emit ?? (() => {});
    this.encoderDir = options.encoderDir;
  }

  // ---- site data (src-main/importers, src-main/data/site-data-service.ts) ----

  /**
   * Imports a dataset (see ImportRequest): reads and decodes everything first, then writes it in one
   * transaction. Imports run one at a time. Progress goes out as ImportProgressEvents tagged `token`.
   */
  importDataset(request: unknown, token = ''): Promise<ImportSummary> {
    return this.queueImport(token, async (signal, onProgress) => {
      const { runImport } = await import('../importers/run-import.js');
      return runImport(this.data, request, { signal, onProgress, ...this.importFeatures(signal) });
    });
  }

  /**
   * Generates SynthRad-VQA demo records (core/data/synthrad.ts) in the store's thread and imports them
   * like any other dataset (one transaction, dedup by pixel hash, so a repeat adds nothing).
   */
  importSynthRad(request: SynthRadRequest, token = ''): Promise<ImportSummary> {
    return this.queueImport(token, async (signal, onProgress) => {
      const parsed = synthRadRequestSchema.safeParse(request);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new Error(`invalid SynthRad request: ${issue?.path.join('.') || 'request'}: ${issue?.message}`);
      }
      const params = parsed.data;
      const started = Date.now();
      const startedAt = new Date(started).toISOString();
      const [{ generateSynthRad, resolveKnobs }, { prepareGenerated }] = await Promise.all([
        import('../../core/data/synthrad.js'),
        import('../importers/run-import.js'),
      ]);
      const seed = params.seed ?? 1;
      const options = {
        preset: params.preset,
        n: params.n,
        seed,
        ...(params.validationFraction !== undefined ? { validationFraction: params.validationFraction } : {}),
      };
      const knobs = resolveKnobs(options);
      onProgress({ phase: 'read', done: 0, total: 1 });
      const dataset = generateSynthRad(options);
      onProgress({ phase: 'read', done: 1, total: 1 });
      const prepared = await prepareGenerated(
        this.data,
        dataset,
        { source: `synthrad:${params.preset}`, options: { preset: params.preset, n: params.n, seed } },
        { signal, onProgress },
      );
      const summary = this.data.commitImport(
        prepared,
        { startedAt, seed, validationFraction: knobs.validationFraction },
        onProgress,
      );
      return { ...summary, durationMs: Date.now() - started };
    });
  }

  /** Stops a running import before its write transaction; it then stores nothing. */
  cancelImport(token: string): boolean {
    const controller = this.runningImports.get(token);
    controller?.abort();
    return controller !== undefined;
  }

  private queueImport<T>(
    token: string,
    run: (signal: AbortSignal, onProgress: (p: ImportProgress) => void) => Promise<T>,
  ): Promise<T> {
    const controller = new AbortController();
    if (token) this.runningImports.set(token, controller);
    let last = 0;
    const onProgress = (progress: ImportProgress) => {
      // Throttled, except phase ends: a 100k-image import must not flood the message port.
      const now = Date.now();
      if (progress.done !== progress.total && progress.done !== 0 && now - last < 50) return;
      last = now;
      this.emit({ type: 'import-progress', token, ...progress } satisfies ImportProgressEvent);
    };
    const result = this.importQueue.then(() => run(controller.signal, onProgress));
    this.importQueue = result.catch(() => {});
    return result.finally(() => {
      if (this.runningImports.get(token) === controller) this.runningImports.delete(token);
    });
  }

  // ---- frozen image features (SiteDataService.featuresFor, and imports) ----

  /**
   * Encodes the stored images that have no cached features for `request.spec` yet (from their stored
   * pixels) and caches them. Queued with the imports, so it never races one. Progress goes out as
   * FeatureProgressEvents tagged `token`.
   */
  fillFeatures(request: FillFeaturesRequest, token = ''): Promise<FillFeaturesSummary> {
    return this.queueImport(token, async (signal) => {
      const started = Date.now();
      // Loaded on first use: onnxruntime and sharp need not load with every store.
      const { extractFeatures } = await import('../../core/ml/encoder/extract.node.js');
      const encoder = await this.encoder(request);
      const missing = this.features.missing(encoder.key, request.imageKeys);
      const wanted = request.imageKeys ? new Set(request.imageKeys).size : this.data.counts().images;
      let last = 0;
      const values = await extractFeatures(
        encoder,
        missing.map((m) => ({ width: m.size, height: m.size, pixels: m.pixels })),
        {
          signal,
          onProgress: (done, total) => {
            const now = Date.now();
            if (done !== total && done !== 0 && now - last < 50) return;
            last = now;
            this.emit({ type: 'feature-progress', token, done, total } satisfies FeatureProgressEvent);
          },
        },
      );
      this.features.put(
        missing.map((m, i) => ({
          imageKey: m.imageKey,
          encoderKey: encoder.key,
          source: 'stored' as const,
          outputs: encoder.outputs,
          values: values[i]!,
        })),
      );
      return {
        encoderKey: encoder.key,
        outputs: encoder.outputs,
        computed: missing.length,
        cached: wanted - missing.length,
        ms: Date.now() - started,
      };
    });
  }

  /**
   * Features at import for the embedded encoder, from each new image's source decoded at the encoder's
   * input size: sharper than the stored 128² pixels, and computed while the image is at hand.
   */
  private importFeatures(signal: AbortSignal): Pick<RunOptions, 'features'> {
    const encoderDir = this.encoderDir;
    if (encoderDir === undefined) return {};
    const spec = MOBILENET_V2_SPEC;
    return {
      features: {
        size: spec.inputSize,
        save: async (images, onProgress) => {
          const { extractFeatures } = await import('../../core/ml/encoder/extract.node.js');
          const encoder = await this.encoder({ spec, encoderDir });
          const size = spec.inputSize;
          const values = await extractFeatures(
            encoder,
            images.map((i) => ({ width: size, height: size, pixels: i.pixels })),
            { signal, onProgress },
          );
          this.features.put(
            images.map((image, i) => ({
              imageKey: image.imageKey,
              encoderKey: encoder.key,
              source: 'import' as const,
              outputs: encoder.outputs,
              values: values[i]!,
            })),
          );
        },
      },
    };
  }

  /** Cached features of these images (content-hash keys) for an encoder key; missing ones are absent. */
  cachedFeatures(imageKeys: string[], encoderKey: string, outputs?: string[]): Map<string, CachedFeatures> {
    return this.features.get(imageKeys, encoderKey, outputs);
  }

  /** One session per encoder spec, opened on first use and kept while the store is open. */
  private encoder(
    request: Pick<FillFeaturesRequest, 'spec' | 'encoderDir' | 'threads'>,
  ): Promise<ImageEncoder> {
    const parsed = encoderSpecSchema.parse(request.spec);
    // By the whole spec: one file read with another normalisation or outputs is another encoder.
    const key = canonicalJson(parsed);
    let encoder = this.encoders.get(key);
    if (!encoder) {
      encoder = (async () => {
        const { ImageEncoder, readEncoderFile } = await import('../../core/ml/encoder/image-encoder.node.js');
        const bytes = readEncoderFile(request.encoderDir, parsed);
        return ImageEncoder.open(bytes, parsed, { threads: request.threads ?? 1 });
      })();
      encoder.catch(() => this.encoders.delete(key));
      this.encoders.set(key, encoder);
    }
    return encoder;
  }

  listRecords(query: RecordQuery = {}): { total: number; rows: RecordRow[] } {
    return this.data.listRecords(query);
  }

  listImages(query: ImageQuery = {}): { total: number; rows: ImageRow[] } {
    return this.data.listImages(query);
  }

  thumbnail(imageId: number): { type: string; bytes: Uint8Array } | undefined {
    return this.data.thumbnail(imageId);
  }

  imagePixels(imageId: number): ReturnType<SiteData['imagePixels']> {
    return this.data.imagePixels(imageId);
  }

  dataCounts(): DataCounts {
    return this.data.counts();
  }

  imports(options: ImportHistoryQuery = {}): ImportRecord[] {
    return this.data.imports(options);
  }

  importErrors(importId: number, offset = 0, limit = 100): ReturnType<SiteData['importErrors']> {
    return this.data.importErrors(importId, offset, limit);
  }

  trainingData(query: TrainingDataQuery = {}): ReturnType<SiteData['trainingData']> {
    return this.data.trainingData(query);
  }

  // ---- federated training (src-main/federation) ----

  saveGlobalVersion(row: GlobalVersionRow): void {
    this.federation.saveGlobalVersion(row);
  }

  latestGlobalVersion(federationId: string): GlobalVersionRow | undefined {
    return this.federation.latestGlobalVersion(federationId);
  }

  knownFederations(): ReturnType<FederationData['federations']> {
    return this.federation.federations();
  }

  savePersonalAdapter(row: PersonalAdapterRow): void {
    this.federation.savePersonalAdapter(row);
  }

  personalAdapter(federationId: string): PersonalAdapterRow | undefined {
    return this.federation.personalAdapter(federationId);
  }

  recordRound(row: LocalRoundRow): void {
    this.federation.recordRound(row);
  }

  closeInterruptedRounds(now: string): number {
    return this.federation.closeInterruptedRounds(now);
  }

  localRounds(federationId: string, limit?: number): LocalRoundRow[] {
    return this.federation.rounds(federationId, limit);
  }

  audit(entry: Omit<AuditEntry, 'id'>): void {
    this.federation.audit(entry);
  }

  auditLog(offset?: number, limit?: number): ReturnType<FederationData['auditLog']> {
    return this.federation.auditLog(offset, limit);
  }

  // ---- the site's security policy and approved configurations (src-main/federation) ----

  /** The operator's policy; the default until they change it. A stored policy that no longer parses is refused. */
  sitePolicy(): SitePolicy {
    const stored = this.security.policy();
    if (stored === undefined) return DEFAULT_SITE_POLICY;
    const parsed = sitePolicySchema.safeParse(stored);
    if (!parsed.success)
      throw new Error(`the stored security policy is invalid: ${parsed.error.issues[0]?.message}`);
    return parsed.data;
  }

  setSitePolicy(policy: SitePolicy): void {
    this.security.setPolicy(sitePolicySchema.parse(policy), new Date().toISOString());
  }

  pinnedConfigs(federationId?: string): PinnedConfigRow[] {
    return this.security.pinned(federationId);
  }

  pendingConfigs(federationId?: string): PendingConfigRow[] {
    return this.security.pending(federationId);
  }

  preapprovedConfigs(federationId?: string): PreapprovedConfigRow[] {
    return this.security.preapproved(federationId);
  }

  preapproveConfig(row: PreapprovedConfigRow): void {
    this.security.preapprove(row);
  }

  savePendingConfig(row: PendingConfigRow): void {
    this.security.savePending(row);
  }

  pinConfig(row: PinnedConfigRow): void {
    this.security.pin(row);
  }

  recordDecline(row: DeclineRow): void {
    this.security.recordDecline(row);
  }

  declines(limit?: number): DeclineRow[] {
    return this.security.declines(limit);
  }

  claimContribution(federationId: string, modelHash: string, round: number, summedWith: string) {
    return this.security.claimContribution(
      federationId,
      modelHash,
      round,
      summedWith,
      new Date().toISOString(),
    );
  }

  // ---- settings ----

  getSetting<T>(key: string): T | undefined {
    return readSetting<T>(this.db, key);
  }

  setSetting(key: string, value: unknown): void {
    writeSetting(this.db, key, value);
  }

  close(): void {
    for (const encoder of this.encoders.values()) void encoder.then((e) => e.release()).catch(() => {});
    this.db.close();
  }
}
