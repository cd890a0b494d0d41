/**
 * `--data SOURCE` for `cohort train` / `cohort eval`: `synth:<preset>[:<n>]` (SynthRad-VQA, generated)
 * or `vqa-rad:<dir>` (a directory laid out like VQA-RAD; `--questions FILE` replaces its trainset.json).
 * Also resolves the public answer set: VQA-RAD's `answer_all_list.json`, or SynthRad's template answers.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CliError } from '../../core/cli/errors.js';
import { generateSynthRad, SYNTHRAD_ANSWERS, SYNTHRAD_PRESETS } from '../../core/data/synthrad.js';
import type { VqaDataset } from '../../core/data/types.js';
import { loadVqaRad } from '../../core/data/vqa-rad.node.js';
import { normalizeAnswerSet } from '../../core/ml/adapter.js';

export interface LoadedSource {
  dataset: VqaDataset;
  /** The public label space, or null when the source has none (then the caller decides). */
  answers: string[] | null;
  /** Where the answer set came from, for messages. */
  answerSource: string;
}

export const DEFAULT_SYNTH_RECORDS = 4000;
export const DEFAULT_SYNTH_SEED = 7;

export async function loadSource(
  command: string,
  source: string,
  options: { questions?: string; seed?: number; splitSeed?: number } = {},
): Promise<LoadedSource> {
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
    const dataset = generateSynthRad({ preset, n, seed: options.seed ?? DEFAULT_SYNTH_SEED });
    return { dataset, answers: [...SYNTHRAD_ANSWERS], answerSource: 'SynthRad template answers' };
  }
  if (kind === 'vqa-rad') {
    if (!rest) throw new CliError(`${command}: vqa-rad needs a directory (vqa-rad:<dir>)`, 2);
    const dataset = await loadVqaRad(rest, {
      ...(options.questions ? { questionsFile: options.questions } : {}),
      ...(options.splitSeed !== undefined ? { seed: options.splitSeed } : {}),
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
    const answers = await readAnswerList(join(rest, 'answer_all_list.json'));
    return answers
      ? { dataset, answers, answerSource: 'answer_all_list.json' }
      : { dataset, answers: null, answerSource: 'none' };
  }
  throw new CliError(`${command}: unknown data source '${source}' (use synth:<preset> or vqa-rad:<dir>)`, 2);
}

async function readAnswerList(file: string): Promise<string[] | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null;
  }
  const json = JSON.parse(text) as unknown;
  const list = Array.isArray(json) ? json : json && typeof json === 'object' ? Object.keys(json) : [];
  return normalizeAnswerSet(list.map(String));
}
