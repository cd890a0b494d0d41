import { readdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { formatFromExtension } from '../../core/data/sniff.js';
import { DataInputError } from '../../core/data/text.js';
import { parseVqaRadQuestions } from '../../core/data/vqa-rad.js';
import type { ImportContext } from './context.js';
import { organFilter, prepareNamedDataset, readQuestionFiles } from './named-dataset.js';
import { pathResolver } from './paths.js';
import type { ImportOptions, PreparedImport } from './types.js';

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
  const organs = organFilter(options.organs);
  const { questions, errors, skipped } = await readQuestionFiles(
    root,
    files,
    organs,
    parseVqaRadQuestions,
    context,
  );
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
