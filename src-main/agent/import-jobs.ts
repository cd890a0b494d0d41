import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { ImportProgress, ImportSummary } from '../../core/data/site-data-api.js';
import type { ImportJob, SiteApiInput } from '../../core/site-api/contract.js';
import type { SiteDataService } from '../data/site-data-service.js';

/** How often a running job's progress may reach the UI (phase changes and the end always do). */
const PROGRESS_INTERVAL_MS = 100;

/**
 * The imports and SynthRad generations the UI started: each has an id the UI chose, pushes throttled
 * progress as `import` events, can be cancelled before its write transaction, and ends with one event
 * saying how it went. The store worker runs them one after another; a queued job says so.
 */
export class ImportJobs {
  private readonly jobs = new Map<string, { job: ImportJob; controller: AbortController }>();

  constructor(
    private readonly data: SiteDataService,
    private readonly emit: (job: ImportJob) => void,
  ) {}

  /** Queued and running jobs, oldest first. */
  active(): ImportJob[] {
    return [...this.jobs.values()].map(({ job }) => ({ ...job }));
  }

  cancel(jobId: string): boolean {
    const entry = this.jobs.get(jobId);
    if (!entry) return false;
    entry.controller.abort();
    return true;
  }

  importDataset(input: SiteApiInput<'data.import'>): Promise<ImportSummary> {
    const { jobId, ...request } = input;
    return this.run(
      { jobId, kind: 'import', format: request.format, source: request.path },
      (onProgress, signal) => {
        checkPath(request.path, 'the dataset');
        if (request.options?.questionsTable) checkPath(request.options.questionsTable, 'the questions table');
        if (request.options?.imagesDir) checkPath(request.options.imagesDir, 'the images folder');
        return this.data.importDataset(request, onProgress, signal);
      },
    );
  }

  generateSynthRad(input: SiteApiInput<'data.synth'>): Promise<ImportSummary> {
    const { jobId, ...request } = input;
    return this.run(
      { jobId, kind: 'synth', format: 'synthrad', source: `synthrad:${request.preset}` },
      (onProgress, signal) => this.data.generateSynthRad(request, onProgress, signal),
    );
  }

  private async run(
    identity: Pick<ImportJob, 'jobId' | 'kind' | 'format' | 'source'>,
    start: (onProgress: (progress: ImportProgress) => void, signal: AbortSignal) => Promise<ImportSummary>,
  ): Promise<ImportSummary> {
    if (this.jobs.has(identity.jobId))
      throw new Error(`an import named '${identity.jobId}' is already running`);
    const controller = new AbortController();
    const job: ImportJob = {
      ...identity,
      state: 'queued',
      startedAt: new Date().toISOString(),
      progress: null,
      message: null,
    };
    this.jobs.set(job.jobId, { job, controller });
    this.emit({ ...job });
    let lastSent = 0;
    const onProgress = (progress: ImportProgress) => {
      const phaseChanged = progress.phase !== job.progress?.phase;
      job.state = 'running';
      job.progress = progress;
      const now = Date.now();
      if (!phaseChanged && progress.done !== progress.total && now - lastSent < PROGRESS_INTERVAL_MS) return;
      lastSent = now;
      this.emit({ ...job });
    };
    try {
      const summary = await start(onProgress, controller.signal);
      this.finish(job, 'completed', summary.message);
      return summary;
    } catch (error) {
      this.finish(job, controller.signal.aborted ? 'cancelled' : 'failed', (error as Error).message);
      throw error;
    }
  }

  private finish(job: ImportJob, state: ImportJob['state'], message: string): void {
    this.jobs.delete(job.jobId);
    this.emit({ ...job, state, message });
  }
}

/**
 * The UI names files on the agent's machine: a relative path would depend on where the agent happened to
 * start, so only full paths are taken, and a missing one is said plainly before anything runs.
 */
function checkPath(path: string, what: string): void {
  if (!isAbsolute(path)) throw new Error(`give the full path of ${what} (${path} is relative)`);
  if (!existsSync(path)) throw new Error(`${path} does not exist`);
}
