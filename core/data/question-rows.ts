import type { z } from 'zod';
import { questionProblem, type AnswerType, type ItemError } from './types.js';

/** A question as the dataset parsers return it: trimmed, typed, with the dataset's own id. */
export interface DatasetQuestion {
  /** The dataset's question id, or `row N` when its file has none. */
  qid: string;
  /** The image's path as the dataset names it (relative to its image folder). */
  imageName: string;
  question: string;
  answer: string;
  answerType: AnswerType;
  organ?: string;
  modality?: string;
}

/** One schema-valid row, in the dataset-neutral shape `parseQuestionRows` checks. */
export interface RowFields {
  /** Undefined when the dataset's row has no id: the row number stands in. */
  qid?: string;
  imageName: string;
  question: string;
  answer: string;
  answerType: string;
  organ?: string;
  modality?: string;
  /** Why this row is left out without being an error (e.g. SLAKE's non-English questions). */
  skip?: string;
}

/**
 * Validates a dataset's question rows: a file that is not a JSON array fails as a whole; a row that fails
 * `schema`, repeats an id, has an empty question or answer, or an answer type other than CLOSED/OPEN
 * becomes a per-item error; rows with a `skip` reason are counted by reason.
 */
export function parseQuestionRows<Row>(
  json: unknown,
  schema: z.ZodType<Row>,
  fields: (row: Row) => RowFields,
): { questions: DatasetQuestion[]; errors: ItemError[]; skipped: Record<string, number> } {
  if (!Array.isArray(json)) throw new Error('expected a JSON array of questions');
  const questions: DatasetQuestion[] = [];
  const errors: ItemError[] = [];
  const skipped: Record<string, number> = {};
  const seen = new Set<string>();
  json.forEach((raw: unknown, index) => {
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      errors.push({
        item: `row ${index}`,
        message: `${issue?.path.join('.') || 'row'}: ${issue?.message ?? 'invalid'}`,
      });
      return;
    }
    const row = fields(parsed.data);
    if (row.skip !== undefined) {
      skipped[row.skip] = (skipped[row.skip] ?? 0) + 1;
      return;
    }
    const id = row.qid ?? `row ${index}`;
    const item = row.qid === undefined ? id : `qid ${id}`;
    const type = row.answerType.trim().toUpperCase();
    if (seen.has(id)) return void errors.push({ item, message: 'duplicate question id' });
    const problem = questionProblem(row.question.trim());
    if (problem) return void errors.push({ item, message: problem });
    if (row.answer.trim() === '') return void errors.push({ item, message: 'empty answer' });
    if (type !== 'CLOSED' && type !== 'OPEN') {
      return void errors.push({
        item,
        message: `answer_type must be CLOSED or OPEN (got '${row.answerType}')`,
      });
    }
    seen.add(id);
    const organ = row.organ?.trim().toUpperCase();
    const modality = row.modality?.trim().toUpperCase();
    questions.push({
      qid: id,
      imageName: row.imageName,
      question: row.question.trim(),
      answer: row.answer.trim(),
      answerType: type === 'CLOSED' ? 'closed' : 'open',
      ...(organ ? { organ } : {}),
      ...(modality ? { modality } : {}),
    });
  });
  return { questions, errors, skipped };
}
