/**
 * `cohort eval`: evaluates an adapter (or the bare base model) on a dataset and prints accuracy on
 * closed and open questions. Without --questions it uses the validation split; with --questions FILE
 * every question in FILE is evaluated.
 */
import { existsSync } from 'node:fs';
import { parseCommandArgs, parseIntegerOption, requireOption } from '../../core/cli/args.node.js';
import { CliError } from '../../core/cli/errors.js';
import { ProgressBar } from '../../core/cli/progress.node.js';
import { evaluate, releaseGraphs } from '../../core/ml/engine.node.js';
import { encodeExamples } from '../../core/ml/features.js';
import {
  formatSummary,
  isAdapterDir,
  loadAdapterDir,
  loadBase,
  majorityBaseline,
  summarize,
} from './common.js';
import { loadSource, parseSplitBy } from './data-source.js';
import { imageInputsFor, imagesOf } from './image-inputs.js';

const usage = `usage: cohort eval --model DIR --data SOURCE [options]

  --model DIR         an adapter directory (from cohort train) or a base model directory
  --data SOURCE       synth:<preset>[:<records>], vqa-rad:<dir>, or site:<data-dir> (a site's own store)
  --questions FILE    (vqa-rad) evaluate every question in FILE (trainset.json format)
  --split S           val (default), train or all; --questions implies all
  --split-by B        (vqa-rad) image (default: unseen images in validation) or question (held-out
                      questions about images also in training, like VQA-RAD's official test split)
  --data-seed S       SynthRad generation seed (default 7, as in cohort train)
  --threads N         ORT threads (default 1)
  --base DIR          base model directory (default the embedded models/tinymed-vqa; models/feat-vqa reads
                      the embedded image encoder's features, computed for the images at the start)
  --json              print {"n", "closed":{"n","acc"}, "open":{"n","acc"}, "overall_acc", …}`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs('eval', args, {
    model: { type: 'string' },
    data: { type: 'string' },
    questions: { type: 'string' },
    split: { type: 'string' },
    'split-by': { type: 'string' },
    'data-seed': { type: 'string' },
    threads: { type: 'string' },
    base: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const modelDir = requireOption('eval', values.model, '--model');
  if (!existsSync(modelDir)) throw new CliError(`eval: --model ${modelDir} does not exist`, 2);
  const source = requireOption('eval', values.data, '--data');
  const threads = parseIntegerOption('eval', values.threads, '--threads', 1, 64) ?? 1;
  const dataSeed = parseIntegerOption('eval', values['data-seed'], '--data-seed', 0, 2 ** 32 - 1);
  const split = values.split ?? (values.questions ? 'all' : 'val');
  if (!['val', 'train', 'all'].includes(split))
    throw new CliError('eval: --split must be val, train or all', 2);
  const json = Boolean(values.json);
  const splitBy = parseSplitBy('eval', values['split-by']);

  const adapterMode = isAdapterDir(modelDir);
  const base = await loadBase('eval', adapterMode ? values.base : (values.base ?? modelDir));
  const adapter = adapterMode ? (await loadAdapterDir('eval', modelDir, base)).adapter : null;
  const loaded = await loadSource('eval', source, {
    ...(values.questions ? { questions: values.questions } : {}),
    ...(dataSeed !== undefined ? { seed: dataSeed } : {}),
    ...(splitBy ? { splitBy } : {}),
  });
  const records = loaded.dataset.records.filter((r) => split === 'all' || r.split === split);
  if (records.length === 0) throw new CliError(`eval: no questions in the ${split} split of ${source}`);
  const answers = adapter ? adapter.answers : base.config.answers;
  const images = await imageInputsFor(base, imagesOf(records, loaded.dataset.images), { threads });
  const examples = encodeExamples(records, images, answers, base.config);
  const bar = new ProgressBar('eval', examples.n, !json);
  try {
    const result = summarize(
      await evaluate({ base, adapter, examples, threads, onProgress: (done) => bar.update(done) }),
    );
    const outside = [...examples.labels].filter((l) => l < 0).length;
    const train = loaded.dataset.records.filter((r) => r.split === 'train');
    const baseline = split === 'val' && train.length > 0 ? majorityBaseline(train, records) : undefined;
    if (json)
      console.log(
        JSON.stringify({
          ...result,
          outside_answer_set: outside,
          ...(baseline ? { majority_baseline: baseline } : {}),
        }),
      );
    else {
      console.log(`${source} (${split}): ${formatSummary(result)}`);
      if (outside) console.log(`  ${outside} answer(s) are outside the model's answer set (counted wrong)`);
      if (baseline)
        console.log(
          `  majority baseline: closed ${fmt(baseline.closed_acc)}, open ${fmt(baseline.open_acc)}, overall ${fmt(baseline.overall_acc)}`,
        );
    }
    return 0;
  } finally {
    await releaseGraphs();
  }
}

const fmt = (x: number | null) => (x === null ? '—' : `${(x * 100).toFixed(1)}%`);
