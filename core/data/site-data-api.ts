import { z } from 'zod';

/**
 * The shapes of the site's data as they cross process boundaries (desktop UI ↔ site agent ↔ store
 * worker): schemas for every input, and for the outputs, so the SiteApi contract can validate both
 * and the renderer can import the types. Platform-free.
 */

export const IMPORT_FORMATS = ['vqa-rad', 'slake', 'csv', 'jsonl', 'dicom'] as const;
export const importFormatSchema = z.enum(IMPORT_FORMATS);
export type ImportFormat = z.infer<typeof importFormatSchema>;
/** Formats recorded in the import history: the file formats plus generated demo data. */
export const recordedFormatSchema = z.enum([...IMPORT_FORMATS, 'synthrad']);
export type RecordedFormat = z.infer<typeof recordedFormatSchema>;

const splitSchema = z.enum(['train', 'val']);
const answerTypeSchema = z.enum(['closed', 'open']);
const column = z.string().min(1).max(200);
const filePath = z.string().min(1).max(4096);

export const columnMappingSchema = z.strictObject({
  image: column.optional(),
  question: column.optional(),
  answer: column.optional(),
  answerType: column.optional(),
  split: column.optional(),
  id: column.optional(),
  organ: column.optional(),
  modality: column.optional(),
});

export const importOptionsSchema = z.strictObject({
  /** Seed and validation share of the by-image split (defaults 42 and 0.2). */
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .optional(),
  validationFraction: z.number().min(0).lt(1).optional(),
  /** vqa-rad / slake: questions file(s) in the dataset folder (default trainset.json / train.json). */
  questionsFiles: z.array(filePath).max(16).optional(),
  /** Keep only questions about these organs (case-insensitive). */
  organs: z.array(z.string().min(1).max(64)).max(64).optional(),
  /** csv / jsonl: the folder image paths are relative to (default: the table's folder). */
  imagesDir: filePath.optional(),
  /** csv / jsonl / dicom question table: which column holds what. */
  columns: columnMappingSchema.optional(),
  /** dicom: a CSV or JSONL table of questions whose image column holds a SOPInstanceUID or file name. */
  questionsTable: filePath.optional(),
  /** Any per-item error fails the whole import (nothing stored). */
  strict: z.boolean().optional(),
  /** Images decoded at once (default: the machine's parallelism, 4 to 8). */
  concurrency: z.number().int().min(1).max(64).optional(),
});
export type ImportOptions = z.infer<typeof importOptionsSchema>;

export const importRequestSchema = z.strictObject({
  format: importFormatSchema,
  /** The dataset folder (vqa-rad, slake, dicom) or the table file (csv, jsonl; slake may name a JSON). */
  path: filePath,
  options: importOptionsSchema.optional(),
});
export type ImportRequest = z.infer<typeof importRequestSchema>;

export const synthRadRequestSchema = z.strictObject({
  preset: z.string().min(1).max(64),
  n: z.number().int().min(1).max(1_000_000),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .optional(),
  validationFraction: z.number().min(0).lt(1).optional(),
});
export type SynthRadRequest = z.infer<typeof synthRadRequestSchema>;

export const importPhaseSchema = z.enum(['read', 'decode', 'write', 'features', 'done']);
export type ImportPhase = z.infer<typeof importPhaseSchema>;
export const importProgressSchema = z.object({
  phase: importPhaseSchema,
  done: z.number(),
  total: z.number(),
});
export type ImportProgress = z.infer<typeof importProgressSchema>;

export const itemErrorSchema = z.object({
  /** Where in the input: `qid 12`, `line 7`, `image x.jpg`, `file 3`. */
  item: z.string(),
  message: z.string(),
  /** The local file concerned, for the operator only: returned, never stored. */
  path: z.string().optional(),
});

export const droppedTagSchema = z.object({ tag: z.string(), name: z.string(), files: z.number() });
export type DroppedTag = z.infer<typeof droppedTagSchema>;

const countsSchema = z.object({ added: z.number(), existing: z.number(), failed: z.number() });

export const importSummarySchema = z.object({
  importId: z.number(),
  format: recordedFormatSchema,
  source: z.string(),
  status: z.literal('completed'),
  images: countsSchema,
  questions: countsSchema.extend({ skipped: z.number() }),
  skipped: z.record(z.string(), z.number()),
  /** Split of the questions this import added. */
  split: z.object({ seed: z.number(), validationFraction: z.number(), train: z.number(), val: z.number() }),
  /** The first errors (at most MAX_RETURNED_ERRORS); `errorCount` has them all. */
  errors: z.array(itemErrorSchema),
  errorCount: z.number(),
  droppedTags: z.array(droppedTagSchema).optional(),
  notes: z.array(z.string()),
  /** True when the import found nothing that was not already stored. */
  nothingNew: z.boolean(),
  /** One line for the operator: "imported 315 images and 3,064 questions", "nothing new: …". */
  message: z.string(),
  durationMs: z.number(),
});
export type ImportSummary = z.infer<typeof importSummarySchema>;
export const MAX_RETURNED_ERRORS = 1000;

export const MAX_PAGE = 500;
const pageSchema = {
  offset: z.number().int().min(0).optional(),
  /** At most MAX_PAGE; default 50. */
  limit: z.number().int().min(1).max(MAX_PAGE).optional(),
};
/** `null` filters for "not recorded". */
const nullableCode = z.string().min(1).max(64).nullable().optional();

export const recordQuerySchema = z.strictObject({
  split: splitSchema.optional(),
  answerType: answerTypeSchema.optional(),
  organ: nullableCode,
  modality: nullableCode,
  imageId: z.number().int().optional(),
  importId: z.number().int().optional(),
  /** Case-insensitive (ASCII) substring of the question or the answer; `%` and `_` are literal. */
  search: z.string().max(200).optional(),
  ...pageSchema,
});
export type RecordQuery = z.infer<typeof recordQuerySchema>;

export const recordRowSchema = z.object({
  id: z.number(),
  imageId: z.number(),
  question: z.string(),
  answer: z.string(),
  answerType: answerTypeSchema,
  split: splitSchema,
  organ: z.string().nullable(),
  modality: z.string().nullable(),
  importId: z.number(),
});
export type RecordRow = z.infer<typeof recordRowSchema>;
export const recordPageSchema = z.object({ total: z.number(), rows: z.array(recordRowSchema) });

export const imageQuerySchema = z.strictObject({
  split: splitSchema.optional(),
  organ: nullableCode,
  modality: nullableCode,
  importId: z.number().int().optional(),
  ...pageSchema,
});
export type ImageQuery = z.infer<typeof imageQuerySchema>;

export const imageRowSchema = z.object({
  id: z.number(),
  /** Public dataset file name (VQA-RAD, SLAKE); null for hospital data and generated images. */
  sourceName: z.string().nullable(),
  sourceFormat: z.string(),
  sourceWidth: z.number(),
  sourceHeight: z.number(),
  organ: z.string().nullable(),
  modality: z.string().nullable(),
  split: splitSchema,
  questions: z.number(),
  importId: z.number(),
});
export type ImageRow = z.infer<typeof imageRowSchema>;
export const imagePageSchema = z.object({ total: z.number(), rows: z.array(imageRowSchema) });

export const dataCountsSchema = z.object({
  images: z.number(),
  questions: z.number(),
  imagesBySplit: z.object({ train: z.number(), val: z.number() }),
  questionsBySplit: z.object({ train: z.number(), val: z.number() }),
  questionsByAnswerType: z.object({ closed: z.number(), open: z.number() }),
  byOrgan: z.array(z.object({ organ: z.string().nullable(), images: z.number(), questions: z.number() })),
  byModality: z.array(
    z.object({ modality: z.string().nullable(), images: z.number(), questions: z.number() }),
  ),
  /** Completed imports. */
  imports: z.number(),
});
export type DataCounts = z.infer<typeof dataCountsSchema>;

export const importRecordSchema = z.object({
  id: z.number(),
  format: recordedFormatSchema,
  source: z.string(),
  options: z.record(z.string(), z.unknown()),
  status: z.enum(['completed', 'failed', 'cancelled']),
  startedAt: z.string(),
  finishedAt: z.string(),
  images: countsSchema,
  questions: countsSchema.extend({ skipped: z.number() }),
  errorCount: z.number(),
  /** The first errors (up to `errorLimit`); page through the rest with importErrors. */
  errors: z.array(itemErrorSchema),
  /** Why a failed or cancelled import stored nothing. */
  failure: z.string().nullable(),
  skipped: z.record(z.string(), z.number()),
  droppedTags: z.array(droppedTagSchema).optional(),
  notes: z.array(z.string()),
});
export type ImportRecord = z.infer<typeof importRecordSchema>;

export const importHistoryQuerySchema = z.strictObject({
  ...pageSchema,
  errorLimit: z.number().int().min(0).max(MAX_PAGE).optional(),
});
export type ImportHistoryQuery = z.infer<typeof importHistoryQuerySchema>;

export const trainingDataQuerySchema = z.strictObject({
  split: splitSchema.optional(),
  organ: z.string().min(1).max(64).optional(),
  modality: z.string().min(1).max(64).optional(),
});
export type TrainingDataQuery = z.infer<typeof trainingDataQuerySchema>;
