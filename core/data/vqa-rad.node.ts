import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { decodeToGray } from './image.node.js';
import { splitForImage, splitForQuestion } from './split.js';
import {
  STORED_IMAGE_SIZE,
  type GrayImage,
  type ItemError,
  type VqaDataset,
  type VqaRecord,
} from './types.js';
import { parseVqaRadQuestions } from './vqa-rad.js';

export interface LoadVqaRadOptions {
  /** Questions file in the trainset.json format; defaults to `<dir>/trainset.json`. */
  questionsFile?: string;
  seed?: number;
  validationFraction?: number;
  /** 'image' (default): every question on an image in one split; 'question': questions split one by one. */
  splitBy?: SplitBy;
  imageSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export type SplitBy = 'image' | 'question';

/** Default seed and validation share of the by-image split used across Cohort's tools. */
export const DEFAULT_SPLIT = { seed: 42, validationFraction: 0.2 } as const;

/**
 * Reads a directory laid out like VQA-RAD (`trainset.json` + `images/`) straight from disk, without a
 * site store: for `cohort train`/`eval` and benchmarks. Questions whose image is missing or unreadable
 * are left out and reported in `errors`.
 */
export async function loadVqaRad(
  dir: string,
  options: LoadVqaRadOptions = {},
): Promise<VqaDataset & { errors: ItemError[] }> {
  const questionsFile = options.questionsFile ?? join(dir, 'trainset.json');
  const seed = options.seed ?? DEFAULT_SPLIT.seed;
  const fraction = options.validationFraction ?? DEFAULT_SPLIT.validationFraction;
  let text: string;
  try {
    text = await readFile(questionsFile, 'utf8');
  } catch {
    throw new Error(`cannot read questions file ${questionsFile}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${questionsFile} is not valid JSON (${(error as Error).message})`);
  }
  const { questions, errors } = parseVqaRadQuestions(json);
  const imageNames = [...new Set(questions.map((q) => q.imageName))];
  const images = new Map<string, GrayImage>();
  let done = 0;
  const queue = [...imageNames];
  const decodeNext = async (): Promise<void> => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      if (basename(name) !== name) {
        errors.push({ item: name, message: 'image name must be a plain file name' });
      } else {
        try {
          const image = await decodeToGray(
            await readFile(join(dir, 'images', name)),
            options.imageSize ?? STORED_IMAGE_SIZE,
          );
          images.set(name, { width: image.width, height: image.height, pixels: image.pixels });
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          errors.push({
            item: name,
            message: code === 'ENOENT' ? 'image file not found' : (error as Error).message,
          });
        }
      }
      options.onProgress?.(++done, imageNames.length);
    }
  };
  await Promise.all(Array.from({ length: 4 }, decodeNext));
  const records: VqaRecord[] = questions
    .filter((q) => images.has(q.imageName))
    .map((q) => ({
      id: q.qid,
      imageKey: q.imageName,
      question: q.question,
      answer: q.answer,
      answerType: q.answerType,
      ...(q.organ ? { organ: q.organ } : {}),
      split:
        options.splitBy === 'question'
          ? splitForQuestion(q.qid, seed, fraction)
          : splitForImage(q.imageName, seed, fraction),
    }));
  return { name: `vqa-rad:${dir}`, records, images, errors };
}
