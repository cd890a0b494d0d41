import { z } from 'zod';
import type { AnswerType } from './types.js';

/** One row of VQA-RAD's `trainset.json` (MEVF layout). Extra fields are allowed and ignored. */
const vqaRadRowSchema = z.looseObject({
  qid: z.union([z.number().int(), z.string().min(1)]),
  image_name: z.string().min(1),
  question: z.string(),
  answer: z.union([z.string(), z.number()]).transform(String),
  answer_type: z.string(),
  image_organ: z.string().optional(),
});

export interface VqaRadQuestion {
  qid: string;
  imageName: string;
  question: string;
  answer: string;
  answerType: AnswerType;
  organ?: string;
}

export interface ItemError {
  /** Where in the input: a row index, a question id or a file name. */
  item: string;
  message: string;
  /**
   * The local file the error is about, for the operator's eyes only: importers return it but the site
   * store never writes it (file names of hospital exports can carry patient names).
   */
  path?: string;
}

/**
 * Validates VQA-RAD question rows. Bad rows become per-item errors instead of failing the whole file;
 * a file that is not a JSON array fails as a whole.
 */
export function parseVqaRadQuestions(json: unknown): { questions: VqaRadQuestion[]; errors: ItemError[] } {
  if (!Array.isArray(json)) throw new Error('expected a JSON array of questions');
  const questions: VqaRadQuestion[] = [];
  const errors: ItemError[] = [];
  const seen = new Set<string>();
  json.forEach((row: unknown, index) => {
    const parsed = vqaRadRowSchema.safeParse(row);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      errors.push({
        item: `row ${index}`,
        message: `${issue?.path.join('.') || 'row'}: ${issue?.message ?? 'invalid'}`,
      });
      return;
    }
    const { qid, image_name, question, answer, answer_type, image_organ } = parsed.data;
    const id = String(qid);
    const type = answer_type.trim().toUpperCase();
    if (seen.has(id)) return void errors.push({ item: `qid ${id}`, message: 'duplicate question id' });
    if (question.trim() === '') return void errors.push({ item: `qid ${id}`, message: 'empty question' });
    if (answer.trim() === '') return void errors.push({ item: `qid ${id}`, message: 'empty answer' });
    if (type !== 'CLOSED' && type !== 'OPEN') {
      return void errors.push({
        item: `qid ${id}`,
        message: `answer_type must be CLOSED or OPEN (got '${answer_type}')`,
      });
    }
    seen.add(id);
    questions.push({
      qid: id,
      imageName: image_name,
      question: question.trim(),
      answer: answer.trim(),
      answerType: type === 'CLOSED' ? 'closed' : 'open',
      ...(image_organ ? { organ: image_organ.trim().toUpperCase() } : {}),
    });
  });
  return { questions, errors };
}
