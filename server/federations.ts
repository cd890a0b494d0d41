import { DEFAULT_ADAPTER_CONFIG, flattenShared, initAdapter } from '../core/ml/adapter.js';
import type { BaseModel } from '../core/ml/engine.node.js';
import { federationConfigSchema, type FederationConfig } from '../core/protocol/federation.js';

/**
 * The L2 bound on each site's update. Without differential-privacy noise, clipping only bounds the
 * encoding range: it must sit above the norms local training really produces, or it throttles learning
 * (measured: see the round details `updateNorm` a site records).
 */
export const DEFAULT_CLIP_NORM = 20;

/**
 * A federation config with Cohort's defaults: LoRA + soft prompt + head, all shared; FedAvg; two local
 * epochs; secure aggregation on with the default threshold; generous deadlines for desktop hardware.
 */
export function defaultFederationConfig(
  base: BaseModel,
  name: string,
  answers: string[],
  overrides: Partial<FederationConfig> = {},
): FederationConfig {
  return federationConfigSchema.parse({
    name,
    baseModelHash: base.hash,
    answers,
    adapter: DEFAULT_ADAPTER_CONFIG,
    strategy: { kind: 'fedavg' },
    local: { epochs: 2, batchSize: 32, lr: 3e-3, weightDecay: 0.01, gradClip: 1 },
    rounds: 5,
    minSites: 2,
    secure: { enabled: true, clipNorm: DEFAULT_CLIP_NORM },
    deadlines: { trainingMs: 30 * 60_000, stageMs: 60_000 },
    seed: 7,
    ...overrides,
  });
}

/** Version 0's shared tensors: the adapter every site starts from, initialised from the federation seed. */
export function initialSharedVector(base: BaseModel, config: FederationConfig): Float32Array {
  if (config.baseModelHash !== base.hash) {
    throw new Error(
      `the federation names base model ${config.baseModelHash.slice(0, 12)}…, this coordinator has ${base.hash.slice(0, 12)}…`,
    );
  }
  return flattenShared(initAdapter(base, config.adapter, config.answers, config.seed));
}
