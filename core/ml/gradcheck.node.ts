/**
 * Finite-difference gradient checks for compiled graphs, used by the tests: compares the analytic
 * directional derivative ∇L·v (from the autodiff graph, run by ORT) with the central difference
 * (L(x+εv) − L(x−εv)) / 2ε along a random direction v, accumulating in float64.
 */
import { gradients } from './autodiff.js';
import { Graph, numel, type Shape, type Tensor } from './graph.js';
import { Rng } from './rng.js';
import { CompiledGraph, type FeedData } from './runtime.node.js';

export interface GradCheckResult {
  analytic: number;
  numeric: number;
  /** |analytic − numeric| / max(1e-3, |analytic|, |numeric|) */
  relError: number;
}

export interface GradCheckInput {
  shape: Shape;
  /** Values of the point to check at; random normal by default. */
  init?: (rng: Rng) => number;
}

/**
 * Builds `loss = Σ build(xs) ⊙ R` (R a fixed random tensor, so every output element gets a different
 * upstream gradient) and checks d loss / d xs along one random direction.
 */
export async function checkGradient(
  build: (g: Graph, xs: Tensor[]) => Tensor,
  inputs: GradCheckInput[],
  options: { seed?: number; epsilon?: number; extraFeeds?: Record<string, FeedData> } = {},
): Promise<GradCheckResult> {
  const rng = new Rng(options.seed ?? 1);
  const g = new Graph('gradcheck');
  const xs = inputs.map((inp, i) => g.input(`x${i}`, 'float32', inp.shape));
  const y = build(g, xs);
  const r = new Float32Array(numel(y.shape)).map(() => rng.normal());
  const loss = g.reduceSum(g.mul(y, g.constant(r, y.shape)), [...y.shape.keys()]);
  g.output(loss, 'loss');
  const grads = gradients(g, loss, xs);
  grads.forEach((gr, i) => g.output(gr, `grad${i}`));
  const compiled = await CompiledGraph.create(g, { threads: 1 });
  const point = inputs.map((inp) =>
    new Float32Array(numel(inp.shape)).map(() => (inp.init ?? ((q) => q.normal()))(rng)),
  );
  const dir = inputs.map((inp) => new Float32Array(numel(inp.shape)).map(() => rng.normal()));
  const eps = options.epsilon ?? 1e-2;
  const feeds = (sign: number) => {
    const f: Record<string, FeedData> = { ...options.extraFeeds };
    point.forEach((p, i) => (f[`x${i}`] = p.map((v, j) => v + sign * eps * dir[i]![j]!)));
    return f;
  };
  const base = await compiled.run(feeds(0));
  let analytic = 0;
  dir.forEach((d, i) => {
    const gr = base[`grad${i}`]!;
    for (let j = 0; j < d.length; j++) analytic += gr[j]! * d[j]!;
  });
  const plus = (await compiled.run(feeds(1))).loss![0]!;
  const minus = (await compiled.run(feeds(-1))).loss![0]!;
  const numeric = (plus - minus) / (2 * eps);
  await compiled.release();
  const relError = Math.abs(analytic - numeric) / Math.max(1e-3, Math.abs(analytic), Math.abs(numeric));
  return { analytic, numeric, relError };
}
