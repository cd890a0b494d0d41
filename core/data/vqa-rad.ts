import { z } from 'zod';
import { parseQuestionRows, type DatasetQuestion } from './question-rows.js';
import type { ItemError } from './types.js';

/** One row of VQA-RAD's `trainset.json` (MEVF layout). Extra fields are allowed and ignored. */
const vqaRadRowSchema = z.looseObject({
  qid: z.union([z.number().int(), z.string().min(1)]),
  image_name: z.string().min(1),
  question: z.string(),
  answer: z.union([z.string(), z.number()]).transform(String),
  answer_type: z.string(),
  image_organ: z.string().optional(),
});

/** A VQA-RAD question; `organ` is `image_organ` (HEAD, CHEST, ABD). */
export type VqaRadQuestion = Omit<DatasetQuestion, 'modality'>;

/**
 * Validates VQA-RAD question rows. Bad rows become per-item errors instead of failing the whole file;
 * a file that is not a JSON array fails as a whole.
 */
export function parseVqaRadQuestions(json: unknown): { questions: VqaRadQuestion[]; errors: ItemError[] } {
  const { questions, errors } = parseQuestionRows(json, vqaRadRowSchema, (row) => ({
    qid: String(row.qid),
    imageName: row.image_name,
    question: row.question,
    answer: row.answer,
    answerType: row.answer_type,
    ...(row.image_organ !== undefined ? { organ: row.image_organ } : {}),
  }));
  return { questions, errors };
}
