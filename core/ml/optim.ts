/**
 * The optimiser runs in TypeScript on the small trainable arrays (the graph only returns gradients):
 * AdamW with decoupled weight decay, global-norm gradient clipping, and FedProx's proximal term.
 */

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Tensors that get weight decay (default: every tensor of rank ≥ 2, i.e. not biases). */
  decays?: (name: string) => boolean;
}

export class AdamW {
  private readonly m = new Map<string, Float32Array>();
  private readonly v = new Map<string, Float32Array>();
  private t = 0;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;

  constructor(
    private readonly params: Map<string, Float32Array>,
    private readonly options: AdamWOptions,
  ) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    for (const [name, p] of params) {
      this.m.set(name, new Float32Array(p.length));
      this.v.set(name, new Float32Array(p.length));
    }
  }

  get steps(): number {
    return this.t;
  }

  /** One update with the given gradients (every parameter must have one) at learning rate `lr`. */
  step(grads: Map<string, Float32Array>, lr = this.options.lr): void {
    this.t++;
    const b1 = this.beta1;
    const b2 = this.beta2;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    const wd = this.options.weightDecay ?? 0;
    for (const [name, p] of this.params) {
      const g = grads.get(name);
      if (!g || g.length !== p.length) throw new Error(`AdamW: missing or mis-sized gradient for ${name}`);
      const m = this.m.get(name)!;
      const v = this.v.get(name)!;
      const decay = wd > 0 && (this.options.decays ? this.options.decays(name) : true) ? 1 - lr * wd : 1;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i]!;
        const mi = (m[i] = b1 * m[i]! + (1 - b1) * gi);
        const vi = (v[i] = b2 * v[i]! + (1 - b2) * gi * gi);
        p[i] = p[i]! * decay - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + this.eps);
      }
    }
  }
}

/** Global L2 norm of a set of gradients (accumulated in float64). */
export function globalNorm(grads: Iterable<Float32Array>): number {
  let sum = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sum += g[i]! * g[i]!;
  return Math.sqrt(sum);
}

/** Scales the gradients in place so their global norm is at most maxNorm; returns the norm before. */
export function clipGradNorm(grads: Map<string, Float32Array>, maxNorm: number): number {
  const norm = globalNorm(grads.values());
  if (maxNorm > 0 && norm > maxNorm) {
    const s = maxNorm / (norm + 1e-12);
    for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i]! *= s;
  }
  return norm;
}

/** FedProx: adds μ·(θ − θ_global) to the gradient of each tensor that has a global reference. */
export function addProximal(
  grads: Map<string, Float32Array>,
  params: Map<string, Float32Array>,
  reference: Map<string, Float32Array>,
  mu: number,
): void {
  if (!(mu > 0)) return;
  for (const [name, ref] of reference) {
    const g = grads.get(name);
    const p = params.get(name);
    if (!g || !p) continue;
    for (let i = 0; i < g.length; i++) g[i]! += mu * (p[i]! - ref[i]!);
  }
}

/** Proximal penalty value (μ/2)·‖θ − θ_global‖², for reporting. */
export function proximalPenalty(
  params: Map<string, Float32Array>,
  reference: Map<string, Float32Array>,
  mu: number,
): number {
  let sum = 0;
  for (const [name, ref] of reference) {
    const p = params.get(name);
    if (!p) continue;
    for (let i = 0; i < p.length; i++) sum += (p[i]! - ref[i]!) ** 2;
  }
  return (mu / 2) * sum;
}
