/**
 * Encoding of a site's update into the uint32 vector that secure aggregation sums (DESIGN.md §4):
 *
 *   [ q_1 … q_d | w | c_1 … c_m ]
 *
 * - q_i: the L2-clipped update times the site's weight w, scaled to a signed B-bit integer by stochastic
 *   rounding and stored as uint32 two's complement: q_i = SR(w · clip_C(Δ)_i · s) with
 *   s = (2^(B−1) − 1) / (C · W), W the largest allowed weight. |w · clip_C(Δ)_i| ≤ C · W, so
 *   |q_i| ≤ 2^(B−1) − 1.
 * - w and the counters c_j (examples, correct answers, …): exact non-negative integers; a counter
 *   saturates at ⌊(2^31 − 1)/N_max⌋ (see `saturate`).
 *
 * Overflow is impossible by construction: with B + ⌈log2 N_max⌉ ≤ 31 (`chooseBits`), the sum of N ≤ N_max
 * coordinates lies in ±N_max·(2^(B−1) − 1) < 2^30, and every integer field is at most ⌊(2^31 − 1)/N_max⌋,
 * so the modular sum read as int32 is the exact integer sum.
 *
 * Error bound (per coordinate of the decoded weighted mean). Stochastic rounding adds to each q_i an
 * error e with |e| < 1 and E[e] = 0, independently per site. The decoded mean is
 * Σ_u q_u,i / (s · Σ_u w_u), so for N summed sites
 *
 *   |mean_decoded_i − mean_true_i| < N / (s · Σ_u w_u) = N · C · W / ((2^(B−1) − 1) · Σ_u w_u)
 *
 * where mean_true_i = Σ_u w_u · clip_C(Δ_u)_i / Σ_u w_u. The error is unbiased, and by Hoeffding it exceeds
 * λ · √N / (s · Σ w) with probability at most 2·exp(−λ²/2). `quantizationErrorBound` returns the first
 * (worst-case) figure; encoding.test.ts checks it.
 */

const MAX_INT32 = 2 ** 31 - 1;

/** A uniform double in [0, 1). */
export type Rng = () => number;

/** The largest B with B + ⌈log2 nMax⌉ ≤ 31: the sum of nMax B-bit values never wraps an int32. */
export function chooseBits(nMax: number): number {
  if (!Number.isInteger(nMax) || nMax < 1)
    throw new RangeError(`nMax must be a positive integer (got ${nMax})`);
  const bits = 31 - Math.ceil(Math.log2(nMax));
  if (bits < 2) throw new RangeError(`nMax ${nMax} leaves fewer than 2 bits per coordinate`);
  return bits;
}

/** The largest value an integer field (weight, counter) may take so that nMax of them sum below 2^31. */
export function maxCounter(nMax: number): number {
  return Math.floor(MAX_INT32 / nMax);
}

/** The update scaled to L2 norm at most `clip` (unchanged if already within). */
export function clipL2(
  values: ArrayLike<number>,
  clip: number,
): { clipped: Float64Array; norm: number; factor: number } {
  if (!(clip > 0) || !Number.isFinite(clip))
    throw new RangeError(`clip must be a positive number (got ${clip})`);
  let squares = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) throw new RangeError(`update coordinate ${i} is not finite`);
    squares += v * v;
  }
  const norm = Math.sqrt(squares);
  const factor = norm > clip ? clip / norm : 1;
  const clipped = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) clipped[i] = values[i]! * factor;
  return { clipped, norm, factor };
}

export interface EncodingSpec {
  /** L2 clipping norm C. */
  clip: number;
  /** Bits per coordinate, B; at most `chooseBits(nMax)`. */
  bits: number;
  /** The largest weight any site may use, W (an integer). */
  maxWeight: number;
  /** The largest number of sites whose vectors are summed. */
  nMax: number;
  /** Number of integer counters after the weight. */
  counters: number;
}

function checkSpec(spec: EncodingSpec): void {
  const { clip, bits, maxWeight, nMax, counters } = spec;
  if (!(clip > 0) || !Number.isFinite(clip)) throw new RangeError('clip must be a positive number');
  if (!Number.isInteger(bits) || bits < 2 || bits > chooseBits(nMax)) {
    throw new RangeError(
      `bits must be an integer from 2 to ${chooseBits(nMax)} for nMax ${nMax} (got ${bits})`,
    );
  }
  if (!Number.isInteger(maxWeight) || maxWeight < 1 || maxWeight > maxCounter(nMax)) {
    throw new RangeError(`maxWeight must be an integer from 1 to ${maxCounter(nMax)}`);
  }
  if (!Number.isInteger(counters) || counters < 0)
    throw new RangeError('counters must be a non-negative integer');
}

/** s: quantized units per unit of (weight × clipped coordinate). */
export function quantizationScale(spec: Pick<EncodingSpec, 'clip' | 'bits' | 'maxWeight'>): number {
  return (2 ** (spec.bits - 1) - 1) / (spec.clip * spec.maxWeight);
}

/** Encoded length for an update of `dimension` coordinates. */
export function encodedLength(dimension: number, spec: Pick<EncodingSpec, 'counters'>): number {
  return dimension + 1 + spec.counters;
}

export interface EncodeInput {
  /** The update Δ (float). */
  update: ArrayLike<number>;
  /** The site's weight w (e.g. its number of training examples), an integer in [0, W]. */
  weight: number;
  /** Exact integer counters, `spec.counters` of them. */
  counters?: readonly number[];
}

/** Encodes one site's update; `rng` drives the stochastic rounding (inject a seeded one for tests). */
export function encodeUpdate(input: EncodeInput, spec: EncodingSpec, rng: Rng = cryptoRng()): Uint32Array {
  checkSpec(spec);
  const counters = input.counters ?? [];
  if (counters.length !== spec.counters)
    throw new RangeError(`expected ${spec.counters} counters, got ${counters.length}`);
  const limit = maxCounter(spec.nMax);
  if (!Number.isInteger(input.weight) || input.weight < 0 || input.weight > spec.maxWeight) {
    throw new RangeError(`weight must be an integer from 0 to ${spec.maxWeight} (got ${input.weight})`);
  }
  const d = input.update.length;
  const out = new Uint32Array(encodedLength(d, spec));
  const { clipped } = clipL2(input.update, spec.clip);
  const scale = quantizationScale(spec) * input.weight;
  const max = 2 ** (spec.bits - 1) - 1;
  for (let i = 0; i < d; i++) {
    const x = clipped[i]! * scale;
    const floor = Math.floor(x);
    let q = floor + (rng() < x - floor ? 1 : 0);
    // Rounding in the norm can put x a few ulps past ±max; clamping keeps |error| < 1.
    if (q > max) q = max;
    else if (q < -max) q = -max;
    out[i] = q >>> 0;
  }
  out[d] = input.weight;
  counters.forEach((c, j) => (out[d + 1 + j] = saturate(c, limit)));
  return out;
}

/**
 * A counter as the integer in [0, limit] nearest to it, NaN (a diverged loss) as `limit`. Counters
 * saturate by design rather than refuse: no figure a site measures may stop it from sending its masked
 * input (at 100 sites the cap is 21,474,836, below 10,000 training examples' loss × 1000 at a loss of
 * 3). A sum that includes a saturated counter is a lower bound on the true figure.
 */
function saturate(value: number, limit: number): number {
  if (Number.isNaN(value)) return limit;
  return Math.min(limit, Math.max(0, Math.round(value)));
}

export interface DecodedSum {
  /** Σ_u w_u · clip(Δ_u), decoded. */
  weightedSum: Float64Array;
  /** Σ_u w_u (exact). */
  totalWeight: number;
  /** Σ_u c_u,j (exact). */
  counters: number[];
  /** weightedSum / totalWeight (all NaN if totalWeight is 0). */
  mean: Float64Array;
}

/** Decodes the aggregate: reads it as int32 (exact, see above) and undoes the scale. */
export function decodeSum(sum: Uint32Array, dimension: number, spec: EncodingSpec): DecodedSum {
  checkSpec(spec);
  if (sum.length !== encodedLength(dimension, spec)) {
    throw new RangeError(`sum has ${sum.length} words, expected ${encodedLength(dimension, spec)}`);
  }
  const ints = new Int32Array(sum.buffer, sum.byteOffset, sum.length);
  const scale = quantizationScale(spec);
  const totalWeight = ints[dimension]!;
  const weightedSum = new Float64Array(dimension);
  const mean = new Float64Array(dimension);
  for (let i = 0; i < dimension; i++) {
    weightedSum[i] = ints[i]! / scale;
    mean[i] = totalWeight > 0 ? weightedSum[i]! / totalWeight : NaN;
  }
  const counters = Array.from({ length: spec.counters }, (_, j) => ints[dimension + 1 + j]!);
  return { weightedSum, totalWeight, counters, mean };
}

/**
 * The worst-case per-coordinate error of the decoded weighted mean over `sites` summed sites with total
 * weight `totalWeight`: N · C · W / ((2^(B−1) − 1) · Σw). Strict: the true error is always below it.
 */
export function quantizationErrorBound(
  spec: Pick<EncodingSpec, 'clip' | 'bits' | 'maxWeight'>,
  sites: number,
  totalWeight: number,
): number {
  return sites / (quantizationScale(spec) * totalWeight);
}

/** A seeded generator (xoshiro128**, seeded through splitmix32): reproducible stochastic rounding. */
export function seededRng(seed: number): Rng {
  let state = seed >>> 0;
  const splitmix = () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  return () => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result / 2 ** 32;
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Uniform doubles from the platform's CSPRNG (`crypto.getRandomValues`), drawn in batches. */
export function cryptoRng(): Rng {
  const batch = new Uint32Array(16384);
  let used = batch.length;
  return () => {
    if (used === batch.length) {
      crypto.getRandomValues(batch);
      used = 0;
    }
    return batch[used++]! / 2 ** 32;
  };
}
