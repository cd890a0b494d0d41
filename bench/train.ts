/**
 * `cohort bench train`: times one adapter training step of TinyMed-VQA (ORT graph + TypeScript AdamW),
 * evaluation throughput and peak memory, and — in the same run, alternating — the same step in eager
 * PyTorch (bench/torch_reference.py with Debian's python3-torch), giving `torch_ratio` = ours / torch.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCommandArgs, parseIntegerOption } from '../core/cli/args.node.js';
import { generateSynthRad } from '../core/data/synthrad.js';
import { countParams, DEFAULT_ADAPTER_CONFIG, initAdapter } from '../core/ml/adapter.js';
import { defaultBaseModelDir, loadBaseModel } from '../core/ml/base-model.node.js';
import { evaluate, releaseGraphs, trainLocal, type BaseModel } from '../core/ml/engine.node.js';
import { encodeExamples, numPatches } from '../core/ml/features.js';
import { sequenceLength } from '../core/ml/model.js';

const usage = `usage: cohort bench train [--json FILE] [--batch N] [--threads N] [--steps N] [--rounds N]`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function findRepoFile(rel: string): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, rel))) return join(dir, rel);
    dir = dirname(dir);
  }
  return null;
}

function torchStep(config: Record<string, number>): { step_ms: number; torch_version: string } | null {
  const script = findRepoFile('bench/torch_reference.py');
  const python = '/usr/bin/python3';
  if (!script || !existsSync(python)) return null;
  const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return null;
  // The same thread count for torch's OpenMP pool and its BLAS (Debian's torch links the system BLAS).
  const threads = String(config.threads);
  const env = {
    ...process.env,
    OMP_NUM_THREADS: threads,
    OPENBLAS_NUM_THREADS: threads,
    MKL_NUM_THREADS: threads,
  };
  const run = spawnSync(python, [script, JSON.stringify(config)], {
    encoding: 'utf8',
    timeout: 600_000,
    env,
  });
  if (run.status !== 0) throw new Error(`torch reference failed: ${run.stderr.trim().split('\n').pop()}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as { step_ms: number; torch_version: string };
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs('bench train', args, {
    json: { type: 'string' },
    batch: { type: 'string' },
    threads: { type: 'string' },
    steps: { type: 'string' },
    rounds: { type: 'string' },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const batch = parseIntegerOption('bench train', values.batch, '--batch', 1, 1024) ?? 32;
  const threads = parseIntegerOption('bench train', values.threads, '--threads', 1, 64) ?? 1;
  const steps = parseIntegerOption('bench train', values.steps, '--steps', 3, 10_000) ?? 30;
  const rounds = parseIntegerOption('bench train', values.rounds, '--rounds', 1, 10) ?? 2;
  const warmup = 5;

  const base: BaseModel = await loadBaseModel(defaultBaseModelDir());
  const cfg = base.config;
  if (cfg.arch !== 'tinymed-vqa') throw new Error('bench train measures the embedded TinyMed-VQA base');
  const config = DEFAULT_ADAPTER_CONFIG;
  const data = generateSynthRad({ preset: 'general', n: batch * (steps + warmup), seed: 99 });
  const adapter = initAdapter(base, config, base.config.answers, 1);
  const examples = encodeExamples(data.records, data.images, adapter.answers, base.config);
  const seqLen = sequenceLength(cfg, config.prompt.tokens);
  const torchConfig = {
    batch,
    threads,
    steps,
    warmup,
    dim: base.config.dim,
    heads: base.config.heads,
    layers: base.config.layers,
    mlp_dim: base.config.mlpDim,
    patches: numPatches(cfg),
    patch_dim: cfg.patchSize ** 2,
    max_tokens: base.config.maxTokens,
    ngram_slots: base.config.ngramSlots,
    hash_buckets: base.config.hashBuckets,
    sketch_dim: base.config.sketchDim,
    prompt_tokens: config.prompt.tokens,
    rank: config.lora.rank,
    alpha: config.lora.alpha,
    answers: adapter.answers.length,
  };

  const oursRounds: number[] = [];
  const torchRounds: number[] = [];
  let torchVersion: string | null = null;
  let torchMissing = false;
  for (let round = 0; round < rounds; round++) {
    const stamps: number[] = [];
    await trainLocal({
      base,
      adapter,
      examples,
      epochs: 1,
      batchSize: batch,
      lr: 1e-3,
      weightDecay: 0.01,
      clipNorm: 1,
      seed: 1,
      threads,
      onProgress: () => stamps.push(performance.now()),
    });
    const durations = stamps.slice(1).map((t, i) => t - stamps[i]!);
    oursRounds.push(median(durations.slice(warmup - 1)));
    if (!torchMissing) {
      const t = torchStep(torchConfig);
      if (t) {
        torchRounds.push(t.step_ms);
        torchVersion = t.torch_version;
      } else torchMissing = true;
    }
  }
  // Evaluation throughput (forward-only graph, batch 64).
  await evaluate({ base, adapter, examples, threads, batchSize: 64 });
  const evalStart = performance.now();
  await evaluate({ base, adapter, examples, threads, batchSize: 64 });
  const evalMs = performance.now() - evalStart;
  await releaseGraphs();

  const stepMs = median(oursRounds);
  const torchMs = torchRounds.length ? median(torchRounds) : null;
  const params = countParams(adapter);
  const frozen = [...base.weights.values()].reduce((s, w) => s + w.length, 0);
  const result = {
    trainable_params: params.total,
    frozen_params: frozen,
    batch,
    seq_len: seqLen,
    threads,
    step_ms: round3(stepMs),
    train_samples_per_s: round3((batch * 1000) / stepMs),
    eval_samples_per_s: round3((examples.n * 1000) / evalMs),
    peak_rss_mb: round3(process.resourceUsage().maxRSS / 1024),
    torch:
      torchMs === null
        ? null
        : { step_ms: round3(torchMs), version: torchVersion, rounds: torchRounds.map(round3) },
    torch_ratio: torchMs === null ? null : round3(stepMs / torchMs),
    ours_rounds_ms: oursRounds.map(round3),
    base_model: base.hash,
    adapter: 'lora(r=8 on q/k/v/o/fc1/fc2) + prompt(8) + head',
  };
  console.log(
    `bench train: step ${result.step_ms} ms (batch ${batch}, seq ${seqLen}, ${threads} thread(s)), ` +
      `${result.train_samples_per_s} train samples/s, ${result.eval_samples_per_s} eval samples/s, peak RSS ${result.peak_rss_mb} MB; ` +
      (torchMs === null
        ? 'torch: not installed'
        : `torch ${result.torch!.step_ms} ms → ratio ${result.torch_ratio}`),
  );
  if (values.json) await writeFile(values.json, `${JSON.stringify(result, null, 2)}\n`);
  return 0;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
