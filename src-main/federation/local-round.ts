import type { GrayImage, VqaRecord } from '../../core/data/types.js';
import type { SiteContribution } from '../../core/fl/round-vector.js';
import { proximalMu } from '../../core/fl/strategies.js';
import {
  flattenShared,
  initAdapter,
  normalizeAnswerSet,
  unflattenShared,
  type Adapter,
} from '../../core/ml/adapter.js';
import type { BaseModel, EvalResult, Progress, TrainStats } from '../../core/ml/engine.node.js';
import { encodeExamplesInSlices, type ImageInput } from '../../core/ml/features.js';
import type { Trainer } from '../../core/ml/trainer.node.js';
import type { FederationConfig } from '../../core/protocol/federation.js';

export interface SiteExamples {
  records: VqaRecord[];
  images: Map<string, GrayImage>;
}

export interface LocalRoundInput {
  base: BaseModel;
  config: FederationConfig;
  /** The round's starting global version: its shared tensors. */
  globalShared: Float32Array;
  /** This site's adapter from its last round (carries the local, never-shared parts). */
  personal: Adapter | undefined;
  train: SiteExamples;
  validation: SiteExamples;
  seed: number;
  /** Evaluation rounds: evaluate the starting version only; the contribution carries counters alone. */
  evaluateOnly?: boolean;
  trainer: Trainer;
  /**
   * What the base reads of the images, when not their pixels: FeatVQA's encoder features, from the site
   * store's cache (filled on first use). Called once per round with every image of both splits.
   */
  imageInputs?: (images: ReadonlyMap<string, GrayImage>) => Promise<ReadonlyMap<string, ImageInput>>;
  threads?: number;
  signal?: AbortSignal;
  onProgress?: (
    phase: 'evaluate' | 'train',
    progress: { done: number; total: number; loss?: number },
  ) => void;
}

export interface LocalRoundResult {
  contribution: SiteContribution;
  /** The adapter after local training: shared parts went into the update, local parts stay here. */
  trained: Adapter;
  /** The starting global model (with this site's local parts) on this site's validation split. */
  startingEvaluation: EvalResult;
  stats: TrainStats;
  evaluateMs: number;
  trainMs: number;
}

/** The adapter a round starts from: the site's own adapter with the global shared tensors put in. */
export function startingAdapter(
  base: BaseModel,
  config: FederationConfig,
  globalShared: Float32Array,
  personal: Adapter | undefined,
): Adapter {
  const answers = normalizeAnswerSet(config.answers);
  const usable =
    personal &&
    JSON.stringify(personal.config) === JSON.stringify(config.adapter) &&
    personal.answers.join('\n') === answers.join('\n');
  const adapter = usable ? personal : initAdapter(base, config.adapter, answers, config.seed);
  return unflattenShared(adapter, globalShared);
}

/**
 * One site's work in a round, off the agent's event loop (the trainer runs in a worker thread):
 * evaluate the starting global model on the validation split (the counters that become federation-wide
 * accuracy), train locally, and turn the result into this site's contribution Δ = θ_local − θ_global.
 */
export async function runLocalRound(input: LocalRoundInput): Promise<LocalRoundResult> {
  const { base, config, trainer } = input;
  const start = startingAdapter(base, config, input.globalShared, input.personal);
  const images = new Map([...input.train.images, ...input.validation.images]);
  const inputs: ReadonlyMap<string, ImageInput> = input.imageInputs
    ? await input.imageInputs(images)
    : images;
  // In slices: this runs on the site agent's event loop, which must keep its WebSocket and UI moving.
  const trainExamples = await encodeExamplesInSlices(input.train.records, inputs, start.answers, base.config);
  const validationExamples = await encodeExamplesInSlices(
    input.validation.records,
    inputs,
    start.answers,
    base.config,
  );

  const evaluateStarted = performance.now();
  const startingEvaluation = await trainer.evaluate({
    base,
    adapter: start,
    examples: validationExamples,
    ...(input.threads ? { threads: input.threads } : {}),
    ...(input.signal ? { signal: input.signal } : {}),
    onProgress: (done, total) => input.onProgress?.('evaluate', { done, total }),
  });
  const evaluateMs = performance.now() - evaluateStarted;

  // Examples whose answer is outside the federation's answer set teach nothing and do not count.
  let weight = 0;
  for (let i = 0; i < trainExamples.n; i++) if (trainExamples.labels[i]! >= 0) weight++;

  const trainStarted = performance.now();
  let trained = start;
  let stats: TrainStats = {
    loss: 0,
    lastEpochLoss: 0,
    steps: 0,
    examples: 0,
    skipped: trainExamples.n,
    ms: 0,
  };
  if (weight > 0 && !input.evaluateOnly) {
    ({ adapter: trained, stats } = await trainer.train({
      base,
      adapter: start,
      examples: trainExamples,
      epochs: config.local.epochs,
      batchSize: config.local.batchSize,
      lr: config.local.lr,
      weightDecay: config.local.weightDecay,
      clipNorm: config.local.gradClip,
      proxMu: proximalMu(config.strategy),
      seed: input.seed,
      schedule: 'constant',
      ...(input.threads ? { threads: input.threads } : {}),
      ...(input.signal ? { signal: input.signal } : {}),
      onProgress: (p: Progress) =>
        input.onProgress?.('train', {
          // The engine counts steps over all epochs (p.step of p.steps), epochs from 0.
          done: p.step,
          total: p.steps,
          loss: p.loss,
        }),
    }));
  }
  const trainMs = performance.now() - trainStarted;

  const after = flattenShared(trained);
  const delta = new Float32Array(input.evaluateOnly ? 0 : after.length);
  for (let i = 0; i < delta.length; i++) delta[i] = after[i]! - input.globalShared[i]!;
  if (input.evaluateOnly) weight = 0;
  return {
    contribution: {
      delta,
      weight,
      counters: {
        valClosedN: startingEvaluation.closed.n,
        valClosedCorrect: startingEvaluation.closed.correct,
        valOpenN: startingEvaluation.open.n,
        valOpenCorrect: startingEvaluation.open.correct,
        valLossMilli: Math.round(startingEvaluation.lossSum * 1000),
        trainLossMilli: Math.round(stats.lastEpochLoss * weight * 1000),
      },
    },
    trained,
    startingEvaluation,
    stats,
    evaluateMs,
    trainMs,
  };
}
