/**
 * `cohort bench lm`: LoRA training throughput of decoder language models (ORT graph + TypeScript AdamW)
 * against eager PyTorch on the same model, shapes and thread count (bench/lm_reference.py, Debian's
 * python3-torch, run as a child process), KV-cache generation throughput, and peak RSS. Models have
 * random parameters (no weights can be downloaded here): a small GPT-2, a small Llama with GQA, and a
 * GPT-2-small-shaped 124 M-parameter model.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCommandArgs, parseIntegerOption } from '../core/cli/args.node.js';
import { CliError } from '../core/cli/errors.js';
import { expectedWeights, loraModules, parseLmConfig, type LmConfig } from '../core/ml/lm/config.js';
import { LanguageModel } from '../core/ml/lm/engine.node.js';
import { initLora } from '../core/ml/lm/model.js';
import { AdamW } from '../core/ml/optim.js';
import { Rng } from '../core/ml/rng.js';

const usage = `usage: cohort bench lm [--json FILE] [--threads N] [--steps N] [--models LIST]

models: small (GPT-2, 4 layers, d 256), small-llama (Llama, GQA 8:2, d 256), gpt2-124m (GPT-2 small
shape, 124 M random parameters). LoRA r 8 / alpha 16 on every attention and MLP projection.`;

interface BenchModel {
  hf: Record<string, unknown>;
  batch: number;
  seq: number;
}

/** Written out in full: the torch side reads config.json keys without HF's defaults. */
const GPT2_DEFAULTS = {
  model_type: 'gpt2',
  n_inner: null,
  activation_function: 'gelu_new',
  layer_norm_epsilon: 1e-5,
  tie_word_embeddings: true,
};

const MODELS: Record<string, BenchModel> = {
  small: {
    hf: { ...GPT2_DEFAULTS, vocab_size: 4096, n_positions: 512, n_embd: 256, n_layer: 4, n_head: 4 },
    batch: 8,
    seq: 128,
  },
  'small-llama': {
    hf: {
      model_type: 'llama',
      vocab_size: 4096,
      hidden_size: 256,
      intermediate_size: 688,
      num_hidden_layers: 4,
      num_attention_heads: 8,
      num_key_value_heads: 2,
      max_position_embeddings: 512,
      rms_norm_eps: 1e-6,
    },
    batch: 8,
    seq: 128,
  },
  'gpt2-124m': {
    hf: { ...GPT2_DEFAULTS, vocab_size: 50257, n_positions: 1024, n_embd: 768, n_layer: 12, n_head: 12 },
    batch: 4,
    seq: 128,
  },
};

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

/** Random base weights (normal, std 0.02; norm scales 1), seeded. */
function randomWeights(cfg: LmConfig, seed: number): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const weights = new Map<string, Float32Array>();
  for (const [name, shape] of expectedWeights(cfg)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    const isNorm = /(ln_\d|ln_f|norm|layernorm)\.weight$/.test(name);
    if (isNorm) data.fill(1);
    else if (!name.endsWith('.bias')) for (let i = 0; i < data.length; i++) data[i] = rng.normal() * 0.02;
    weights.set(name, data);
  }
  return weights;
}

type TorchResult = { train_tokens_per_s: number; step_ms: number; torch_version: string };

function torchBench(config: Record<string, unknown>, threads: number): TorchResult | string {
  const script = findRepoFile('bench/lm_reference.py');
  const python = '/usr/bin/python3';
  if (!script || !existsSync(python)) return 'skipped: /usr/bin/python3 or bench/lm_reference.py not found';
  const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0)
    return 'skipped: python3-torch is not installed (apt-get install python3-torch libopenblas0-pthread)';
  const t = String(threads);
  const env = { ...process.env, OMP_NUM_THREADS: t, OPENBLAS_NUM_THREADS: t, MKL_NUM_THREADS: t };
  const run = spawnSync(python, [script, 'bench', JSON.stringify(config)], {
    encoding: 'utf8',
    timeout: 1_800_000,
    env,
  });
  if (run.status !== 0) return `failed: ${run.stderr.trim().split('\n').pop()}`;
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as TorchResult;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

async function benchModel(name: string, spec: BenchModel, threads: number, steps: number) {
  const cfg = parseLmConfig(spec.hf);
  const warmup = 2; // the first two runs of a new ORT session also plan its memory
  const { batch, seq } = spec;
  const weights = randomWeights(cfg, 1);
  const params = [...weights.values()].reduce((s, w) => s + w.length, 0);
  const model = new LanguageModel(cfg, weights, { threads });
  const lora = initLora(cfg, { rank: 8, alpha: 16, targets: loraModules(cfg) }, 1);
  const loraParams = [...lora.tensors.values()].reduce((s, w) => s + w.length, 0);
  const rng = new Rng(2);
  const ids = Int32Array.from({ length: batch * seq }, () => rng.int(cfg.vocabSize));
  // The first quarter of every row is the prompt (label -100), as in the torch side.
  const labels = ids.map((v, i) => (i % seq < Math.floor(seq / 4) ? -100 : v));
  const opt = new AdamW(lora.tensors, { lr: 1e-4 });
  const stepMs: number[] = [];
  for (let s = 0; s < warmup + steps; s++) {
    const t0 = performance.now();
    const { grads } = await model.lossAndGrads(ids, labels, batch, seq, lora);
    opt.step(grads);
    if (s >= warmup) stepMs.push(performance.now() - t0);
  }
  const step = median(stepMs);
  const prompt = Array.from({ length: 8 }, () => rng.int(cfg.vocabSize));
  await model.generate(prompt, { maxNewTokens: 4, eosTokenIds: [] }, lora); // compiles the decode graph
  const gen = await model.generate(prompt, { maxNewTokens: 32, eosTokenIds: [] }, lora);
  await model.release();
  const peakRss = process.resourceUsage().maxRSS / 1024;
  const torch = torchBench(
    { config: spec.hf, threads, batch, seq, rank: 8, alpha: 16, steps, warmup },
    threads,
  );
  const ours = (batch * seq * 1000) / step;
  return {
    model: name,
    model_type: cfg.modelType,
    parameters: params,
    lora_parameters: loraParams,
    batch,
    seq,
    threads,
    step_ms: round3(step),
    steps_ms: stepMs.map(round3),
    train_tokens_per_s: round3(ours),
    generation_tokens_per_s: round3((gen.tokens.length * 1000) / gen.decodeMs),
    generation: { prompt_tokens: prompt.length, new_tokens: gen.tokens.length, greedy: true },
    peak_rss_mb: round3(peakRss),
    torch:
      typeof torch === 'string'
        ? { note: torch }
        : {
            step_ms: round3(torch.step_ms),
            train_tokens_per_s: round3(torch.train_tokens_per_s),
            version: torch.torch_version,
          },
    torch_ratio: typeof torch === 'string' ? null : round3(step / torch.step_ms),
  };
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs('bench lm', args, {
    json: { type: 'string' },
    threads: { type: 'string' },
    steps: { type: 'string' },
    models: { type: 'string' },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const threads = parseIntegerOption('bench lm', values.threads, '--threads', 1, 64) ?? 1;
  const steps = parseIntegerOption('bench lm', values.steps, '--steps', 1, 1000) ?? 3;
  const names = (values.models ?? Object.keys(MODELS).join(',')).split(',').filter(Boolean);
  for (const n of names)
    if (!MODELS[n])
      throw new CliError(`bench lm: unknown model '${n}' (${Object.keys(MODELS).join(', ')})`, 2);
  const results = [];
  for (const name of names) {
    const r = await benchModel(name, MODELS[name]!, threads, steps);
    results.push(r);
    console.log(
      `bench lm ${name}: ${(r.parameters / 1e6).toFixed(1)} M params, batch ${r.batch}×${r.seq}, ${threads} thread(s): ` +
        `train ${r.train_tokens_per_s} tokens/s (step ${r.step_ms} ms), generation ${r.generation_tokens_per_s} tokens/s, ` +
        `peak RSS ${r.peak_rss_mb} MB; ` +
        (r.torch_ratio === null
          ? `torch ${(r.torch as { note: string }).note}`
          : `torch ${(r.torch as { step_ms: number }).step_ms} ms/step → ratio ${r.torch_ratio}`),
    );
  }
  const out = {
    note: 'peak_rss_mb is the process maximum so far (models run in the order listed); timings on a shared machine',
    results,
  };
  if (values.json) await writeFile(values.json, `${JSON.stringify(out, null, 2)}\n`);
  return 0;
}
