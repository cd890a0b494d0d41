import { z } from 'zod';

/**
 * Server-side federated optimisation. Every strategy receives the weighted mean of the sites' updates
 * Δ̄ = Σ w_u Δ_u / Σ w_u (which is all secure aggregation reveals) and moves the global shared tensors.
 *
 * - FedAvg (McMahan et al. 2017): x ← x + Δ̄.
 * - FedProx (Li et al. 2020): the same server step; the proximal term μ/2‖θ − x‖² acts in each site's
 *   local training, pulling heterogeneous sites toward the global model.
 * - FedAdam (Reddi et al. 2021, "Adaptive Federated Optimization"): Δ̄ is a pseudo-gradient for Adam
 *   on the server: m ← β1 m + (1 − β1) Δ̄, v ← β2 v + (1 − β2) Δ̄², x ← x + η m / (√v + τ).
 */
export const strategySchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('fedavg') }),
  z.object({ kind: z.literal('fedprox'), mu: z.number().min(0).max(10) }),
  z.object({
    kind: z.literal('fedadam'),
    lr: z.number().positive().max(10),
    beta1: z.number().min(0).max(0.9999),
    beta2: z.number().min(0).max(0.99999),
    tau: z.number().positive(),
  }),
]);
export type Strategy = z.infer<typeof strategySchema>;

/** The server optimiser's state between rounds (FedAdam's moments); empty for the others. */
export interface StrategyState {
  m?: Float32Array;
  v?: Float32Array;
}

/** The proximal coefficient sites use in local training (0 unless FedProx). */
export function proximalMu(strategy: Strategy): number {
  return strategy.kind === 'fedprox' ? strategy.mu : 0;
}

/** One server step. Returns new arrays; the inputs are not modified. */
export function applyServerStep(
  strategy: Strategy,
  global: Float32Array,
  meanDelta: Float32Array,
  state: StrategyState = {},
): { next: Float32Array; state: StrategyState } {
  if (global.length !== meanDelta.length)
    throw new Error(`update has ${meanDelta.length} values, model has ${global.length}`);
  const next = new Float32Array(global.length);
  if (strategy.kind !== 'fedadam') {
    for (let i = 0; i < global.length; i++) next[i] = global[i]! + meanDelta[i]!;
    return { next, state: {} };
  }
  const { lr, beta1, beta2, tau } = strategy;
  const m = state.m ? Float32Array.from(state.m) : new Float32Array(global.length);
  const v = state.v ? Float32Array.from(state.v) : new Float32Array(global.length);
  if (m.length !== global.length || v.length !== global.length)
    throw new Error('optimiser state does not match the model size');
  for (let i = 0; i < global.length; i++) {
    const g = meanDelta[i]!;
    m[i] = beta1 * m[i]! + (1 - beta1) * g;
    v[i] = beta2 * v[i]! + (1 - beta2) * g * g;
    next[i] = global[i]! + (lr * m[i]!) / (Math.sqrt(v[i]!) + tau);
  }
  return { next, state: { m, v } };
}
