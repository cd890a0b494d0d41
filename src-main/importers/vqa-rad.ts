import { readdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { formatFromExtension } from '../../core/data/sniff.js';
import { DataInputError, parseJsonText } from '../../core/data/text.js';
import { parseVqaRadQuestions } from '../../core/data/vqa-rad.js';
import type { ImportContext } from './context.js';
import { prepareNamedDataset, type NamedQuestion } from './named-dataset.js';
import { pathResolver } from './paths.js';
import { readTextFile } from './read-text.js';
import type { ImportOptions, ItemError, PreparedImport } from './types.js';

export interface SplitOptions {
  seed: number;
  validationFraction: number;
}

/**
 * VQA-RAD in the MEVF layout: `trainset.json` (a JSON array of questions) and `images/`. Every image in
 * `images/` is imported, also one no question refers to, unless questions are filtered by organ.
 */
export async function prepareVqaRad(
  path: string,
  options: ImportOptions,
  split: SplitOptions,
  context: ImportContext,
): Promise<PreparedImport> {
  const root = resolve(path);
  const files = options.questionsFiles?.length ? options.questionsFiles : ['trainset.json'];
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
    let parsed: ReturnType<typeof parseVqaRadQuestions>;
    try {
      parsed = parseVqaRadQuestions(json);
    } catch (error) {
      throw new DataInputError(`${label}: ${(error as Error).message}`);
    }
    const prefix = files.length > 1 ? `${label} ` : '';
    for (const e of parsed.errors) errors.push({ ...e, item: `${prefix}${e.item}` });
    for (const q of parsed.questions) {
      if (seen.has(q.qid)) {
        errors.push({
          item: `${prefix}qid ${q.qid}`,
          message: 'duplicate question id (already in an earlier file)',
        });
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
        item: `${prefix}qid ${q.qid}`,
      });
    }
    context.onProgress({ phase: 'read', done: index + 1, total: files.length });
  }
  const imagesDir = join(root, 'images');
  let listing: string[];
  try {
    listing = await readdir(imagesDir);
  } catch {
    throw new DataInputError(
      `${path} has no images/ folder (expected the VQA-RAD layout: trainset.json and images/)`,
    );
  }
  const notes: string[] = [];
  let extraImages: string[] = [];
  if (!organs) {
    extraImages = listing.filter((name) => ['jpeg', 'png'].includes(formatFromExtension(name) ?? '')).sort();
    const ignored = listing.length - extraImages.length;
    if (ignored > 0) notes.push(`${ignored} file(s) in images/ without a .jpg/.jpeg/.png name were ignored`);
  }
  return prepareNamedDataset(
    {
      format: 'vqa-rad',
      source: root,
      options: {
        ...split,
        questionsFiles: files.map((f) => basename(f)),
        ...(organs ? { organs: [...organs] } : {}),
      },
      questions,
      extraImages,
      resolve: pathResolver(imagesDir),
      publicNames: true,
      seed: split.seed,
      validationFraction: split.validationFraction,
      errors,
      skipped,
      notes,
    },
    context,
  );
}
