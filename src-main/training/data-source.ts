/**
 * `--data SOURCE` for `cohort train` / `cohort eval`: `synth:<preset>[:<n>]` (SynthRad-VQA, generated)
 * or `vqa-rad:<dir>` (a directory laid out like VQA-RAD; `--questions FILE` replaces its trainset.json).
 * Also resolves the public answer set: VQA-RAD's `answer_all_list.json`, or SynthRad's template answers.
 */
import { join } from 'node:path';
import { CliError } from '../../core/cli/errors.js';
import { generateSynthRad, SYNTHRAD_ANSWERS, SYNTHRAD_PRESETS } from '../../core/data/synthrad.js';
import type { GrayImage, VqaDataset, VqaRecord } from '../../core/data/types.js';
import { existsSync } from 'node:fs';
import { readAnswerSet } from '../../core/data/answers.node.js';
import { sitePaths } from '../agent/site-data-dir.js';
import { SiteDataService } from '../data/site-data-service.js';
import { loadVqaRad, type SplitBy } from '../../core/data/vqa-rad.node.js';

export interface LoadedSource {
  dataset: VqaDataset;
  /** The public label space, or null when the source has none (then the caller decides). */
  answers: string[] | null;
  /** Where the answer set came from, for messages. */
  answerSource: string;
}

export const DEFAULT_SYNTH_RECORDS = 4000;
export const DEFAULT_SYNTH_SEED = 7;

type SourceOptions = { questions?: string; seed?: number; splitSeed?: number; splitBy?: SplitBy };

/** `--split-by image|question` of cohort train / eval (vqa-rad sources). */
export function parseSplitBy(command: string, value: string | undefined): SplitBy | undefined {
  if (value === undefined) return undefined;
  if (value !== 'image' && value !== 'question')
    throw new CliError(`${command}: --split-by must be image or question`, 2);
  return value;
}

/**
 * One source, or several separated by commas (their union: records keep their own splits). Several
 * sources share the first source's public answer set, if it has one.
 */
export async function loadSource(
  command: string,
  source: string,
  options: SourceOptions = {},
): Promise<LoadedSource> {
  const parts = source
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  if (parts.length <= 1) return loadOneSource(command, source, options);
  const loaded = await Promise.all(parts.map((part) => loadOneSource(command, part, options)));
  const images = new Map<string, GrayImage>();
  const records: VqaRecord[] = [];
  loaded.forEach(({ dataset }, index) => {
    // Image keys are file names or content hashes: prefix them so two sources never collide.
    for (const [key, image] of dataset.images) images.set(`${index}:${key}`, image);
    for (const record of dataset.records)
      records.push({ ...record, id: `${index}:${record.id}`, imageKey: `${index}:${record.imageKey}` });
  });
  const withAnswers = loaded.find((l) => l.answers);
  return {
    dataset: { name: parts.join(','), records, images },
    answers: withAnswers?.answers ?? null,
    answerSource: withAnswers?.answerSource ?? 'none',
  };
}

async function loadOneSource(command: string, source: string, options: SourceOptions): Promise<LoadedSource> {
  const colon = source.indexOf(':');
  const kind = colon < 0 ? source : source.slice(0, colon);
  const rest = colon < 0 ? '' : source.slice(colon + 1);
  if (kind === 'synth') {
    const [preset = '', count] = rest.split(':');
    if (!SYNTHRAD_PRESETS[preset]) {
      throw new CliError(
        `${command}: unknown SynthRad preset '${preset}' (known: ${Object.keys(SYNTHRAD_PRESETS).join(', ')})`,
        2,
      );
    }
    const n = count === undefined ? DEFAULT_SYNTH_RECORDS : Number(count);
    if (!Number.isInteger(n) || n < 1 || n > 1_000_000)
      throw new CliError(`${command}: bad record count in '${source}'`, 2);
    if (options.questions) throw new CliError(`${command}: --questions applies to vqa-rad sources only`, 2);
    if (options.splitBy) throw new CliError(`${command}: --split-by applies to vqa-rad sources only`, 2);
    const dataset = generateSynthRad({ preset, n, seed: options.seed ?? DEFAULT_SYNTH_SEED });
    return { dataset, answers: [...SYNTHRAD_ANSWERS], answerSource: 'SynthRad template answers' };
  }
  if (kind === 'vqa-rad') {
    if (!rest) throw new CliError(`${command}: vqa-rad needs a directory (vqa-rad:<dir>)`, 2);
    const dataset = await loadVqaRad(rest, {
      ...(options.questions ? { questionsFile: options.questions } : {}),
      ...(options.splitSeed !== undefined ? { seed: options.splitSeed } : {}),
      ...(options.splitBy ? { splitBy: options.splitBy } : {}),
    }).catch((error: Error) => {
      throw new CliError(`${command}: ${error.message}`);
    });
    if (dataset.errors.length > 0) {
      console.error(
        `${command}: skipped ${dataset.errors.length} item(s): ${dataset.errors
          .slice(0, 3)
          .map((e) => `${e.item}: ${e.message}`)
          .join('; ')}`,
      );
    }
    if (dataset.records.length === 0) throw new CliError(`${command}: no usable questions in ${source}`);
    const answers = existsSync(join(rest, 'answer_all_list.json'))
      ? await readAnswerSet(`vqa-rad:${rest}`)
      : null;
    return answers
      ? { dataset, answers, answerSource: 'answer_all_list.json' }
      : { dataset, answers: null, answerSource: 'none' };
  }
  if (kind === 'site') {
    // A site's own store (what a hospital imported): for local baselines and checks, never shared.
    if (!rest) throw new CliError(`${command}: site needs a data directory (site:<dir>)`, 2);
    const database = sitePaths(rest).database;
    if (!existsSync(database)) throw new CliError(`${command}: ${rest} has no site store (site.db)`, 2);
    if (options.questions) throw new CliError(`${command}: --questions applies to vqa-rad sources only`, 2);
    if (options.splitBy)
      throw new CliError(
        `${command}: --split-by applies to vqa-rad sources only (a site's split is set at import)`,
        2,
      );
    const data = await SiteDataService.open(database);
    try {
      const { records, images } = await data.loadTrainingData({});
      if (records.length === 0)
        throw new CliError(`${command}: the site store in ${rest} holds no questions`);
      return { dataset: { name: source, records, images }, answers: null, answerSource: 'none' };
    } finally {
      await data.close();
    }
  }
  throw new CliError(
    `${command}: unknown data source '${source}' (use synth:<preset>, vqa-rad:<dir> or site:<dir>)`,
    2,
  );
}
