import { basename, resolve } from 'node:path';
import { splitForImage } from '../../core/data/split.js';
import { DataInputError, parseJsonText } from '../../core/data/text.js';
import type { DatasetQuestion } from '../../core/data/question-rows.js';
import type { AnswerType, Split } from '../../core/data/types.js';
import { throwIfCancelled, type ImportContext } from './context.js';
import { decodeImageFiles } from './image-files.js';
import { readTextFile } from './read-text.js';
import type { ItemError, PreparedImage, PreparedImport, PreparedQuestion, RecordedFormat } from './types.js';

/** A question whose image is a file named by the dataset (VQA-RAD, SLAKE, CSV/JSONL image paths). */
export interface NamedQuestion {
  imageName: string;
  /** The dataset's own question id, if it has one. */
  sourceId?: string;
  question: string;
  answer: string;
  answerType: AnswerType;
  organ?: string;
  modality?: string;
  /** Where the question is in the input (`qid 12`, `line 7`). */
  item: string;
  requestedSplit?: Split;
}

export interface NamedDatasetInput {
  format: RecordedFormat;
  source: string;
  options: Record<string, unknown>;
  questions: NamedQuestion[];
  /** Image files to import even when no question refers to them (VQA-RAD's whole images/ folder). */
  extraImages?: string[];
  resolve: (name: string) => Promise<string>;
  /**
   * Public datasets keep their file names (and split by name, so a store split equals loadVqaRad's);
   * hospital tables do not (names can carry patient names), and split by content hash instead.
   */
  publicNames: boolean;
  seed: number;
  validationFraction: number;
  errors: ItemError[];
  skipped: Record<string, number>;
  notes?: string[];
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function mostCommon(values: (string | undefined)[]): string | null {
  const counts = new Map<string, number>();
  for (const v of values) if (v) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | null = null;
  let bestCount = 0;
  for (const [value, count] of counts) if (count > bestCount) [best, bestCount] = [value, count];
  return best;
}

/** Reads and decodes every image a named dataset refers to and pairs the questions with them. */
export async function prepareNamedDataset(
  input: NamedDatasetInput,
  context: ImportContext,
): Promise<PreparedImport> {
  const errors = [...input.errors];
  const notes = [...(input.notes ?? [])];
  const byName = new Map<string, NamedQuestion[]>();
  for (const q of input.questions) {
    const list = byName.get(q.imageName);
    if (list) list.push(q);
    else byName.set(q.imageName, [q]);
  }
  for (const name of input.extraImages ?? []) if (!byName.has(name)) byName.set(name, []);
  const names = [...byName.keys()];
  const label = (name: string): Pick<ItemError, 'item' | 'path'> => {
    if (input.publicNames) return { item: `image ${name}` };
    const first = byName.get(name)?.[0];
    return { item: first ? `image of ${first.item}` : 'image', path: name };
  };

  const results = await decodeImageFiles(
    names.map((name) => ({ name, resolve: () => input.resolve(name) })),
    ['jpeg', 'png'],
    context,
  );
  throwIfCancelled(context.signal);

  let failedImages = 0;
  let failedQuestions = 0;
  let duplicateFiles = 0;
  const images = new Map<string, PreparedImage>();
  const questionsByImage = new Map<string, NamedQuestion[]>();
  names.forEach((name, index) => {
    const result = results[index]!;
    const questions = byName.get(name)!;
    if (!result.ok) {
      failedImages++;
      failedQuestions += questions.length;
      const lost = questions.length > 0 ? ` (${plural(questions.length, 'question')} not imported)` : '';
      errors.push({ ...label(name), message: `${result.message}${lost}` });
      return;
    }
    const existing = questionsByImage.get(result.hex);
    if (existing) {
      duplicateFiles++;
      existing.push(...questions);
      return;
    }
    questionsByImage.set(result.hex, [...questions]);
    images.set(result.hex, {
      hash: result.hash,
      sourceName: input.publicNames ? name : null,
      modality: null,
      organ: null,
      split: splitForImage(input.publicNames ? name : result.hex, input.seed, input.validationFraction),
      ...(result.decoded ? { stored: result.decoded } : {}),
    });
  });
  if (duplicateFiles > 0) {
    notes.push(
      `${plural(duplicateFiles, 'file')} had the same content as another file and ${duplicateFiles === 1 ? 'was' : 'were'} stored once`,
    );
  }

  const assembled = assembleQuestions(questionsByImage, images, errors);
  failedQuestions += assembled.failed;
  return {
    format: input.format,
    source: input.source,
    options: input.options,
    images: [...images.values()],
    questions: assembled.questions,
    errors,
    skipped: input.skipped,
    failedImages,
    // Rows the parser rejected are failed questions too.
    failedQuestions: failedQuestions + input.errors.length,
    notes,
  };
}

/**
 * Pairs questions with their (already prepared) images: organ and modality of an image are the most
 * common among its questions unless it has its own, a split column must agree across an image's
 * questions, and questions without an id get `#n` keys (see PreparedQuestion.sourceKey).
 */
export function assembleQuestions(
  questionsByImage: Map<string, NamedQuestion[]>,
  images: Map<string, PreparedImage>,
  errors: ItemError[],
): { questions: PreparedQuestion[]; failed: number } {
  const prepared: PreparedQuestion[] = [];
  const occurrences = new Map<string, number>();
  let failed = 0;
  for (const [hex, questions] of questionsByImage) {
    const image = images.get(hex)!;
    image.organ ??= mostCommon(questions.map((q) => q.organ));
    image.modality ??= mostCommon(questions.map((q) => q.modality));
    const requested = new Set(questions.map((q) => q.requestedSplit).filter((s) => s !== undefined));
    if (requested.size > 1) {
      for (const q of questions) {
        errors.push({
          item: q.item,
          message: 'questions on one image must share a split; this image has train and val rows',
        });
      }
      failed += questions.length;
      continue;
    }
    const [onlySplit] = requested;
    if (onlySplit) image.split = onlySplit;
    for (const q of questions) {
      let sourceKey = q.sourceId;
      if (sourceKey === undefined) {
        const triple = JSON.stringify([hex, q.question, q.answer]);
        const n = occurrences.get(triple) ?? 0;
        occurrences.set(triple, n + 1);
        sourceKey = `#${n}`;
      }
      prepared.push({
        imageHash: hex,
        sourceKey,
        question: q.question,
        answer: q.answer,
        answerType: q.answerType,
        item: q.item,
        ...(q.requestedSplit ? { requestedSplit: q.requestedSplit } : {}),
      });
    }
  }
  return { questions: prepared, failed };
}

export interface QuestionFileParse {
  questions: DatasetQuestion[];
  errors: ItemError[];
  skipped?: Record<string, number>;
}

/**
 * Reads a public dataset's question files (VQA-RAD's trainset.json, SLAKE's train.json …) with one
 * parser: per-item errors labelled by file when there are several, question ids unique across files,
 * an optional organ filter (counted as skipped), read progress per file.
 */
export async function readQuestionFiles(
  root: string,
  files: readonly string[],
  organs: ReadonlySet<string> | undefined,
  parse: (json: unknown) => QuestionFileParse,
  context: ImportContext,
): Promise<{ questions: NamedQuestion[]; errors: ItemError[]; skipped: Record<string, number> }> {
  context.onProgress({ phase: 'read', done: 0, total: files.length });
  const questions: NamedQuestion[] = [];
  const errors: ItemError[] = [];
  const skipped: Record<string, number> = {};
  const seen = new Set<string>();
  for (const [index, file] of files.entries()) {
    const label = basename(file);
    const json = parseJsonText(await readTextFile(resolve(root, file), label), label);
    let parsed: QuestionFileParse;
    try {
      parsed = parse(json);
    } catch (error) {
      throw new DataInputError(`${label}: ${(error as Error).message}`);
    }
    const prefix = files.length > 1 ? `${label} ` : '';
    for (const e of parsed.errors) errors.push({ ...e, item: `${prefix}${e.item}` });
    for (const [reason, n] of Object.entries(parsed.skipped ?? {}))
      skipped[reason] = (skipped[reason] ?? 0) + n;
    for (const q of parsed.questions) {
      const item = `${prefix}qid ${q.qid}`;
      if (seen.has(q.qid)) {
        errors.push({ item, message: 'duplicate question id (already in an earlier file)' });
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
        ...(q.modality ? { modality: q.modality } : {}),
        item,
      });
    }
    context.onProgress({ phase: 'read', done: index + 1, total: files.length });
  }
  return { questions, errors, skipped };
}

/** The organ filter of an import, normalised, or undefined when every organ is wanted. */
export function organFilter(organs: readonly string[] | undefined): Set<string> | undefined {
  return organs?.length ? new Set(organs.map((o) => o.trim().toUpperCase())) : undefined;
}
