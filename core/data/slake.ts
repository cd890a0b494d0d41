import { z } from 'zod';
import { parseQuestionRows, type DatasetQuestion } from './question-rows.js';
import type { ItemError } from './types.js';

/** One question of SLAKE (`train.json`, `validate.json`, `test.json`). Extra fields are ignored. */
const slakeRowSchema = z.looseObject({
  qid: z.union([z.number().int(), z.string().min(1)]).optional(),
  img_name: z.string().min(1),
  question: z.string(),
  answer: z.union([z.string(), z.number(), z.boolean()]).transform(String),
  answer_type: z.string(),
  q_lang: z.string(),
  location: z.string().optional(),
  modality: z.string().optional(),
});

/** A SLAKE question; `qid` is `row N` when the file has none, `imageName` is relative to `imgs/`. */
export type SlakeQuestion = DatasetQuestion;

/**
 * Validates SLAKE rows. English questions are kept; the others (SLAKE is bilingual, `q_lang: "zh"`) are
 * counted in `skipped` by language, not reported as errors. Bad rows become per-item errors; a file
 * that is not a JSON array fails as a whole.
 */
export function parseSlakeQuestions(json: unknown): {
  questions: SlakeQuestion[];
  errors: ItemError[];
  skipped: Record<string, number>;
} {
  return parseQuestionRows(json, slakeRowSchema, (row) => {
    const language = row.q_lang.trim().toLowerCase();
    return {
      ...(row.qid !== undefined ? { qid: String(row.qid) } : {}),
      imageName: row.img_name,
      question: row.question,
      answer: row.answer,
      answerType: row.answer_type,
      ...(row.location !== undefined ? { organ: row.location } : {}),
      ...(row.modality !== undefined ? { modality: row.modality } : {}),
      ...(language !== 'en'
        ? { skip: `question language '${language || 'unknown'}' (only English is imported)` }
        : {}),
    };
  });
}
