import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cohortBin } from '../core/cli/cohort-process.node.js';
import { cleanupTempDirs, tempDir } from './support/temp.js';

// `cohort demo` as a user runs it: a coordinator and three site processes, several seeds, the baselines.
afterAll(cleanupTempDirs);

// The real dataset lives beside the repository, never in it.
const VQA_RAD = resolve(import.meta.dirname, '..', '..', 'shared', 'datasets', 'vqa-rad');
const vqaRadPresent = existsSync(join(VQA_RAD, 'trainset.json'));
if (!vqaRadPresent) console.warn(`skipping the VQA-RAD demo test: ${VQA_RAD} not found`);

/** Runs the built CLI to its end (asynchronously, so the test's own event loop stays free). */
function cohort(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cohortBin, ...args], { stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

interface Figures {
  closed_acc: number | null;
  open_acc: number | null;
  overall_acc: number | null;
  loss?: number | null;
}

describe('cohort demo --seeds', () => {
  it('runs the federation and the baselines once per seed and reports the spread over seeds', async () => {
    const dir = tempDir();
    const json = join(dir, 'demo.json');
    const out = join(dir, 'out');
    const result = await cohort(
      'demo',
      '--seeds',
      '2',
      '--rounds',
      '2',
      '--per-site',
      '60',
      '--baselines',
      '--json',
      json,
      '--out',
      out,
    );
    expect(result.status, result.stderr + result.stdout.slice(-2000)).toBe(0);
    expect(result.stdout).toContain('run 2 of 2: seed 8');
    // Output is not a terminal, so each site's phases are printed: in the evaluation round, it evaluated.
    expect(result.stdout).toMatch(/Northgate Chest Clinic: evaluated/);
    expect(result.stdout.match(/Northgate Chest Clinic: trained/g)).toHaveLength(2 * 2);
    expect(result.stdout).toContain('Over 2 seeds (7, 8), mean ± sd on the same validation union:');
    expect(result.stdout).toMatch(/federated minus centralized: +[+−]\d+\.\d ± \d+\.\d points/);

    const report = JSON.parse(readFileSync(json, 'utf8')) as {
      seed: number;
      seeds: number[];
      rounds: { global: Figures | null }[];
      final: { model_dir: string | null; global: Figures };
      runs: {
        seed: number;
        final: { model_dir: string | null; global: Figures };
        baselines: { local_only: ({ site: string } & Figures)[]; centralized: Figures };
      }[];
      summary: {
        seeds: number[];
        federated: Record<
          'closed_acc' | 'open_acc' | 'overall_acc',
          { mean: number; sd: number | null; n: number }
        >;
        local_only: { site: string }[];
        closed_gap: { vs_centralized: { mean: number; n: number } };
      };
    };
    // The top level is the first run in full (the single-run report's shape), the runs are every seed's.
    expect(report.seed).toBe(7);
    expect(report.seeds).toEqual([7, 8]);
    expect(report.rounds).toHaveLength(2);
    expect(report.runs.map((run) => run.seed)).toEqual([7, 8]);
    expect(report.runs[0]!.final).toEqual(report.final);
    // Only the first run's adapter is kept in --out.
    expect(report.final.model_dir).toBe(join(out, 'final'));
    expect(existsSync(join(out, 'final'))).toBe(true);
    expect(report.runs[1]!.final.model_dir).toBeNull();

    // The summary is the mean over the runs, and the gap is paired within each seed.
    const closed = report.runs.map((run) => run.final.global.closed_acc!);
    expect(report.summary.federated.closed_acc.n).toBe(2);
    expect(report.summary.federated.closed_acc.mean).toBeCloseTo((closed[0]! + closed[1]!) / 2, 12);
    expect(report.summary.local_only).toHaveLength(3);
    const gaps = report.runs.map(
      (run) => run.final.global.closed_acc! - run.baselines.centralized.closed_acc!,
    );
    expect(report.summary.closed_gap.vs_centralized.mean).toBeCloseTo((gaps[0]! + gaps[1]!) / 2, 12);
    // Different seeds train different models (on the same data): their figures are not copies.
    const [a, b] = report.runs;
    expect(a!.final.global.loss).not.toBe(b!.final.global.loss);
  }, 300_000);

  it('refuses --keep with several seeds, and a seed count out of range', async () => {
    const keep = await cohort('demo', '--seeds', '3', '--keep');
    expect(keep.status).toBe(2);
    expect(keep.stderr.trim()).toMatch(
      /^cohort: .*demo: --keep explores one run; leave out --seeds to use it$/,
    );
    const zero = await cohort('demo', '--seeds', '0');
    expect(zero.status).toBe(2);
    expect(zero.stderr).toMatch(/--seeds/);
  });

  it('refuses outputs it could not write and a missing dataset before starting anything', async () => {
    const file = join(tempDir(), 'file');
    writeFileSync(file, '');
    const cases: [string[], RegExp][] = [
      [
        ['--json', '/nonexistent/x.json'],
        /^demo: --json \/nonexistent\/x\.json: directory \/nonexistent does not exist$/,
      ],
      [['--json', tempDir()], /^demo: --json .* is a directory$/],
      [['--out', file], /^demo: --out .*file exists and is not a directory$/],
      [['--out', join(file, 'sub')], /^demo: --out .*: .*file is not a directory$/],
      [['--dataset', 'vqa-rad:/nope'], /^demo: --dataset: \/nope does not exist$/],
    ];
    for (const [args, message] of cases) {
      const result = await cohort('demo', ...args);
      expect(result.status, args.join(' ')).toBe(2);
      // Nothing started: no coordinator step on stdout, one line on stderr.
      expect(result.stdout, args.join(' ')).toBe('');
      expect(result.stderr.trim().replace(/^cohort: error: /, '')).toMatch(message);
    }
  });
});

describe.skipIf(!vqaRadPresent)('cohort demo on VQA-RAD split by organ', () => {
  it('trains FeatVQA (LoRA, prompt and head) with FedAvg by default and improves on the starting model', async () => {
    const json = join(tempDir(), 'demo.json');
    const result = await cohort(
      'demo',
      '--dataset',
      `vqa-rad:${VQA_RAD}`,
      '--split-by',
      'organ',
      '--rounds',
      '2',
      '--json',
      json,
    );
    expect(result.status, result.stderr + result.stdout.slice(-2000)).toBe(0);
    expect(result.stdout).toContain(
      'fedavg, adapter lora+prompt+head, 2 local epoch(s) per round at lr 0.002',
    );
    const report = JSON.parse(readFileSync(json, 'utf8')) as {
      training: { strategy: string; adapter: string[] };
      sites: { name: string }[];
      rounds: { status: string; participants: number; global: Figures; upload_bytes_per_site: number }[];
      final: { global: Figures };
    };
    expect(report.training).toMatchObject({ strategy: 'fedavg', adapter: ['lora', 'prompt', 'head'] });
    expect(report.sites.map((site) => site.name)).toEqual([
      'Head & Neuro Hospital',
      'Chest Hospital',
      'Abdominal Hospital',
    ]);
    expect(report.rounds.map((round) => [round.status, round.participants])).toEqual([
      ['completed', 3],
      ['completed', 3],
    ]);
    // Every part goes up: LoRA (rank 8) on all of FeatVQA's modules, the prompt and the head over the
    // VQA-RAD answers, 469,962 values of 4 bytes (about 1.9 MB).
    expect(report.rounds[0]!.upload_bytes_per_site).toBeGreaterThan(1_850_000);
    expect(report.rounds[0]!.upload_bytes_per_site).toBeLessThan(2_100_000);
    // Version 0 (round 1's starting model) scores what the untrained head scores; two rounds improve on it.
    expect(report.final.global.closed_acc!).toBeGreaterThan(report.rounds[0]!.global.closed_acc! + 0.02);
  }, 300_000);
});
