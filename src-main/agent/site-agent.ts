import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { defaultBaseModelDir, loadBaseModel } from '../../core/ml/base-model.node.js';
import type { BaseModel } from '../../core/ml/engine.node.js';
import { startTrainer, type Trainer } from '../../core/ml/trainer.node.js';
import { nativeMaskEngine } from '../../core/secagg/mask-engine.node.js';
import { SiteDataService } from '../data/site-data-service.js';
import { ImportJobs } from './import-jobs.js';
import { FederationClient } from '../federation/federation-client.js';
import { decodeKey, keyFingerprint, type IdentityKeyPair } from '../../core/crypto/identity.js';
import { readIdentityKeyFile } from '../../core/crypto/key-file.node.js';
import { displayCertificateFingerprint } from '../../core/protocol/enrollment.js';
import type { SiteEvent, SiteStatus } from '../../core/site-api/contract.js';
import {
  CoordinatorConnection,
  type ReconnectPolicy,
  type RosterEntry,
} from '../federation/coordinator-connection.js';
import { openSiteStoreWorker, type RemoteSiteStore } from '../store/open-store.js';
import { acquireDataDirLock } from '../../core/util/data-dir-lock.node.js';
import { EnrollmentError, enrollWithLink, loadOrCreateIdentity } from './enrollment.js';
import {
  ENROLLMENT_SETTING,
  ensureSiteDataDir,
  enrollmentStateSchema,
  type EnrollmentState,
  type SitePaths,
} from './site-data-dir.js';

export const SITE_SOFTWARE = 'cohort-site/0.1.0';

export interface SiteAgentOptions {
  dataDir: string;
  reconnect?: ReconnectPolicy;
  /** The base model directory (default: the embedded models/tinymed-vqa). */
  baseModelDir?: string;
  /** ONNX Runtime threads for local training. */
  threads?: number;
}

/**
 * A site's long-running agent: owns the store (in its worker), the identity, the enrollment and the
 * coordinator connection, and answers the typed SiteApi. Transports (Electron IPC, loopback HTTP) only
 * carry calls to `handle…` and events from `on('event')`.
 */
export class SiteAgent extends EventEmitter<{ event: [SiteEvent] }> {
  private connection: CoordinatorConnection | undefined;
  private federationClient: FederationClient | undefined;
  private trainer: Trainer | undefined;
  private base: Promise<BaseModel> | undefined;
  readonly data: SiteDataService;
  /** Imports the UI started, with progress events and cancellation. */
  readonly importJobs: ImportJobs;
  private roster: SiteStatus['roster'] = [];
  /** Counts status snapshots; taken at the same moment as the state they describe. */
  private statusRevision = 0;
  private fingerprints = new Map<string, string>();
  private readonly recentLogs: Extract<SiteEvent, { type: 'log' }>[] = [];
  /** The latest event of the round in flight, for a UI that opens mid-round. */
  private lastRoundEvent: Extract<SiteEvent, { type: 'federation' }> | undefined;

  private constructor(
    readonly paths: SitePaths,
    private readonly store: RemoteSiteStore,
    private enrollment: EnrollmentState | undefined,
    private identity: IdentityKeyPair | undefined,
    private readonly options: SiteAgentOptions,
    private readonly releaseLock: () => void,
  ) {
    super();
    this.data = new SiteDataService(store);
    this.importJobs = new ImportJobs(this.data, (job) => this.emit('event', { type: 'import', job }));
  }

  static async open(options: SiteAgentOptions): Promise<SiteAgent> {
    const paths = ensureSiteDataDir(options.dataDir);
    const releaseLock = acquireDataDirLock(
      join(paths.dataDir, 'agent.lock'),
      (pid) => `another site agent is already running for ${paths.dataDir} (pid ${pid})`,
    );
    let store: RemoteSiteStore | undefined;
    let agent: SiteAgent;
    let interrupted: number;
    try {
      // Imports compute image features from the source while they decode it (see SiteStore).
      store = await openSiteStoreWorker(paths.database, { encoderDir: paths.encoders });
      const stored = await store.remote.getSetting(ENROLLMENT_SETTING);
      const enrollment = stored === undefined ? undefined : enrollmentStateSchema.parse(stored);
      const identity = existsSync(paths.identityKey) ? readIdentityKeyFile(paths.identityKey) : undefined;
      interrupted = await store.remote.closeInterruptedRounds(new Date().toISOString());
      agent = new SiteAgent(paths, store, enrollment, identity, options, releaseLock);
    } catch (error) {
      await store?.close();
      releaseLock();
      throw error;
    }
    if (interrupted > 0)
      agent.log('warn', `${interrupted} round(s) were interrupted when the agent last stopped`);
    agent.startConnection();
    return agent;
  }

  get isEnrolled(): boolean {
    return this.enrollment !== undefined;
  }

  async status(): Promise<SiteStatus> {
    const { enrollment, identity } = this;
    const siteFingerprint = identity ? await this.fingerprint(identity.publicKey) : '';
    const coordinatorFingerprint = enrollment
      ? await this.fingerprint(decodeKey(enrollment.coordinatorIdentityPublicKey))
      : '';
    // Read after the awaits: concurrent calls then report the state at the time they finish, so the
    // last status event a UI receives is never older than the one before it.
    const connection = this.connection?.status ?? {
      state: enrollment ? ('disconnected' as const) : ('not-enrolled' as const),
      since: new Date().toISOString(),
      detail: null,
      nextRetryAt: null,
    };
    return {
      revision: ++this.statusRevision,
      site:
        enrollment && identity
          ? { id: enrollment.siteId, name: enrollment.siteName, fingerprint: siteFingerprint }
          : null,
      coordinator: enrollment
        ? {
            url: enrollment.coordinatorUrl,
            name: enrollment.coordinatorName,
            certificateFingerprint: displayCertificateFingerprint(enrollment.certificateFingerprint),
            identityFingerprint: coordinatorFingerprint,
          }
        : null,
      connection,
      roster: this.roster,
    };
  }

  /** Enrolls this site from an invitation link (CLI and UI share this path). */
  async enroll(link: string): Promise<SiteStatus> {
    if (this.enrollment) {
      throw new EnrollmentError(
        `this site is already enrolled with '${this.enrollment.coordinatorName}' as '${this.enrollment.siteName}'`,
      );
    }
    this.identity ??= await loadOrCreateIdentity(this.paths);
    this.enrollment = await enrollWithLink(link, this.identity, SITE_SOFTWARE, (kind, bytes, url) =>
      this.auditSent(kind, bytes, `coordinator at ${url}`),
    );
    await this.store.remote.setSetting(ENROLLMENT_SETTING, this.enrollment);
    this.log('info', `enrolled with '${this.enrollment.coordinatorName}' as '${this.enrollment.siteName}'`);
    this.startConnection();
    const status = await this.status();
    this.emit('event', { type: 'status', status });
    return status;
  }

  /** The federation client, once enrolled. */
  get federation(): FederationClient | undefined {
    return this.federationClient;
  }

  /** The federation client, or a clear error before enrollment. */
  requireFederation(): FederationClient {
    if (!this.federationClient) throw new Error('this site is not enrolled with a coordinator yet');
    return this.federationClient;
  }

  /** The remote store, for the SiteApi handlers. */
  get storeRemote(): RemoteSiteStore['remote'] {
    return this.store.remote;
  }

  async close(): Promise<void> {
    this.connection?.stop();
    await this.trainer?.close();
    await this.store.close();
    this.releaseLock();
  }

  private loadBase(): Promise<BaseModel> {
    this.base ??= loadBaseModel(this.options.baseModelDir ?? defaultBaseModelDir());
    return this.base;
  }

  /** The audit log: every message this site sends (enrollment included), with its size and hash. */
  private auditSent(kind: string, bytes: Uint8Array, recipient: string): void {
    this.store.remote
      .audit({
        at: new Date().toISOString(),
        kind,
        recipient,
        bytes: bytes.byteLength,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        detail: {},
      })
      .catch((error: Error) => this.log('error', `audit entry not written: ${error.message}`));
  }

  private startConnection(): void {
    if (!this.enrollment || !this.identity || this.connection) return;
    const enrollment = this.enrollment;
    const connection = new CoordinatorConnection(
      enrollment,
      this.identity,
      SITE_SOFTWARE,
      this.options.reconnect,
    );
    connection.on('sent', ({ kind, bytes }) =>
      this.auditSent(kind, bytes, `${enrollment.coordinatorName} (${enrollment.coordinatorUrl})`),
    );
    const federation = new FederationClient({
      connection,
      store: this.store,
      data: this.data,
      identity: this.identity,
      enrollment,
      loadBase: () => this.loadBase(),
      encoderDir: this.paths.encoders,
      trainer: () => (this.trainer ??= startTrainer()),
      maskEngine: nativeMaskEngine(),
      ...(this.options.threads ? { threads: this.options.threads } : {}),
    });
    federation.on('event', (event) => {
      if (event.type === 'log') this.log(event.level, event.message);
      else {
        if (event.type === 'round') this.lastRoundEvent = { type: 'federation', event };
        this.emit('event', { type: 'federation', event });
      }
    });
    this.federationClient = federation;
    connection.on('status', async (status) => {
      if (status.state === 'connected') this.log('info', 'connected to the coordinator');
      else if (status.detail) this.log(status.state === 'refused' ? 'error' : 'warn', status.detail);
      this.emit('event', { type: 'status', status: await this.status() });
    });
    connection.on('roster', (sites) => void this.updateRoster(sites));
    this.connection = connection;
    connection.start();
  }

  private async updateRoster(sites: RosterEntry[]): Promise<void> {
    const own = this.enrollment?.siteId;
    this.roster = await Promise.all(
      sites
        .filter((site) => site.id !== own)
        .map(async (site) => ({
          id: site.id,
          name: site.name,
          fingerprint: await this.fingerprint(decodeKey(site.identityPublicKey)),
        })),
    );
    this.emit('event', { type: 'status', status: await this.status() });
  }

  private async fingerprint(publicKey: Uint8Array): Promise<string> {
    const key = Buffer.from(publicKey).toString('hex');
    let value = this.fingerprints.get(key);
    if (!value) this.fingerprints.set(key, (value = await keyFingerprint(publicKey)));
    return value;
  }

  /**
   * What a UI that subscribes now has missed: the latest log lines (oldest first), the imports in
   * flight, and where the running round is.
   */
  recentActivity(): SiteEvent[] {
    const active = this.federationClient?.activeRound;
    const round = this.lastRoundEvent;
    const roundInFlight =
      active &&
      round?.event.type === 'round' &&
      round.event.federationId === active.federationId &&
      round.event.round === active.round;
    return [
      ...this.recentLogs,
      ...this.importJobs.active().map((job) => ({ type: 'import' as const, job })),
      ...(roundInFlight ? [round] : []),
    ];
  }

  log(level: 'info' | 'warn' | 'error', message: string): void {
    const event = { type: 'log' as const, at: new Date().toISOString(), level, message };
    this.recentLogs.push(event);
    if (this.recentLogs.length > 50) this.recentLogs.shift();
    this.emit('event', event);
  }
}
