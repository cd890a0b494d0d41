import { dirname, resolve } from 'node:path';
import {
  parseCsvTable,
  parseJsonlTable,
  resolveColumns,
  tableQuestions,
  type Table,
} from '../../core/data/tabular.js';
import type { ImportContext } from './context.js';
import { prepareNamedDataset } from './named-dataset.js';
import { pathResolver } from './paths.js';
import { readTextFile } from './read-text.js';
import { storedSource } from './stored-source.js';
import type { ImportOptions, PreparedImport } from './types.js';
import type { SplitOptions } from './vqa-rad.js';

/** Reads a CSV or JSONL question table and resolves its columns (whole-import errors for bad files). */
export async function readQuestionTable(
  path: string,
  format: 'csv' | 'jsonl',
  options: ImportOptions,
  label: string,
) {
  const text = await readTextFile(path, label);
  const table: Table = format === 'csv' ? parseCsvTable(text, label) : parseJsonlTable(text, label);
  const mapping = resolveColumns(table.columns, options.columns ?? {}, label);
  return { table, mapping, ...tableQuestions(table, mapping) };
}

/**
 * CSV or JSON Lines with one question per row and a column holding the image path, relative to the
 * table's folder (or `imagesDir`). Image paths are hospital file names: they are used to find the files
 * and never stored.
 */
export async function prepareTable(
  format: 'csv' | 'jsonl',
  path: string,
  options: ImportOptions,
  split: SplitOptions,
  context: ImportContext,
): Promise<PreparedImport> {
  const file = resolve(path);
  const label = format === 'csv' ? 'the CSV file' : 'the JSONL file';
  context.onProgress({ phase: 'read', done: 0, total: 1 });
  const { mapping, questions, errors } = await readQuestionTable(file, format, options, label);
  context.onProgress({ phase: 'read', done: 1, total: 1 });
  const organs = options.organs?.length
    ? new Set(options.organs.map((o) => o.trim().toUpperCase()))
    : undefined;
  const skipped: Record<string, number> = {};
  const kept = questions.filter((q) => {
    if (!organs || organs.has(q.organ ?? '')) return true;
    skipped['organ not selected'] = (skipped['organ not selected'] ?? 0) + 1;
    return false;
  });
  const notes: string[] = [];
  if (mapping.answerType === undefined && kept.length > 0) {
    notes.push('no answer-type column: yes/no answers were taken as closed, all others as open');
  }
  return prepareNamedDataset(
    {
      format,
      source: storedSource(format),
      options: { ...split, columns: mapping, ...(organs ? { organs: [...organs] } : {}) },
      questions: kept.map((q) => ({
        imageName: q.image,
        ...(q.id !== undefined ? { sourceId: q.id } : {}),
        question: q.question,
        answer: q.answer,
        answerType: q.answerType,
        ...(q.organ ? { organ: q.organ } : {}),
        ...(q.modality ? { modality: q.modality } : {}),
        item: q.item,
        ...(q.split ? { requestedSplit: q.split } : {}),
      })),
      resolve: pathResolver(options.imagesDir ? resolve(options.imagesDir) : dirname(file)),
      publicNames: false,
      seed: split.seed,
      validationFraction: split.validationFraction,
      errors,
      skipped,
      notes,
    },
    context,
  );
}
