import type { Split } from './types.js';

/** FNV-1a over UTF-16 code units followed by murmur3's finaliser: a stable, well-mixed 32-bit hash. */
export function stableHash32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/**
 * The split of every question on an image, decided by the image alone: questions on one image never
 * straddle splits, the same seed always gives the same answer, and importing more images later never
 * moves an image that was already assigned.
 */
export function splitForImage(imageKey: string, seed: number, validationFraction: number): Split {
  if (!(validationFraction >= 0 && validationFraction < 1))
    throw new Error('validationFraction must be in [0, 1)');
  return stableHash32(`cohort/split/v1:${seed}:${imageKey}`) / 2 ** 32 < validationFraction ? 'val' : 'train';
}

/**
 * The split of one question, decided by its id alone: held-out questions about images that also have
 * training questions, like VQA-RAD's official test split (which asks new questions about images seen
 * in training). Measures how well a model answers about known images; splitForImage measures unseen ones.
 */
export function splitForQuestion(questionId: string, seed: number, validationFraction: number): Split {
  if (!(validationFraction >= 0 && validationFraction < 1))
    throw new Error('validationFraction must be in [0, 1)');
  return stableHash32(`cohort/split-question/v1:${seed}:${questionId}`) / 2 ** 32 < validationFraction
    ? 'val'
    : 'train';
}
