import { join } from 'node:path';
import { CohortProcess, cohort, type JsonEvent } from '../../core/cli/cohort-process.node.js';
import { SYNTHRAD_ANSWERS } from '../../core/data/synthrad.js';
import type { FederationConfig } from '../../core/protocol/federation.js';
import { AdminClient } from '../../server/admin-client.js';
import type { RoundEvent, RoundOutcome } from '../../server/rounds/round-engine.js';
import type { SitePolicy } from '../../core/site-api/contract.js';
import { sitePaths } from '../../src-main/agent/site-data-dir.js';
import { approvePendingConfig } from '../../src-main/federation/config-approval.js';
import { SiteStore } from '../../src-main/store/site-store.js';
import { freePort, tempDir } from './temp.js';

/** Opens a site's store next to its running agent (SQLite WAL: both may), runs `use`, closes it. */
async function withSiteStore<T>(site: ProcessSite, use: (store: SiteStore) => T | Promise<T>): Promise<T> {
  const store = new SiteStore(sitePaths(site.dataDir).database);
  try {
    return await use(store);
  } finally {
    store.close();
  }
}

const PRESETS = ['chest-clinic', 'neuro-center', 'abdominal-imaging', 'rural-xray'];

export interface ProcessSite {
  name: string;
  dataDir: string;
  process: CohortProcess;
}

/**
 * A coordinator and sites as real processes (`cohort server start`, `cohort site serve`), each with a
 * small SynthRad dataset, participating, for tests that kill and restart them.
 */
export class ProcessFederation {
  readonly sites: ProcessSite[] = [];
  coordinator!: CohortProcess;
  admin!: AdminClient;
  private dataDir = '';

  get coordinatorDataDir(): string {
    return this.dataDir;
  }

  static async start(siteCount: number, questionsPerSite = 40): Promise<ProcessFederation> {
    const federation = new ProcessFederation();
    const port = await freePort();
    federation.dataDir = join(tempDir('cohort-pf-'), 'coordinator');
    cohort('server', 'init', '--data-dir', federation.dataDir, '--public-url', `https://127.0.0.1:${port}`);
    await federation.startCoordinator();
    federation.admin = new AdminClient('test', federation.dataDir);
    try {
      await federation.addSites(siteCount, questionsPerSite);
    } catch (error) {
      // Leave no process behind when setting up fails half-way.
      await federation.stop();
      throw error;
    }
    return federation;
  }

  private async addSites(siteCount: number, questionsPerSite: number): Promise<void> {
    for (let i = 0; i < siteCount; i++) {
      const name = `Site ${i + 1}`;
      const dataDir = join(tempDir('cohort-pf-site-'), 'data');
      const { link } = JSON.parse(
        cohort('server', 'invite', '--data-dir', this.dataDir, '--site', name, '--json'),
      ) as { link: string };
      cohort('site', 'enroll', '--data-dir', dataDir, link);
      cohort(
        'site',
        'synth',
        '--data-dir',
        dataDir,
        '--preset',
        PRESETS[i % PRESETS.length]!,
        '--n',
        String(questionsPerSite),
        '--seed',
        String(i + 1),
      );
      cohort('site', 'participate', '--data-dir', dataDir, 'on', '--auto-accept-roster', 'on');
      const site: ProcessSite = { name, dataDir, process: undefined as unknown as CohortProcess };
      this.sites.push(site);
      await this.startSite(site);
    }
  }

  async startCoordinator(): Promise<void> {
    this.coordinator = new CohortProcess(['server', 'start', '--data-dir', this.dataDir]);
    await this.coordinator.waitForEvent((e) => e.event === 'listening', 'the coordinator to listen');
  }

  async startSite(site: ProcessSite): Promise<void> {
    site.process = new CohortProcess([
      'site',
      'serve',
      '--data-dir',
      site.dataDir,
      '--reconnect-max-ms',
      '500',
    ]);
    await site.process.waitForEvent(
      (e) => e.event === 'connection' && e.state === 'connected',
      `${site.name} to connect`,
    );
  }

  async createFederation(id: string, overrides: Partial<FederationConfig>): Promise<void> {
    const created = await this.admin.post<{ version: { configHash: string } }>('/v1/admin/federations', {
      id,
      name: id,
      answers: [...SYNTHRAD_ANSWERS],
      overrides: {
        local: { epochs: 1, batchSize: 16, lr: 3e-3, weightDecay: 0, gradClip: 1 },
        deadlines: { trainingMs: 60_000, stageMs: 15_000 },
        ...overrides,
      },
    });
    await this.approve(id, created.version.configHash);
  }

  /**
   * Each site's operator approves the federation's configuration by the hash the consortium circulates
   * (config pinning: the first offer with exactly that hash is pinned). In this process, on the site's
   * store, as `cohort site federation approve` does (the command itself is tested in federation-cli).
   */
  async approve(id: string, configHash: string): Promise<void> {
    for (const site of this.sites)
      await withSiteStore(site, (store) => approvePendingConfig(store, id, configHash));
  }

  /** Changes every site's security policy, as its operator would (`cohort site federation policy`). */
  async setPolicy(change: Partial<SitePolicy>): Promise<void> {
    for (const site of this.sites)
      await withSiteStore(site, (store) => store.setSitePolicy({ ...store.sitePolicy(), ...change }));
  }

  /** Runs rounds through the admin API; `onEvent` sees each coordinator event as it happens. */
  async runRounds(
    id: string,
    count: number,
    onEvent: (event: RoundEvent) => void = () => undefined,
  ): Promise<RoundOutcome[]> {
    const outcomes: RoundOutcome[] = [];
    await this.admin.stream(`/v1/admin/federations/${id}/rounds`, { count }, (raw) => {
      const event = raw as RoundEvent;
      if (event.type === 'round-finished') outcomes.push(event.outcome);
      onEvent(event);
    });
    return outcomes;
  }

  /** Kills a site (SIGKILL, no goodbye) the moment it reports `phase` in `round`. */
  killSiteAt(site: ProcessSite, round: number, phase: string): Promise<void> {
    return new Promise((resolve) => {
      const process = site.process;
      const listener = (event: JsonEvent) => {
        if (
          event.event === 'round' &&
          event.round === round &&
          event.phase === phase &&
          process.child.exitCode === null
        ) {
          process.child.kill('SIGKILL');
          resolve();
        }
      };
      process.onEvent(listener);
    });
  }

  async federation(id: string) {
    return this.admin.get<{
      latestVersion: { version: number; hash: string };
      rounds: { round: number; state: string; error: string | null }[];
    }>(`/v1/admin/federations/${id}`);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sites.map((site) => site.process?.stop()), this.coordinator?.stop()]);
  }
}
