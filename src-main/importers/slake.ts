import { stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parseSlakeQuestions } from '../../core/data/slake.js';
import { DataInputError, parseJsonText } from '../../core/data/text.js';
import type { ImportContext } from './context.js';
import { prepareNamedDataset, type NamedQuestion } from './named-dataset.js';
import { pathResolver } from './paths.js';
import { readTextFile } from './read-text.js';
import type { ImportOptions, ItemError, PreparedImport } from './types.js';
import type { SplitOptions } from './vqa-rad.js';

/**
 * SLAKE: JSON arrays of questions (`train.json`, `validate.json`, `test.json`) beside an `imgs/` folder,
 * `img_name` relative to it (`xmlab102/source.jpg`). PATH is the dataset folder (default file
 * `train.json`) or one of the JSON files. Only English questions are imported; the rest are counted.
 */
export async function prepareSlake(
  path: string,
  options: ImportOptions,
  split: SplitOptions,
  context: ImportContext,
): Promise<PreparedImport> {
  const target = resolve(path);
  let isFile: boolean;
  try {
    isFile = (await stat(target)).isFile();
  } catch {
    throw new DataInputError(`${path} not found`);
  }
  const root = isFile ? dirname(target) : target;
  const files = options.questionsFiles?.length
    ? options.questionsFiles
    : isFile
      ? [basename(target)]
      : ['train.json'];
  const organs = options.organs?.length
    ? new Set(options.organs.map((o) => o.trim().toUpperCase()))
    : undefined;
  context.onProgress({ phase: 'read', done: 0, total: files.length });
  const questions: NamedQuestion[] = [];
  const errors: ItemError[] = [];
  const skipped: Record<string, number> = {};
  const seen = new Set<string>();
  for (const [index, file] of files.entries()) {
    const label = basename(file);
    const json = parseJsonText(await readTextFile(resolve(root, file), label), label);
    let parsed: ReturnType<typeof parseSlakeQuestions>;
    try {
      parsed = parseSlakeQuestions(json);
    } catch (error) {
      throw new DataInputError(`${label}: ${(error as Error).message}`);
    }
    const prefix = files.length > 1 ? `${label} ` : '';
    for (const e of parsed.errors) errors.push({ ...e, item: `${prefix}${e.item}` });
    for (const [reason, n] of Object.entries(parsed.skipped)) skipped[reason] = (skipped[reason] ?? 0) + n;
    for (const q of parsed.questions) {
      const item = `${prefix}qid ${q.qid}`;
      if (seen.has(q.qid)) {
        errors.push({ item, message: 'duplicate question id (already in an earlier file)' });
        continue;
      }
      seen.add(q.qid);
      if (organs && !organs.has(q.organ ?? '')) {
        skipped['organ not selected'] = (skipped['organ not selected'] ?? 0) + 1;
        continue;
      }
      questions.push({
        imageName: q.imageName,
        sourceId: q.qid,
        question: q.question,
        answer: q.answer,
        answerType: q.answerType,
        ...(q.organ ? { organ: q.organ } : {}),
        ...(q.modality ? { modality: q.modality } : {}),
        item,
      });
    }
    context.onProgress({ phase: 'read', done: index + 1, total: files.length });
  }
  return prepareNamedDataset(
    {
      format: 'slake',
      source: root,
      options: {
        ...split,
        questionsFiles: files.map((f) => basename(f)),
        ...(organs ? { organs: [...organs] } : {}),
      },
      questions,
      resolve: pathResolver(join(root, 'imgs')),
      publicNames: true,
      seed: split.seed,
      validationFraction: split.validationFraction,
      errors,
      skipped,
    },
    context,
  );
}
