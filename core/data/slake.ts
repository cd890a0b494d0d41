import { z } from 'zod';
import type { AnswerType } from './types.js';
import type { ItemError } from './vqa-rad.js';

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

export interface SlakeQuestion {
  /** SLAKE's qid, or `row N` when the file has none. */
  qid: string;
  /** Relative to the dataset's `imgs/` folder, e.g. `xmlab102/source.jpg`. */
  imageName: string;
  question: string;
  answer: string;
  answerType: AnswerType;
  organ?: string;
  modality?: string;
}

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
  if (!Array.isArray(json)) throw new Error('expected a JSON array of SLAKE questions');
  const questions: SlakeQuestion[] = [];
  const errors: ItemError[] = [];
  const skipped: Record<string, number> = {};
  const seen = new Set<string>();
  json.forEach((row: unknown, index) => {
    const parsed = slakeRowSchema.safeParse(row);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      errors.push({
        item: `row ${index}`,
        message: `${issue?.path.join('.') || 'row'}: ${issue?.message ?? 'invalid'}`,
      });
      return;
    }
    const { qid, img_name, question, answer, answer_type, q_lang, location, modality } = parsed.data;
    const language = q_lang.trim().toLowerCase();
    if (language !== 'en') {
      const reason = `question language '${language || 'unknown'}' (only English is imported)`;
      skipped[reason] = (skipped[reason] ?? 0) + 1;
      return;
    }
    const id = qid === undefined ? `row ${index}` : String(qid);
    const item = qid === undefined ? `row ${index}` : `qid ${id}`;
    const type = answer_type.trim().toUpperCase();
    if (seen.has(id)) return void errors.push({ item, message: 'duplicate question id' });
    if (question.trim() === '') return void errors.push({ item, message: 'empty question' });
    if (answer.trim() === '') return void errors.push({ item, message: 'empty answer' });
    if (type !== 'CLOSED' && type !== 'OPEN') {
      return void errors.push({ item, message: `answer_type must be CLOSED or OPEN (got '${answer_type}')` });
    }
    seen.add(id);
    questions.push({
      qid: id,
      imageName: img_name,
      question: question.trim(),
      answer: answer.trim(),
      answerType: type === 'CLOSED' ? 'closed' : 'open',
      ...(location?.trim() ? { organ: location.trim().toUpperCase() } : {}),
      ...(modality?.trim() ? { modality: modality.trim().toUpperCase() } : {}),
    });
  });
  return { questions, errors, skipped };
}
