import type { ColumnMapping } from '../../core/data/tabular.js';
import type { AnswerType, Split } from '../../core/data/types.js';
import type { ItemError } from '../../core/data/vqa-rad.js';

export type { ItemError };

export const IMPORT_FORMATS = ['vqa-rad', 'slake', 'csv', 'jsonl', 'dicom'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];
/** Formats recorded in the imports table: the file formats plus generated demo data. */
export type RecordedFormat = ImportFormat | 'synthrad';

export interface ImportOptions {
  /** Seed and validation share of the by-image split (defaults: DEFAULT_SPLIT). */
  seed?: number;
  validationFraction?: number;
  /** vqa-rad / slake: the questions file(s), relative to the dataset folder or absolute. */
  questionsFiles?: string[];
  /** vqa-rad / slake / csv / jsonl: keep only questions about these organs (case-insensitive). */
  organs?: string[];
  /** csv / jsonl: the folder image paths are relative to (default: the table's folder). */
  imagesDir?: string;
  /** csv / jsonl / dicom question table: which column holds what. */
  columns?: Partial<ColumnMapping>;
  /** dicom: a CSV or JSONL table of questions whose image column holds a SOPInstanceUID or file name. */
  questionsTable?: string;
  /** Any per-item error fails the whole import (nothing stored). */
  strict?: boolean;
  /** Images decoded at once (default: the machine's parallelism, 4 to 8). */
  concurrency?: number;
}

export interface ImportRequest {
  format: ImportFormat;
  /** The dataset folder (vqa-rad, slake, dicom) or the table file (csv, jsonl; slake may name the JSON). */
  path: string;
  options?: ImportOptions;
}

export type ImportPhase = 'read' | 'decode' | 'write' | 'done';
export interface ImportProgress {
  phase: ImportPhase;
  done: number;
  total: number;
}

/** One image, decoded and validated, ready for the store's transaction. */
export interface PreparedImage {
  /** SHA-256 of the original file bytes (DICOM: of geometry + pixel data, see DicomImage.contentKey). */
  hash: Uint8Array;
  /** Public dataset file name (VQA-RAD, SLAKE); null for hospital data, whose names can identify. */
  sourceName: string | null;
  modality: string | null;
  organ: string | null;
  /** Split for the image if it is new to the store; an image already stored keeps its split. */
  split: Split;
  /** The decoded image; absent when the store already holds an image with this hash (not decoded). */
  stored?: DecodedImage;
}

export interface DecodedImage {
  sourceFormat: string;
  sourceWidth: number;
  sourceHeight: number;
  size: number;
  pixels: Uint8Array;
  thumbnail: Uint8Array;
  thumbnailType: string;
}

export interface PreparedQuestion {
  /** Hex SHA-256 of the image, matching a PreparedImage. */
  imageHash: string;
  /**
   * The dataset's question id, or `#n` (n-th identical image/question/answer triple in the file) when
   * it has none: with the text it makes re-imports idempotent without merging deliberate duplicates.
   */
  sourceKey: string;
  question: string;
  answer: string;
  answerType: AnswerType;
  /** Where the question came from in the input, for errors found at write time. */
  item: string;
  /** A split the input asked for explicitly (split column); checked against a stored image's split. */
  requestedSplit?: Split;
}

export interface DroppedTag {
  tag: string;
  name: string;
  files: number;
}

/** Everything an import will write, computed before the write transaction starts. */
export interface PreparedImport {
  format: RecordedFormat;
  /** What the imports table records as the source (DICOM: a hash, never the path). */
  source: string;
  /** Options worth recording (no paths). */
  options: Record<string, unknown>;
  images: PreparedImage[];
  questions: PreparedQuestion[];
  errors: ItemError[];
  /** Questions left out on purpose, by reason (e.g. non-English SLAKE questions). */
  skipped: Record<string, number>;
  /** Images whose file failed; their questions are counted as failed too. */
  failedImages: number;
  failedQuestions: number;
  droppedTags?: DroppedTag[];
  notes: string[];
}

export interface ImportSummary {
  importId: number;
  format: RecordedFormat;
  source: string;
  status: 'completed';
  images: { added: number; existing: number; failed: number };
  questions: { added: number; existing: number; failed: number; skipped: number };
  skipped: Record<string, number>;
  /** Split of the questions added by this import. */
  split: { seed: number; validationFraction: number; train: number; val: number };
  errors: ItemError[];
  errorCount: number;
  droppedTags?: DroppedTag[];
  notes: string[];
  /** True when the import found nothing that was not already stored. */
  nothingNew: boolean;
  message: string;
  durationMs: number;
}
