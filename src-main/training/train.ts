/**
 * `cohort train`: trains an adapter on one dataset's training split (no federation), in a worker thread
 * with a progress bar, saves it (adapter.safetensors + adapter.json, the PEFT layout under peft/, and a
 * merged ONNX inference model merged.onnx) and reports validation accuracy.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCommandArgs, parseIntegerOption, requireOption } from '../../core/cli/args.node.js';
import { CliError } from '../../core/cli/errors.js';
import { ProgressBar } from '../../core/cli/progress.node.js';
import {
  adapterConfigFor,
  initAdapter,
  normalizeAnswerSet,
  type AdapterPart,
} from '../../core/ml/adapter.js';
import { encodeExamples } from '../../core/ml/features.js';
import { baseRef, exportMergedOnnx, exportPeft } from '../../core/ml/formats.js';
import { LORA_TARGETS, type LoraTarget, type ModelConfig } from '../../core/ml/model.js';
import { startTrainer } from '../../core/ml/trainer.node.js';
import { formatSummary, loadBase, majorityBaseline, round, saveAdapterDir, summarize } from './common.js';
import { loadSource, parseSplitBy } from './data-source.js';
import { imageInputsFor, imagesOf } from './image-inputs.js';
import { readAnswerSet } from '../../core/data/answers.node.js';
import { makeDir } from '../../core/util/make-dir.node.js';

const usage = `usage: cohort train --data SOURCE --out DIR [options]

  --data SOURCE         synth:<preset>[:<records>], vqa-rad:<dir> or site:<data-dir>; several with commas
  --answers SPEC        the public answer set: synth, vqa-rad:<dir> or a JSON list (default: the source's)
  --schedule S          cosine (default: warm-up then decay to 10 %) or constant learning rate
  --questions FILE      (vqa-rad) questions file in trainset.json format instead of <dir>/trainset.json
  --split-by B          (vqa-rad) validation split by image (default) or by question (see cohort eval)
  --out DIR             where to write the adapter
  --epochs N            passes over the training split (default 6)
  --adapter PARTS       comma-separated parts: lora,prompt,head (default all three)
  --rank R --alpha A    LoRA rank and alpha (default 16 and 2·rank)
  --targets LIST        LoRA targets: q_proj,k_proj,v_proj,o_proj[,fc1,fc2] (default all six), and for a
                        FeatVQA base img_proj (the feature projections; default on)
  --prompt-tokens N     soft prompt length (default 8)
  --lr LR               peak learning rate, cosine-decayed (default 0.001)
  --batch N             batch size (default 32)
  --weight-decay WD     AdamW weight decay (default 0.01)
  --seed S              initialisation and shuffling seed (default 1)
  --data-seed S         SynthRad generation seed (default 7)
  --threads N           ORT threads (default 1: bit-for-bit reproducible)
  --base DIR            base model directory (default the embedded models/tinymed-vqa; models/feat-vqa reads
                        the embedded image encoder's features, computed for the images at the start)
  --json                print the result as JSON (no progress bar)`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs('train', args, {
    data: { type: 'string' },
    questions: { type: 'string' },
    'split-by': { type: 'string' },
    out: { type: 'string' },
    epochs: { type: 'string' },
    adapter: { type: 'string' },
    rank: { type: 'string' },
    alpha: { type: 'string' },
    targets: { type: 'string' },
    'prompt-tokens': { type: 'string' },
    lr: { type: 'string' },
    batch: { type: 'string' },
    'weight-decay': { type: 'string' },
    seed: { type: 'string' },
    'data-seed': { type: 'string' },
    threads: { type: 'string' },
    base: { type: 'string' },
    answers: { type: 'string' },
    schedule: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const source = requireOption('train', values.data, '--data');
  const out = requireOption('train', values.out, '--out');
  const epochs = parseIntegerOption('train', values.epochs, '--epochs', 1, 1000) ?? 6;
  const batch = parseIntegerOption('train', values.batch, '--batch', 1, 4096) ?? 32;
  const seed = parseIntegerOption('train', values.seed, '--seed', 0, 2 ** 32 - 1) ?? 1;
  const dataSeed = parseIntegerOption('train', values['data-seed'], '--data-seed', 0, 2 ** 32 - 1);
  const threads = parseIntegerOption('train', values.threads, '--threads', 1, 64) ?? 1;
  const rank = parseIntegerOption('train', values.rank, '--rank', 1, 256) ?? 16;
  const promptTokens = parseIntegerOption('train', values['prompt-tokens'], '--prompt-tokens', 1, 64) ?? 8;
  const number = (v: string | undefined, flag: string, fallback: number) => {
    if (v === undefined) return fallback;
    const x = Number(v);
    if (!Number.isFinite(x) || x < 0) throw new CliError(`train: ${flag} must be a non-negative number`, 2);
    return x;
  };
  const lr = number(values.lr, '--lr', 0.001);
  const alpha = number(values.alpha, '--alpha', 2 * rank);
  const weightDecay = number(values['weight-decay'], '--weight-decay', 0.01);
  const parts = (values.adapter ?? 'lora,prompt,head')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  for (const p of parts)
    if (!['lora', 'prompt', 'head'].includes(p)) throw new CliError(`train: unknown adapter part '${p}'`, 2);
  const splitBy = parseSplitBy('train', values['split-by']);
  const json = Boolean(values.json);
  const base = await loadBase('train', values.base);
  const targets = (values.targets ?? defaultTargets(base.config.arch).join(','))
    .split(',')
    .map((t) => t.trim());
  for (const t of targets)
    if (!(LORA_TARGETS as readonly string[]).includes(t))
      throw new CliError(`train: unknown LoRA target '${t}'`, 2);

  const loaded = await loadSource('train', source, {
    ...(values.questions ? { questions: values.questions } : {}),
    ...(dataSeed !== undefined ? { seed: dataSeed } : {}),
    ...(splitBy ? { splitBy } : {}),
  });
  const trainRecords = loaded.dataset.records.filter((r) => r.split === 'train');
  const valRecords = loaded.dataset.records.filter((r) => r.split === 'val');
  if (trainRecords.length === 0) throw new CliError('train: the training split is empty');
  const schedule = values.schedule ?? 'cosine';
  if (schedule !== 'cosine' && schedule !== 'constant')
    throw new CliError('train: --schedule must be cosine or constant', 2);
  let answers = loaded.answers;
  if (values.answers) {
    try {
      answers = await readAnswerSet(values.answers);
    } catch (error) {
      throw new CliError(`train: ${(error as Error).message}`, 2);
    }
  }
  if (!answers) {
    answers = normalizeAnswerSet(trainRecords.map((r) => r.answer));
    console.error(
      "train: no public answer list (answer_all_list.json) found; using the training split's answers",
    );
  }
  const config = adapterConfigFor(parts as AdapterPart[]);
  config.lora = { ...config.lora, rank, alpha, targets: targets as LoraTarget[] };
  config.prompt = { ...config.prompt, tokens: promptTokens };
  let adapter: ReturnType<typeof initAdapter>;
  try {
    adapter = initAdapter(base, config, answers, seed);
  } catch (error) {
    throw new CliError(`train: ${(error as Error).message} (add 'head' to --adapter)`, 2);
  }
  const images = await imageInputsFor(base, imagesOf(loaded.dataset.records, loaded.dataset.images), {
    threads,
  });
  const trainEx = encodeExamples(trainRecords, images, adapter.answers, base.config);
  const valEx = encodeExamples(valRecords, images, adapter.answers, base.config);

  const trainer = startTrainer();
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    const steps =
      Math.ceil([...trainEx.labels].filter((l) => l >= 0).length / Math.min(batch, trainEx.n)) * epochs;
    const bar = new ProgressBar('train', steps, !json);
    const { adapter: trained, stats } = await trainer.train({
      base,
      adapter,
      examples: trainEx,
      epochs,
      batchSize: batch,
      lr,
      weightDecay,
      clipNorm: 1,
      seed,
      threads,
      schedule,
      signal: controller.signal,
      onProgress: (p) => bar.update(p.step, `epoch ${p.epoch + 1}/${p.epochs} loss ${p.loss.toFixed(3)}`),
    });
    const val =
      valEx.n > 0
        ? summarize(await trainer.evaluate({ base, adapter: trained, examples: valEx, threads }))
        : null;
    const baseline = valRecords.length > 0 ? majorityBaseline(trainRecords, valRecords) : null;
    const meta = {
      data: source,
      epochs,
      seed,
      lr,
      batch,
      train: {
        n: trainEx.n,
        steps: stats.steps,
        loss: round(stats.lastEpochLoss),
        outside_answer_set: stats.skipped,
      },
      validation: val,
    };
    await saveAdapterDir(out, trained, baseRef(base), meta);
    const peft = exportPeft(trained, baseRef(base));
    makeDir(join(out, 'peft'));
    await writeFile(join(out, 'peft', 'adapter_config.json'), peft.config);
    await writeFile(join(out, 'peft', 'adapter_model.safetensors'), peft.weights);
    // Base + adapter folded into one inference model (batch 1) for plain ONNX Runtime.
    await writeFile(
      join(out, 'merged.onnx'),
      exportMergedOnnx(base.config, base.weights, trained, 1, base.hash),
    );
    const result = { out, base: base.hash, ...meta, majority_baseline: baseline, ms: stats.ms };
    if (json) console.log(JSON.stringify(result));
    else {
      console.log(
        `trained ${stats.steps} steps on ${trainEx.n} questions (final-epoch loss ${stats.lastEpochLoss.toFixed(4)}) in ${(stats.ms / 1000).toFixed(1)} s`,
      );
      if (stats.skipped)
        console.log(
          `  ${stats.skipped} training answer(s) are outside the answer set (${loaded.answerSource}) and were skipped`,
        );
      if (val) console.log(`validation: ${formatSummary(val)}`);
      if (baseline)
        console.log(
          `majority baseline: closed ${pct(baseline.closed_acc)} ('${baseline.closed_answer}'), open ${pct(baseline.open_acc)}, overall ${pct(baseline.overall_acc)}`,
        );
      console.log(
        `adapter written to ${out} (PEFT layout in ${join(out, 'peft')}, merged ONNX model ${join(out, 'merged.onnx')})`,
      );
    }
    return 0;
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw new CliError('train: cancelled', 130);
    throw error;
  } finally {
    process.off('SIGINT', onSigint);
    await trainer.close();
  }
}

/** Every LoRA target the base architecture has. */
const defaultTargets = (arch: ModelConfig['arch']): LoraTarget[] =>
  LORA_TARGETS.filter((t) => arch === 'feat-vqa' || t !== 'img_proj');

const pct = (x: number | null) => (x === null ? '—' : `${(x * 100).toFixed(1)}%`);
