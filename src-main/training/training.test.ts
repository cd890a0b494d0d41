import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { defaultBaseModelDir } from '../../core/ml/base-model.node.js';
import { run as evalRun } from './eval.js';
import { run as trainRun } from './train.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const vqaRad = join(repoRoot, '..', 'shared', 'datasets', 'vqa-rad');
const haveBase = existsSync(join(defaultBaseModelDir(), 'config.json'));
const haveVqaRad = existsSync(join(vqaRad, 'trainset.json'));
if (!haveBase) console.warn('skipping cohort train/eval tests: no base model in models/tinymed-vqa');
if (!haveVqaRad) console.warn(`skipping VQA-RAD tests: ${vqaRad} is absent`);

/** Runs a command module and returns its exit code and what it printed on stdout. */
async function capture(run: (args: string[]) => Promise<number>, args: string[]) {
  const lines: string[] = [];
  const spy = vi
    .spyOn(console, 'log')
    .mockImplementation((...parts: unknown[]) => void lines.push(parts.join(' ')));
  try {
    const code = await run(args);
    return { code, out: lines.join('\n') };
  } finally {
    spy.mockRestore();
  }
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cohort-train-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!haveBase)('cohort train / eval (SynthRad)', () => {
  it('trains an adapter, writes it in both layouts, and evaluates it as JSON', async () => {
    const out = join(dir, 'synth');
    const train = await capture(trainRun, [
      '--data',
      'synth:chest-clinic:300',
      '--out',
      out,
      '--epochs',
      '2',
      '--json',
    ]);
    expect(train.code).toBe(0);
    const summary = JSON.parse(train.out) as { train: { steps: number } };
    expect(summary.train.steps).toBeGreaterThan(0);
    for (const f of [
      'adapter.json',
      'adapter.safetensors',
      'peft/adapter_config.json',
      'peft/adapter_model.safetensors',
      'merged.onnx',
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const evaluated = await capture(evalRun, ['--model', out, '--data', 'synth:chest-clinic:300', '--json']);
    expect(evaluated.code).toBe(0);
    const r = JSON.parse(evaluated.out) as {
      n: number;
      closed: { n: number; acc: number };
      open: { n: number; acc: number };
      overall_acc: number;
    };
    expect(r.n).toBe(r.closed.n + r.open.n);
    expect(r.n).toBeGreaterThan(20);
    expect(r.overall_acc).toBeGreaterThanOrEqual(0);
    expect(r.overall_acc).toBeLessThanOrEqual(1);
  });

  it('rejects bad arguments with a one-line error', async () => {
    await expect(trainRun(['--data', 'synth:nowhere', '--out', dir])).rejects.toThrow(
      /unknown SynthRad preset/,
    );
    await expect(
      trainRun(['--data', 'synth:general', '--out', dir, '--adapter', 'lora,wings']),
    ).rejects.toThrow(/unknown adapter part/);
    await expect(evalRun(['--data', 'synth:general'])).rejects.toThrow(/--model is required/);
  });
});

describe.skipIf(!haveBase || !haveVqaRad)('cohort train / eval on VQA-RAD', () => {
  it('beats the majority-answer baseline on CLOSED questions of the by-image validation split', async () => {
    const out = join(dir, 'vqa-rad');
    // A shortened run (4 epochs, rank 8, strong weight decay) keeps the suite quick; the default run is in the report.
    const train = await capture(trainRun, [
      '--data',
      `vqa-rad:${vqaRad}`,
      '--out',
      out,
      '--epochs',
      '4',
      '--weight-decay',
      '1',
      '--rank',
      '8',
      '--json',
    ]);
    expect(train.code).toBe(0);
    const evaluated = await capture(evalRun, ['--model', out, '--data', `vqa-rad:${vqaRad}`, '--json']);
    const r = JSON.parse(evaluated.out) as {
      closed: { n: number; acc: number };
      majority_baseline: { closed_acc: number };
    };
    console.log(`VQA-RAD val closed ${r.closed.acc} vs majority ${r.majority_baseline.closed_acc}`);
    expect(r.closed.n).toBeGreaterThan(100);
    expect(r.closed.acc).toBeGreaterThan(r.majority_baseline.closed_acc + 0.05);
  }, 300_000);

  it('evaluates every question of a --questions file', async () => {
    const questions = JSON.parse(await readFile(join(vqaRad, 'trainset.json'), 'utf8')) as unknown[];
    const file = join(dir, 'questions.json');
    await writeFile(file, JSON.stringify(questions.slice(0, 25)));
    const r = await capture(evalRun, [
      '--model',
      defaultBaseModelDir(),
      '--data',
      `vqa-rad:${vqaRad}`,
      '--questions',
      file,
      '--json',
    ]);
    const parsed = JSON.parse(r.out) as { n: number };
    expect(parsed.n).toBe(25);
  });
});
