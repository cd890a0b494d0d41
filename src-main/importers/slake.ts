import { basename, join } from 'node:path';
import { parseSlakeQuestions } from '../../core/data/slake.js';
import type { ImportContext } from './context.js';
import { organFilter, prepareNamedDataset, readQuestionFiles } from './named-dataset.js';
import { locateInput, pathResolver } from './paths.js';
import type { ImportOptions, PreparedImport } from './types.js';
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
  const { target, isFile, root } = await locateInput(path);
  const files = options.questionsFiles?.length
    ? options.questionsFiles
    : isFile
      ? [basename(target)]
      : ['train.json'];
  const organs = organFilter(options.organs);
  const { questions, errors, skipped } = await readQuestionFiles(
    root,
    files,
    organs,
    parseSlakeQuestions,
    context,
  );
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
