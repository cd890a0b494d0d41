/**
 * The compiled graphs of the training engine, built from a plan: a training step (loss + gradients of
 * the trainable tensors only) and a forward-only evaluation graph. Trainable tensors are graph inputs,
 * fed every step; frozen base weights are initializers baked into the graph.
 */
import { adapterTensorSpecs, type AdapterConfig } from './adapter.js';
import { gradients } from './autodiff.js';
import { Graph, type Shape, type Tensor } from './graph.js';
import { buildModelForward, crossEntropy, type ModelConfig, type Weights } from './model.js';

export interface GraphPlan {
  cfg: ModelConfig;
  batch: number;
  mode: 'train' | 'eval';
  /** The adapter structure (null = the bare base model with its own head). */
  adapter: AdapterConfig | null;
  numAnswers: number;
  /** Pretraining: every base weight is trainable too, except those named in `frozen`. */
  trainBase: boolean;
  frozen?: readonly string[];
}

export interface BuiltGraph {
  graph: Graph;
  /** Names and shapes of the tensors fed as inputs each run (adapter tensors, plus base weights when trainBase). */
  params: { name: string; shape: number[] }[];
}

export function planKey(plan: GraphPlan): string {
  return JSON.stringify([
    plan.mode,
    plan.batch,
    plan.adapter,
    plan.numAnswers,
    plan.trainBase,
    plan.frozen ?? [],
  ]);
}

export function buildPlannedGraph(plan: GraphPlan, baseWeights: Weights): BuiltGraph {
  const { cfg, batch } = plan;
  const g = new Graph(`${cfg.arch}-${plan.mode}`);
  const targets = plan.mode === 'train' ? g.input('targets', 'float32', [batch, plan.numAnswers]) : null;
  const adapterSpecs = plan.adapter ? adapterTensorSpecs(cfg, plan.adapter, plan.numAnswers) : [];
  const adapterNames = new Map(adapterSpecs.map((s) => [s.name, s.shape]));
  const frozen = new Set(plan.frozen ?? []);
  const params: { name: string; shape: number[] }[] = [];
  const resolved = new Map<string, Tensor>();
  const weight = (name: string, shape: Shape): Tensor => {
    const hit = resolved.get(name);
    if (hit) return hit;
    let t: Tensor;
    if (adapterNames.has(name) || (plan.trainBase && !frozen.has(name))) {
      t = g.input(name, 'float32', shape);
      params.push({ name, shape: [...shape] });
    } else {
      const data = baseWeights.get(name);
      if (!data) throw new Error(`base model has no weight '${name}'`);
      t = g.initializer(name, data, shape);
    }
    resolved.set(name, t);
    return t;
  };
  const logits = buildModelForward(g, {
    cfg,
    batch,
    weight,
    ...(plan.adapter?.lora.enabled
      ? {
          lora: {
            rank: plan.adapter.lora.rank,
            alpha: plan.adapter.lora.alpha,
            targets: plan.adapter.lora.targets,
          },
        }
      : {}),
    promptTokens: plan.adapter?.prompt.enabled ? plan.adapter.prompt.tokens : 0,
    numAnswers: plan.numAnswers,
  });
  if (plan.mode === 'eval') {
    g.output(logits, 'logits');
    return { graph: g, params };
  }
  const loss = crossEntropy(g, logits, targets!);
  g.output(loss, 'loss');
  const paramTensors = params.map((p) => resolved.get(p.name)!);
  const grads = gradients(g, loss, paramTensors);
  grads.forEach((gr, i) => g.output(gr, `grad:${params[i]!.name}`));
  return { graph: g, params };
}
