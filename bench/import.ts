/**
 * `cohort bench import`: imports VQA-RAD into a fresh site store (through the store worker, as the app
 * does) a few times and reports wall time, images/s, questions/s, the time spent decoding and writing,
 * the re-import (dedup) time and the database size.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCommandArgs, parseIntegerOption } from '../core/cli/args.node.js';
import { CliError } from '../core/cli/errors.js';
import { SiteDataService } from '../src-main/data/site-data-service.js';
import type { ImportPhase } from '../src-main/importers/types.js';

const usage = `usage: cohort bench import [--json FILE] [--dataset DIR] [--runs N]

Imports VQA-RAD (default: ../shared/datasets/vqa-rad beside the repository) into a fresh site store
N times (default 3) and reports the median wall time, images/s, questions/s, decode and write time,
re-import time and database size.`;

/** The repository root, from source (bench/) or from dist/bench/. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the repository root');
    dir = parent;
  }
  return dir;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const round = (x: number, digits = 3) => Number(x.toFixed(digits));

interface RunResult {
  wall_s: number;
  read_s: number;
  decode_s: number;
  write_s: number;
  reimport_s: number;
  images: number;
  questions: number;
  db_bytes: number;
}

async function oneRun(dataset: string): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'cohort-bench-import-'));
  try {
    const database = join(dir, 'site.db');
    const service = await SiteDataService.open(database);
    const firstSeen = new Map<ImportPhase, number>();
    const started = performance.now();
    const summary = await service.importDataset({ format: 'vqa-rad', path: dataset }, (p) => {
      if (!firstSeen.has(p.phase)) firstSeen.set(p.phase, performance.now());
    });
    const finished = performance.now();
    const reimportStarted = performance.now();
    const again = await service.importDataset({ format: 'vqa-rad', path: dataset });
    const reimport = performance.now() - reimportStarted;
    if (!again.nothingNew) throw new Error('re-import added records: dedup is broken');
    await service.close();
    // Closing checkpoints the WAL into the file; count whatever is left of it too.
    const size = (path: string) => (existsSync(path) ? statSync(path).size : 0);
    const at = (phase: ImportPhase) => firstSeen.get(phase) ?? finished;
    return {
      wall_s: (finished - started) / 1000,
      read_s: (at('decode') - at('read')) / 1000,
      decode_s: (at('write') - at('decode')) / 1000,
      write_s: (at('done') - at('write')) / 1000,
      reimport_s: reimport / 1000,
      images: summary.images.added,
      questions: summary.questions.added,
      db_bytes: size(database) + size(`${database}-wal`),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs('bench import', args, {
    json: { type: 'string' },
    dataset: { type: 'string' },
    runs: { type: 'string' },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const runs = parseIntegerOption('bench import', values.runs, '--runs', 1, 20) ?? 3;
  const dataset = resolve(values.dataset ?? join(repoRoot(), '..', 'shared', 'datasets', 'vqa-rad'));
  if (!existsSync(join(dataset, 'trainset.json'))) {
    throw new CliError(`bench import: no VQA-RAD dataset at ${dataset} (give one with --dataset DIR)`, 2);
  }
  const results: RunResult[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await oneRun(dataset);
    results.push(r);
    console.error(
      `run ${i + 1}/${runs}: ${r.wall_s.toFixed(2)} s (decode ${r.decode_s.toFixed(2)} s, write ${r.write_s.toFixed(2)} s)`,
    );
  }
  const wall = median(results.map((r) => r.wall_s));
  const { images, questions, db_bytes } = results[0]!;
  const result = {
    bench: 'import',
    dataset: 'vqa-rad',
    runs,
    images,
    questions,
    wall_s_median: round(wall),
    wall_s: results.map((r) => round(r.wall_s)),
    images_per_s: round(images / wall, 1),
    questions_per_s: round(questions / wall, 1),
    read_s_median: round(median(results.map((r) => r.read_s))),
    decode_s_median: round(median(results.map((r) => r.decode_s))),
    write_s_median: round(median(results.map((r) => r.write_s))),
    reimport_s_median: round(median(results.map((r) => r.reimport_s))),
    db_bytes,
    db_mib: round(db_bytes / 2 ** 20, 2),
    machine: { cpus: availableParallelism(), model: cpus()[0]?.model ?? 'unknown', node: process.version },
    at: new Date().toISOString(),
  };
  console.log(
    [
      `VQA-RAD import (${images} images, ${questions} questions), median of ${runs}:`,
      `  wall time        ${result.wall_s_median.toFixed(2)} s  (target < 10 s)`,
      `  images/s         ${result.images_per_s}`,
      `  questions/s      ${result.questions_per_s}`,
      `  read / decode / write  ${result.read_s_median.toFixed(2)} / ${result.decode_s_median.toFixed(2)} / ${result.write_s_median.toFixed(2)} s`,
      `  re-import        ${result.reimport_s_median.toFixed(2)} s (adds nothing)`,
      `  database size    ${result.db_mib} MiB`,
    ].join('\n'),
  );
  if (values.json) await writeFile(values.json, `${JSON.stringify(result, null, 2)}\n`);
  return 0;
}
