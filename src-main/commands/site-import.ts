import { existsSync } from 'node:fs';
import { parseCommandArgs, parseIntegerOption, requireOption } from '../../core/cli/args.node.js';
import { CliError } from '../../core/cli/errors.js';
import type { ColumnMapping } from '../../core/data/tabular.js';
import { ensureSiteDataDir } from '../agent/site-data-dir.js';
import { IMPORT_FORMATS, type ImportFormat, type ImportOptions } from '../importers/types.js';
import { runImportJob } from './site-store.js';

const COMMAND = 'site import';

const COLUMN_FLAGS: Record<string, keyof ColumnMapping> = {
  'image-col': 'image',
  'question-col': 'question',
  'answer-col': 'answer',
  'answer-type-col': 'answerType',
  'split-col': 'split',
  'id-col': 'id',
  'organ-col': 'organ',
  'modality-col': 'modality',
};

const USAGE = `usage: cohort site import --data-dir DIR --format FORMAT PATH [options] [--json]

Imports questions and images into the site's local store, in one transaction: all of it or nothing.
Importing the same data again adds nothing. Patient identifiers are never stored.

formats (PATH):
  vqa-rad   a folder with trainset.json and images/ (the MEVF layout)
  slake     a SLAKE folder (train.json, imgs/) or one of its JSON files; English questions only
  csv       a CSV file, one question per row, with an image path column (relative to the file)
  jsonl     a JSON Lines file, one question object per line, same columns as csv
  dicom     a folder of DICOM files (or one file); questions from --questions-table

options:
  --seed N                 seed of the by-image train/validation split (default 42)
  --val-fraction F         share of images in the validation split, 0 <= F < 1 (default 0.2)
  --organ LIST             keep only questions about these organs (comma-separated, e.g. HEAD,CHEST)
  --questions FILE         vqa-rad/slake: questions file in the folder (repeatable;
                           default trainset.json / train.json)
  --images-dir DIR         csv/jsonl: folder the image paths are relative to (default: the file's folder)
  --questions-table FILE   dicom: CSV or JSONL of questions whose image column holds each image's
                           SOPInstanceUID or file name
  --image-col NAME, --question-col NAME, --answer-col NAME, --answer-type-col NAME,
  --split-col NAME, --id-col NAME, --organ-col NAME, --modality-col NAME
                           csv/jsonl/dicom table columns (default: image, question, answer,
                           answer_type, split, id, organ, modality and common variants)
  --strict                 any per-item error fails the whole import
  --json                   print the summary as JSON on stdout (progress on stderr only on a terminal)`;

export async function run(args: string[]): Promise<number> {
  const { values: parsed, positionals } = parseCommandArgs(
    COMMAND,
    args,
    {
      'data-dir': { type: 'string' },
      format: { type: 'string' },
      seed: { type: 'string' },
      'val-fraction': { type: 'string' },
      organ: { type: 'string' },
      questions: { type: 'string', multiple: true },
      'images-dir': { type: 'string' },
      'questions-table': { type: 'string' },
      strict: { type: 'boolean' },
      json: { type: 'boolean' },
      ...Object.fromEntries(Object.keys(COLUMN_FLAGS).map((flag) => [flag, { type: 'string' as const }])),
    },
    true,
  );
  const values = parsed as Record<string, string | string[] | boolean | undefined>;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const dataDir = requireOption(COMMAND, values['data-dir'] as string | undefined, '--data-dir');
  const format = requireOption(COMMAND, values.format as string | undefined, '--format');
  if (!(IMPORT_FORMATS as readonly string[]).includes(format)) {
    throw new CliError(
      `${COMMAND}: --format must be one of ${IMPORT_FORMATS.join(', ')} (got '${format}')`,
      2,
    );
  }
  if (positionals.length !== 1) throw new CliError(`${COMMAND}: give exactly one PATH to import`, 2);
  const path = positionals[0]!;
  if (!existsSync(path)) throw new CliError(`${COMMAND}: ${path} does not exist`, 2);
  const options: ImportOptions = {};
  const seed = parseIntegerOption(COMMAND, values.seed as string | undefined, '--seed', 0, 2 ** 31 - 1);
  if (seed !== undefined) options.seed = seed;
  const fractionText = values['val-fraction'] as string | undefined;
  if (fractionText !== undefined) {
    const fraction = Number(fractionText);
    if (fractionText.trim() === '' || !(fraction >= 0 && fraction < 1)) {
      throw new CliError(
        `${COMMAND}: --val-fraction must be a number with 0 <= F < 1 (got '${fractionText}')`,
        2,
      );
    }
    options.validationFraction = fraction;
  }
  const organ = values.organ as string | undefined;
  if (organ !== undefined) {
    const organs = organ
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean);
    if (organs.length === 0) throw new CliError(`${COMMAND}: --organ needs at least one organ name`, 2);
    options.organs = organs;
  }
  const questions = values.questions as string[] | undefined;
  if (questions?.length) options.questionsFiles = questions;
  if (values['images-dir'] !== undefined) options.imagesDir = values['images-dir'] as string;
  if (values['questions-table'] !== undefined) {
    const table = values['questions-table'] as string;
    if (!existsSync(table)) throw new CliError(`${COMMAND}: ${table} does not exist`, 2);
    options.questionsTable = table;
  }
  const columns: Partial<ColumnMapping> = {};
  for (const [flag, field] of Object.entries(COLUMN_FLAGS)) {
    const value = values[flag] as string | undefined;
    if (value !== undefined) columns[field] = value;
  }
  if (Object.keys(columns).length > 0) options.columns = columns;
  if (values.strict) options.strict = true;
  const notFor = (flag: string, formats: ImportFormat[]) => {
    if (values[flag] !== undefined && !formats.includes(format as ImportFormat)) {
      throw new CliError(`${COMMAND}: --${flag} does not apply to --format ${format}`, 2);
    }
  };
  notFor('questions', ['vqa-rad', 'slake']);
  notFor('images-dir', ['csv', 'jsonl']);
  notFor('questions-table', ['dicom']);
  for (const flag of Object.keys(COLUMN_FLAGS)) notFor(flag, ['csv', 'jsonl', 'dicom']);

  const json = Boolean(values.json);
  const paths = ensureSiteDataDir(dataDir);
  return runImportJob(COMMAND, paths.database, json, (service, onProgress) =>
    service.importDataset({ format: format as ImportFormat, path, options }, onProgress),
  );
}
