import type { RecordedFormat } from '../../core/data/site-data-api.js';
import type { AnswerType, Split } from '../../core/data/types.js';
import type { ItemError } from '../../core/data/vqa-rad.js';

export type { ItemError };
export { IMPORT_FORMATS } from '../../core/data/site-data-api.js';
export type {
  DroppedTag,
  ImportFormat,
  ImportOptions,
  ImportPhase,
  ImportProgress,
  ImportRequest,
  ImportSummary,
  RecordedFormat,
} from '../../core/data/site-data-api.js';

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
  /** The source at the image encoder's input size (only when the store computes features at import). */
  encoderPixels?: Uint8Array;
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
  droppedTags?: { tag: string; name: string; files: number }[];
  notes: string[];
}
