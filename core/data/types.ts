/** Shared shapes of site data, used by the importers, the site store and the training engine. */

export type AnswerType = 'closed' | 'open';
export type Split = 'train' | 'val';

/** One bad item of an import (a row, a question or a file), reported instead of failing the whole import. */
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

/** An 8-bit grayscale image, row-major, `pixels.length === width * height`. */
export interface GrayImage {
  width: number;
  height: number;
  pixels: Uint8Array;
}

/** One question about one image. `imageKey` names the image within its dataset (file name or hash). */
export interface VqaRecord {
  id: string;
  imageKey: string;
  question: string;
  answer: string;
  answerType: AnswerType;
  organ?: string;
  modality?: string;
  split: Split;
}

export interface VqaDataset {
  name: string;
  records: VqaRecord[];
  images: Map<string, GrayImage>;
}

/**
 * Side of the square grayscale image the stores keep for every imported image (letterboxed, aspect
 * kept). Models resize from this; it is large enough for any TinyMed-VQA configuration.
 */
export const STORED_IMAGE_SIZE = 128;

/**
 * The longest question a site keeps, in characters: far beyond any question about one image (VQA-RAD's
 * longest is under 200). A longer one is a malformed row, and would be stored, tokenised and shown whole.
 */
export const MAX_QUESTION_CHARS = 2_000;

/** Why a (trimmed) question cannot be imported, or undefined when it can. */
export function questionProblem(question: string): string | undefined {
  if (question === '') return 'empty question';
  if (question.length > MAX_QUESTION_CHARS)
    return `question is ${question.length} characters long, over the ${MAX_QUESTION_CHARS}-character limit`;
  return undefined;
}

/** Answers compare case-insensitively after trimming and collapsing inner whitespace. */
export function normalizeAnswer(answer: string): string {
  return answer.trim().replace(/\s+/g, ' ').toLowerCase();
}
