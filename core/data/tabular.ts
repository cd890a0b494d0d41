import { parse as parseCsv, CsvError } from 'csv-parse/sync';
import { DataInputError } from './text.js';
import { questionProblem, type AnswerType, type ItemError, type Split } from './types.js';

/**
 * Question tables in CSV or JSON Lines: one row per question, with a column naming the image file (or, for
 * DICOM, its SOPInstanceUID) and columns for question, answer and optional metadata. Column names are
 * mapped by options; without them the usual names are recognised, case-insensitively.
 */
export interface ColumnMapping {
  image: string;
  question: string;
  answer: string;
  answerType: string;
  split: string;
  id: string;
  organ: string;
  modality: string;
}
export type ColumnField = keyof ColumnMapping;

/** Names recognised when the caller does not name a column, in order of preference. */
export const DEFAULT_COLUMN_NAMES: Record<ColumnField, readonly string[]> = {
  image: [
    'image',
    'image_path',
    'image_name',
    'img_name',
    'img',
    'file',
    'filename',
    'path',
    'sop_instance_uid',
    'sopinstanceuid',
  ],
  question: ['question', 'q'],
  answer: ['answer', 'a'],
  answerType: ['answer_type', 'answertype'],
  split: ['split'],
  id: ['id', 'qid', 'question_id'],
  organ: ['organ', 'image_organ', 'body_part', 'location'],
  modality: ['modality'],
};
const REQUIRED: readonly ColumnField[] = ['image', 'question', 'answer'];

export interface TableRow {
  /** Where the row is, for errors: `line N`. */
  item: string;
  values: Record<string, string>;
}
export interface Table {
  columns: string[];
  rows: TableRow[];
  errors: ItemError[];
}

/** Parses CSV with a header line (RFC 4180: quoted fields, embedded commas, quotes and newlines). */
export function parseCsvTable(text: string, label: string): Table {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parseCsv(text, {
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
      bom: true,
    }) as never;
  } catch (error) {
    // csv-parse reports an unclosed quote where parsing ended, which can be past the last line; the
    // line to fix is the one where the quote opened.
    if (error instanceof CsvError && error.code === 'CSV_QUOTE_NOT_CLOSED')
      throw new DataInputError(
        `${label} is not well-formed CSV (Quote Not Closed: the quoted field opened on line ${unclosedQuoteLine(text)} is never closed)`,
      );
    const reason = error instanceof CsvError ? error.message : String(error);
    throw new DataInputError(`${label} is not well-formed CSV (${reason})`);
  }
  const [header, ...body] = records;
  if (!header) throw new DataInputError(`${label} is empty: expected a header line and question rows`);
  const columns = header.record.map((c) => c.trim());
  const duplicate = columns.find((c, i) => c !== '' && columns.indexOf(c) !== i);
  if (duplicate) throw new DataInputError(`${label}: column '${duplicate}' appears twice in the header`);
  const rows: TableRow[] = [];
  const errors: ItemError[] = [];
  for (const { record, info } of body) {
    const item = `line ${info.lines}`;
    if (record.length !== columns.length) {
      errors.push({ item, message: `has ${record.length} fields, the header has ${columns.length}` });
      continue;
    }
    rows.push({ item, values: Object.fromEntries(columns.map((c, i) => [c, record[i] ?? ''])) });
  }
  return { columns, rows, errors };
}

/** The line (from 1) where the quoted field still open at the end of `text` began. */
function unclosedQuoteLine(text: string): number {
  let line = 1;
  let openedOn = 1;
  let quoted = false;
  let fieldStart = true;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '\n') line++;
    if (quoted) {
      if (char !== '"') continue;
      if (text[i + 1] === '"') i++;
      else quoted = false;
    } else if (char === '"' && fieldStart) {
      quoted = true;
      openedOn = line;
    }
    fieldStart = !quoted && (char === ',' || char === '\n' || char === '\r');
  }
  return openedOn;
}

/** Parses JSON Lines: one JSON object per line. A bad line is a per-item error, not a failed file. */
export function parseJsonlTable(text: string, label: string): Table {
  if (/^\s*\[/.test(text)) {
    throw new DataInputError(`${label} is a JSON array, not JSON Lines (one JSON object per line)`);
  }
  const rows: TableRow[] = [];
  const errors: ItemError[] = [];
  const columns = new Set<string>();
  text.split(/\r?\n/).forEach((line, index) => {
    const item = `line ${index + 1}`;
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      return void errors.push({ item, message: `not valid JSON (${(error as Error).message})` });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return void errors.push({ item, message: 'expected a JSON object' });
    }
    const values: Record<string, string> = {};
    for (const [key, field] of Object.entries(value)) {
      if (field === null || field === undefined) values[key] = '';
      else if (typeof field === 'string' || typeof field === 'number' || typeof field === 'boolean')
        values[key] = String(field);
      else return void errors.push({ item, message: `field '${key}' must be text or a number` });
      columns.add(key);
    }
    rows.push({ item, values });
  });
  if (rows.length === 0 && errors.length === 0) throw new DataInputError(`${label} holds no questions`);
  return { columns: [...columns], rows, errors };
}

/**
 * Decides which column feeds which field. A column named explicitly must exist (whole-file error
 * otherwise); without a name the defaults are looked up case-insensitively; image, question and answer
 * must be found one way or the other.
 */
export function resolveColumns(
  columns: readonly string[],
  explicit: Partial<ColumnMapping>,
  label: string,
): Partial<ColumnMapping> {
  const resolved: Partial<ColumnMapping> = {};
  const byLower = new Map(columns.map((c) => [c.toLowerCase(), c]));
  for (const field of Object.keys(DEFAULT_COLUMN_NAMES) as ColumnField[]) {
    const wanted = explicit[field];
    if (wanted !== undefined) {
      if (!columns.includes(wanted)) {
        throw new DataInputError(
          `${label} has no column '${wanted}' (columns: ${columns.join(', ') || 'none'})`,
        );
      }
      resolved[field] = wanted;
      continue;
    }
    const found = DEFAULT_COLUMN_NAMES[field].map((name) => byLower.get(name)).find((c) => c !== undefined);
    if (found !== undefined) resolved[field] = found;
    else if (REQUIRED.includes(field)) {
      throw new DataInputError(
        `${label} has no ${field} column (looked for ${DEFAULT_COLUMN_NAMES[field].join(', ')}; ` +
          `columns: ${columns.join(', ') || 'none'}); name it with --${kebab(field)}-col`,
      );
    }
  }
  return resolved;
}

const kebab = (field: string) => field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export interface TabularQuestion {
  item: string;
  /** The image column's value: a relative path, a file name or a DICOM SOPInstanceUID. */
  image: string;
  question: string;
  answer: string;
  answerType: AnswerType;
  /** True when the table has no answer-type column and the type was inferred (yes/no → closed). */
  answerTypeInferred: boolean;
  split?: Split;
  id?: string;
  organ?: string;
  modality?: string;
}

const SPLIT_NAMES: Record<string, Split> = {
  train: 'train',
  training: 'train',
  val: 'val',
  valid: 'val',
  validation: 'val',
};
const CLOSED_ANSWERS = new Set(['yes', 'no']);

/** Turns table rows into questions; each bad row becomes a per-item error. */
export function tableQuestions(
  table: Table,
  mapping: Partial<ColumnMapping>,
): { questions: TabularQuestion[]; errors: ItemError[] } {
  const questions: TabularQuestion[] = [];
  const errors: ItemError[] = [];
  const seenIds = new Set<string>();
  const get = (row: TableRow, field: ColumnField) => {
    const column = mapping[field];
    return column === undefined ? '' : (row.values[column] ?? '').trim();
  };
  for (const row of table.rows) {
    const fail = (message: string) => errors.push({ item: row.item, message });
    const image = get(row, 'image');
    const question = get(row, 'question');
    const answer = get(row, 'answer');
    const id = get(row, 'id');
    if (image === '') {
      fail('empty image reference');
      continue;
    }
    const problem = questionProblem(question);
    if (problem) {
      fail(problem);
      continue;
    }
    if (answer === '') {
      fail('empty answer');
      continue;
    }
    if (id !== '' && seenIds.has(id)) {
      fail(`duplicate question id '${id}'`);
      continue;
    }
    let answerType: AnswerType;
    const typeValue = get(row, 'answerType').toLowerCase();
    const inferred = mapping.answerType === undefined;
    if (inferred) answerType = CLOSED_ANSWERS.has(answer.toLowerCase()) ? 'closed' : 'open';
    else if (typeValue === 'closed' || typeValue === 'open') answerType = typeValue;
    else {
      fail(`answer type must be closed or open (got '${typeValue}')`);
      continue;
    }
    let split: Split | undefined;
    if (mapping.split !== undefined) {
      const value = get(row, 'split').toLowerCase();
      split = SPLIT_NAMES[value];
      if (!split) {
        fail(`split must be train or val (got '${value}')`);
        continue;
      }
    }
    if (id !== '') seenIds.add(id);
    const organ = get(row, 'organ');
    const modality = get(row, 'modality');
    questions.push({
      item: row.item,
      image,
      question,
      answer,
      answerType,
      answerTypeInferred: inferred,
      ...(split ? { split } : {}),
      ...(id !== '' ? { id } : {}),
      ...(organ !== '' ? { organ: organ.toUpperCase() } : {}),
      ...(modality !== '' ? { modality: modality.toUpperCase() } : {}),
    });
  }
  return { questions, errors: [...table.errors, ...errors] };
}
