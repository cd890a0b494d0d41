/**
 * Turns site records into model inputs without any vocabulary derived from site data: images are
 * resized and standardised into patches, and question words become hashed character n-grams (a fixed,
 * public hash of the text itself), so nothing about a site's wording has to be shared to train.
 */
import { stableHash32 } from '../data/split.js';
import { Rng } from './rng.js';
import { normalizeAnswer, type GrayImage, type VqaRecord } from '../data/types.js';
import type { ModelConfig } from './model.js';

/** How questions are encoded (every architecture shares it). */
export interface TextGeometry {
  maxTokens: number;
  ngramSlots: number;
  hashBuckets: number;
  /** Width of the question sketch: a fixed random projection of the question's hashed n-grams. */
  sketchDim: number;
}

/** TinyMed-VQA's geometry: the question encoding and the image's pixel patches. */
export interface FeatureGeometry extends TextGeometry {
  imageSize: number;
  patchSize: number;
}

/** The geometry examples were encoded for; `image` names what one image row is (see imageLayout). */
export interface ExampleGeometry extends TextGeometry {
  image: string;
}

/** One image's row: TinyMed's patches, or FeatVQA's encoder features (tokens × channels, from the cache). */
export function imageLayout(cfg: ModelConfig): { name: string; values: number } {
  if (cfg.arch === 'feat-vqa') {
    const channels = cfg.featureGroups.reduce((a, b) => a + b, 0);
    return {
      name: `features:${cfg.encoder.sha256}:${cfg.featureTokens}x${channels}`,
      values: cfg.featureTokens * channels,
    };
  }
  return { name: `pixels:${cfg.imageSize}/${cfg.patchSize}`, values: cfg.imageSize * cfg.imageSize };
}

/**
 * What a model reads of each image: its decoded pixels (TinyMed-VQA), or its encoder features
 * [featureTokens × Σ featureGroups] for FeatVQA, computed once per image and cached by the site.
 */
export type ImageInput = GrayImage | Float32Array;

export const numPatches = (g: FeatureGeometry) => (g.imageSize / g.patchSize) ** 2;

/** Resizes (box filter down, bilinear up) and standardises (zero mean, unit variance) a grayscale image. */
export function resizeGray(image: GrayImage, size: number): Float32Array {
  const { width: w, height: h, pixels } = image;
  if (w <= 0 || h <= 0 || pixels.length !== w * h) throw new Error('resizeGray: malformed image');
  const out = new Float32Array(size * size);
  const sx = w / size;
  const sy = h / size;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let v: number;
      if (sx >= 1 && sy >= 1) {
        const x0 = Math.floor(x * sx);
        const x1 = Math.max(x0 + 1, Math.floor((x + 1) * sx));
        const y0 = Math.floor(y * sy);
        const y1 = Math.max(y0 + 1, Math.floor((y + 1) * sy));
        let sum = 0;
        for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) sum += pixels[yy * w + xx]!;
        v = sum / ((x1 - x0) * (y1 - y0));
      } else {
        const fx = Math.min(w - 1, Math.max(0, (x + 0.5) * sx - 0.5));
        const fy = Math.min(h - 1, Math.max(0, (y + 0.5) * sy - 0.5));
        const x0 = Math.floor(fx);
        const y0 = Math.floor(fy);
        const x1 = Math.min(w - 1, x0 + 1);
        const y1 = Math.min(h - 1, y0 + 1);
        const ax = fx - x0;
        const ay = fy - y0;
        const top = pixels[y0 * w + x0]! * (1 - ax) + pixels[y0 * w + x1]! * ax;
        const bottom = pixels[y1 * w + x0]! * (1 - ax) + pixels[y1 * w + x1]! * ax;
        v = top * (1 - ay) + bottom * ay;
      }
      out[y * size + x] = v;
    }
  }
  let mean = 0;
  for (const v of out) mean += v;
  mean /= out.length;
  let variance = 0;
  for (const v of out) variance += (v - mean) ** 2;
  const inv = 1 / Math.sqrt(variance / out.length + 1e-2);
  for (let i = 0; i < out.length; i++) out[i] = (out[i]! - mean) * inv;
  return out;
}

/** Image → patches [numPatches, patchSize²], patches in row-major order. */
export function imageToPatches(image: GrayImage, geometry: FeatureGeometry): Float32Array {
  const { imageSize: s, patchSize: p } = geometry;
  if (s % p !== 0) throw new Error('imageSize must be a multiple of patchSize');
  const img = resizeGray(image, s);
  const per = s / p;
  const out = new Float32Array(s * s);
  let o = 0;
  for (let py = 0; py < per; py++) {
    for (let px = 0; px < per; px++) {
      for (let y = 0; y < p; y++) {
        for (let x = 0; x < p; x++) out[o++] = img[(py * p + y) * s + px * p + x]!;
      }
    }
  }
  return out;
}

export function questionWords(question: string): string[] {
  return question
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0);
}

/**
 * Question → per-word hashed n-gram ids and weights ([maxTokens × ngramSlots] each) and a token mask.
 * Each word is the mean of the embeddings of the whole word and of its character trigrams (with word
 * boundary marks), so unseen and misspelt words still land near related ones.
 */
export function tokenizeQuestion(
  question: string,
  geometry: TextGeometry,
): { ids: Int32Array; weights: Float32Array; mask: Float32Array } {
  const { maxTokens: L, ngramSlots: K, hashBuckets: H } = geometry;
  const ids = new Int32Array(L * K);
  const weights = new Float32Array(L * K);
  const mask = new Float32Array(L);
  const words = questionWords(question).slice(0, L);
  words.forEach((word, t) => {
    const marked = `<${word}>`;
    const grams: string[] = [];
    for (let i = 0; i + 3 <= marked.length; i++) grams.push(marked.slice(i, i + 3));
    let chosen = grams;
    if (grams.length > K - 1) {
      // Keep an even spread of trigrams across long words (start, middle and end all matter).
      chosen = Array.from(
        { length: K - 1 },
        (_, i) => grams[Math.round((i * (grams.length - 1)) / (K - 2))]!,
      );
    }
    const features = [`w:${word}`, ...chosen.map((gm) => `g:${gm}`)];
    features.forEach((f, k) => {
      ids[t * K + k] = stableHash32(`cohort/ngram/v1:${f}`) % H;
      weights[t * K + k] = 1 / features.length;
    });
    mask[t] = 1;
  });
  return { ids, weights, mask };
}

const sketchRows = new Map<string, Float32Array>();

/** The fixed pseudo-random vector of hashed n-gram `id` (generated from the id alone, never stored). */
function sketchRow(id: number, dim: number): Float32Array {
  const key = `${dim}:${id}`;
  let row = sketchRows.get(key);
  if (!row) {
    const rng = new Rng(stableHash32(`cohort/sketch/v1:${id}`));
    row = new Float32Array(dim);
    for (let i = 0; i < dim; i++) row[i] = rng.normal();
    sketchRows.set(key, row);
  }
  return row;
}

/**
 * The question sketch: the mean over words of the mean of their n-grams' fixed random vectors, scaled
 * to unit RMS. A wide (sketchDim) dense random projection of the question's bag of hashed n-grams: it
 * keeps word identity far better than the narrow model width, and, being dense and public, learning
 * on it reveals no word list.
 */
export function questionSketch(
  ids: Int32Array,
  weights: Float32Array,
  mask: Float32Array,
  geometry: TextGeometry,
): Float32Array {
  const { maxTokens: L, ngramSlots: K, sketchDim: S } = geometry;
  const out = new Float32Array(S);
  for (let t = 0; t < L; t++) {
    if (!mask[t]) continue;
    for (let k = 0; k < K; k++) {
      const w = weights[t * K + k]!;
      if (w === 0) continue;
      const row = sketchRow(ids[t * K + k]!, S);
      for (let i = 0; i < S; i++) out[i]! += w * row[i]!;
    }
  }
  let sq = 0;
  for (const v of out) sq += v * v;
  if (sq > 0) {
    const inv = 1 / Math.sqrt(sq / S);
    for (let i = 0; i < S; i++) out[i]! *= inv;
  }
  return out;
}

/** Examples as flat typed arrays: cheap to transfer to a worker thread and to slice into batches. */
export interface EncodedExamples {
  n: number;
  geometry: ExampleGeometry;
  /** nImages × the image layout's values (patches, or encoder features) */
  imageFeatures: Float32Array;
  imageIndex: Int32Array;
  tokenIds: Int32Array;
  tokenWeights: Float32Array;
  textMask: Float32Array;
  /** n × sketchDim */
  sketch: Float32Array;
  /** Index into the answer set, or −1 when the answer is outside it (always counted wrong). */
  labels: Int32Array;
  closed: Uint8Array;
}

export function answerIndex(answers: readonly string[]): Map<string, number> {
  const map = new Map<string, number>();
  answers.forEach((a, i) => {
    const key = normalizeAnswer(a);
    if (!map.has(key)) map.set(key, i);
  });
  return map;
}

export function encodeExamples(
  records: readonly VqaRecord[],
  images: ReadonlyMap<string, ImageInput>,
  answers: readonly string[],
  cfg: ModelConfig,
): EncodedExamples {
  const steps = encodingSteps(records, images, answers, cfg);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** Questions encoded between two turns of the event loop by `encodeExamplesInSlices` (about 10 ms). */
const QUESTIONS_PER_SLICE = 64;

/**
 * `encodeExamples`, the same result, giving the event loop a turn before each slice of questions. The
 * question sketch costs a fraction of a millisecond per question, so a site's thousand questions would
 * otherwise hold its agent for a few hundred milliseconds: its WebSocket frames (a secure-aggregation
 * message just sent, the coordinator's next one) and its UI would wait that long.
 */
export async function encodeExamplesInSlices(
  records: readonly VqaRecord[],
  images: ReadonlyMap<string, ImageInput>,
  answers: readonly string[],
  cfg: ModelConfig,
): Promise<EncodedExamples> {
  const steps = encodingSteps(records, images, answers, cfg);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await new Promise<void>((resolve) => setTimeout(resolve, 0)); // not setImmediate: core is not Node-only
  }
}

/** The encoding, pausing (yield) before each slice of questions; returns the examples. */
function* encodingSteps(
  records: readonly VqaRecord[],
  images: ReadonlyMap<string, ImageInput>,
  answers: readonly string[],
  cfg: ModelConfig,
): Generator<void, EncodedExamples> {
  const geometry: TextGeometry = cfg;
  const layout = imageLayout(cfg);
  const index = answerIndex(answers);
  const imageSlots = new Map<string, number>();
  for (const r of records) {
    if (!images.has(r.imageKey)) throw new Error(`record ${r.id}: image '${r.imageKey}' is missing`);
    if (!imageSlots.has(r.imageKey)) imageSlots.set(r.imageKey, imageSlots.size);
  }
  const per = layout.values;
  const imageFeatures = new Float32Array(imageSlots.size * per);
  for (const [key, slot] of imageSlots) {
    const image = images.get(key)!;
    if (cfg.arch === 'feat-vqa') {
      if (!(image instanceof Float32Array) || image.length !== per)
        throw new Error(`image '${key}' has no encoder features of the model's layout (${layout.name})`);
      imageFeatures.set(image, slot * per);
    } else {
      if (image instanceof Float32Array)
        throw new Error(`image '${key}': the model reads pixels, not features`);
      imageFeatures.set(imageToPatches(image, cfg), slot * per);
    }
  }
  const n = records.length;
  const L = geometry.maxTokens;
  const K = geometry.ngramSlots;
  const out: EncodedExamples = {
    n,
    geometry: {
      maxTokens: L,
      ngramSlots: K,
      hashBuckets: geometry.hashBuckets,
      sketchDim: geometry.sketchDim,
      image: layout.name,
    },
    imageFeatures,
    imageIndex: new Int32Array(n),
    tokenIds: new Int32Array(n * L * K),
    tokenWeights: new Float32Array(n * L * K),
    textMask: new Float32Array(n * L),
    sketch: new Float32Array(n * geometry.sketchDim),
    labels: new Int32Array(n),
    closed: new Uint8Array(n),
  };
  for (const [i, r] of records.entries()) {
    if (i % QUESTIONS_PER_SLICE === 0) yield;
    const tok = tokenizeQuestion(r.question, geometry);
    out.imageIndex[i] = imageSlots.get(r.imageKey)!;
    out.tokenIds.set(tok.ids, i * L * K);
    out.tokenWeights.set(tok.weights, i * L * K);
    out.textMask.set(tok.mask, i * L);
    out.sketch.set(questionSketch(tok.ids, tok.weights, tok.mask, geometry), i * geometry.sketchDim);
    out.labels[i] = index.get(normalizeAnswer(r.answer)) ?? -1;
    out.closed[i] = r.answerType === 'closed' ? 1 : 0;
  }
  return out;
}

/** A subset of examples (same image table). */
export function selectExamples(ex: EncodedExamples, rows: readonly number[]): EncodedExamples {
  const L = ex.geometry.maxTokens;
  const K = ex.geometry.ngramSlots;
  const out: EncodedExamples = {
    ...ex,
    n: rows.length,
    imageIndex: new Int32Array(rows.length),
    tokenIds: new Int32Array(rows.length * L * K),
    tokenWeights: new Float32Array(rows.length * L * K),
    textMask: new Float32Array(rows.length * L),
    sketch: new Float32Array(rows.length * ex.geometry.sketchDim),
    labels: new Int32Array(rows.length),
    closed: new Uint8Array(rows.length),
  };
  rows.forEach((r, i) => {
    out.imageIndex[i] = ex.imageIndex[r]!;
    out.tokenIds.set(ex.tokenIds.subarray(r * L * K, (r + 1) * L * K), i * L * K);
    out.tokenWeights.set(ex.tokenWeights.subarray(r * L * K, (r + 1) * L * K), i * L * K);
    out.textMask.set(ex.textMask.subarray(r * L, (r + 1) * L), i * L);
    const S = ex.geometry.sketchDim;
    out.sketch.set(ex.sketch.subarray(r * S, (r + 1) * S), i * S);
    out.labels[i] = ex.labels[r]!;
    out.closed[i] = ex.closed[r]!;
  });
  return out;
}
