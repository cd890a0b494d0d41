import {
  chooseBits,
  clipL2,
  decodeSum,
  encodeUpdate,
  maxCounter,
  type EncodingSpec,
  type Rng,
} from '../secagg/encoding.js';

/**
 * What one site contributes to a round, and how it is laid out in the vector secure aggregation sums:
 * `[clip_C(Δ)·w | w | counters…]` (DESIGN §2). The counters are exact integers, so the coordinator learns
 * federation-wide evaluation figures of the round's starting version and nothing per site.
 */
export const ROUND_COUNTERS = [
  'valClosedN',
  'valClosedCorrect',
  'valOpenN',
  'valOpenCorrect',
  /** Σ validation cross-entropy × 1000, rounded. */
  'valLossMilli',
  /** Σ over training examples of their last-epoch loss × 1000, rounded. */
  'trainLossMilli',
] as const;
export type RoundCounters = Record<(typeof ROUND_COUNTERS)[number], number>;

export interface SiteContribution {
  /** θ_local − θ_global over the shared tensors. */
  delta: Float32Array;
  /** The site's weight w: its number of training examples (capped at the spec's maximum). */
  weight: number;
  counters: RoundCounters;
}

/** The largest weight a site may claim; keeps the quantization step fine for any realistic site. */
export const MAX_SITE_WEIGHT = 100_000;

/** The encoding every participant of a round derives from public round facts alone. */
export function roundEncodingSpec(clipNorm: number, participants: number): EncodingSpec {
  const nMax = Math.max(2, participants);
  return {
    clip: clipNorm,
    bits: chooseBits(nMax),
    maxWeight: Math.min(MAX_SITE_WEIGHT, maxCounter(nMax)),
    nMax,
    counters: ROUND_COUNTERS.length,
  };
}

const counterList = (counters: RoundCounters) => ROUND_COUNTERS.map((name) => counters[name]);

export function encodeContribution(
  contribution: SiteContribution,
  spec: EncodingSpec,
  rng?: Rng,
): Uint32Array {
  return encodeUpdate(
    {
      update: contribution.delta,
      weight: Math.min(contribution.weight, spec.maxWeight),
      counters: counterList(contribution.counters),
    },
    spec,
    rng,
  );
}

export interface RoundAggregate {
  /** Σ w·clip(Δ) / Σ w. */
  meanDelta: Float32Array;
  totalWeight: number;
  counters: RoundCounters;
}

const toCounters = (values: readonly number[]): RoundCounters =>
  Object.fromEntries(ROUND_COUNTERS.map((name, i) => [name, values[i] ?? 0])) as RoundCounters;

/** Decodes the secure sum over the included sites. */
export function decodeAggregate(sum: Uint32Array, dimension: number, spec: EncodingSpec): RoundAggregate {
  const decoded = decodeSum(sum, dimension, spec);
  return {
    meanDelta: Float32Array.from(decoded.mean, (x) => (Number.isFinite(x) ? x : 0)),
    totalWeight: decoded.totalWeight,
    counters: toCounters(decoded.counters),
  };
}

/**
 * Insecure mode (for measuring overhead only): the same clipping and weighting, summed in float64
 * without quantization, so secure and plain rounds differ by the quantization error alone.
 */
export function aggregatePlain(contributions: readonly SiteContribution[], clipNorm: number): RoundAggregate {
  const dimension = contributions[0]?.delta.length ?? 0;
  const sum = new Float64Array(dimension);
  let totalWeight = 0;
  const counters = new Array<number>(ROUND_COUNTERS.length).fill(0);
  for (const contribution of contributions) {
    if (contribution.delta.length !== dimension) throw new Error('contributions of different lengths');
    const { clipped } = clipL2(contribution.delta, clipNorm);
    for (let i = 0; i < dimension; i++) sum[i]! += clipped[i]! * contribution.weight;
    totalWeight += contribution.weight;
    counterList(contribution.counters).forEach((value, j) => (counters[j]! += value));
  }
  return {
    meanDelta: Float32Array.from(sum, (x) => (totalWeight > 0 ? x / totalWeight : 0)),
    totalWeight,
    counters: toCounters(counters),
  };
}

/** The federation-wide figures the counters give. */
export function roundMetrics(aggregate: RoundAggregate) {
  const { valClosedN, valClosedCorrect, valOpenN, valOpenCorrect, valLossMilli, trainLossMilli } =
    aggregate.counters;
  const valN = valClosedN + valOpenN;
  const ratio = (a: number, b: number) => (b > 0 ? a / b : null);
  return {
    valExamples: valN,
    trainExamples: aggregate.totalWeight,
    closedAcc: ratio(valClosedCorrect, valClosedN),
    openAcc: ratio(valOpenCorrect, valOpenN),
    overallAcc: ratio(valClosedCorrect + valOpenCorrect, valN),
    valLoss: ratio(valLossMilli / 1000, valN),
    trainLoss: ratio(trainLossMilli / 1000, aggregate.totalWeight),
  };
}
export type RoundMetrics = ReturnType<typeof roundMetrics>;
