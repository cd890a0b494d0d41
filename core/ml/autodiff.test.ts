import { describe, expect, it } from 'vitest';
import { DIFFERENTIABLE_OPS, gradients } from './autodiff.js';
import { checkGradient } from './gradcheck.node.js';
import { Graph, ShapeError, type Tensor } from './graph.js';
import { CompiledGraph } from './runtime.node.js';
import type { Rng } from './rng.js';

const TOL = 1e-2;
/** Values bounded away from zero (for Log, Sqrt, Pow, Relu's kink). */
const positive = (rng: Rng) => 0.5 + rng.next() * 1.5;
const awayFromZero = (rng: Rng) => (rng.chance(0.5) ? 1 : -1) * (0.2 + rng.next());

type Case = [string, Parameters<typeof checkGradient>[0], Parameters<typeof checkGradient>[1]];

const cases: Case[] = [
  ['MatMul 2-D', (g, [a, b]) => g.matmul(a!, b!), [{ shape: [3, 4] }, { shape: [4, 5] }]],
  ['MatMul batched', (g, [a, b]) => g.matmul(a!, b!), [{ shape: [2, 3, 4] }, { shape: [2, 4, 5] }]],
  [
    'MatMul batch × shared weight',
    (g, [a, b]) => g.matmul(a!, b!),
    [{ shape: [2, 3, 4] }, { shape: [4, 2] }],
  ],
  [
    'MatMul broadcast batch',
    (g, [a, b]) => g.matmul(a!, b!),
    [{ shape: [2, 1, 3, 4] }, { shape: [3, 4, 2] }],
  ],
  [
    'Gemm',
    (g, [a, b, c]) => g.gemm(a!, b!, c!, { alpha: 0.7, beta: 1.3 }),
    [{ shape: [3, 4] }, { shape: [4, 5] }, { shape: [5] }],
  ],
  [
    'Gemm transA',
    (g, [a, b, c]) => g.gemm(a!, b!, c!, { transA: true }),
    [{ shape: [4, 3] }, { shape: [4, 5] }, { shape: [3, 5] }],
  ],
  [
    'Gemm transB',
    (g, [a, b]) => g.gemm(a!, b!, null, { transB: true, alpha: 2 }),
    [{ shape: [3, 4] }, { shape: [5, 4] }],
  ],
  [
    'Gemm transA transB',
    (g, [a, b, c]) => g.gemm(a!, b!, c!, { transA: true, transB: true }),
    [{ shape: [4, 3] }, { shape: [5, 4] }, { shape: [1, 5] }],
  ],
  ['Add broadcast', (g, [a, b]) => g.add(a!, b!), [{ shape: [2, 3, 4] }, { shape: [3, 1] }]],
  ['Sub broadcast', (g, [a, b]) => g.sub(a!, b!), [{ shape: [3, 1] }, { shape: [2, 3, 4] }]],
  ['Mul broadcast', (g, [a, b]) => g.mul(a!, b!), [{ shape: [2, 3, 4] }, { shape: [4] }]],
  ['Div broadcast', (g, [a, b]) => g.div(a!, b!), [{ shape: [2, 3] }, { shape: [2, 1], init: positive }]],
  ['Neg', (g, [x]) => g.neg(x!), [{ shape: [3, 4] }]],
  ['Exp', (g, [x]) => g.exp(x!), [{ shape: [3, 4] }]],
  ['Log', (g, [x]) => g.log(x!), [{ shape: [3, 4], init: positive }]],
  ['Sqrt', (g, [x]) => g.sqrt(x!), [{ shape: [3, 4], init: positive }]],
  ['Pow 3', (g, [x]) => g.pow(x!, 3), [{ shape: [3, 4] }]],
  ['Pow 2', (g, [x]) => g.pow(x!, 2), [{ shape: [3, 4] }]],
  ['Pow -0.5', (g, [x]) => g.pow(x!, -0.5), [{ shape: [3, 4], init: positive }]],
  ['Erf', (g, [x]) => g.erf(x!), [{ shape: [3, 4] }]],
  ['Tanh', (g, [x]) => g.tanh(x!), [{ shape: [3, 4] }]],
  ['Sigmoid', (g, [x]) => g.sigmoid(x!), [{ shape: [3, 4] }]],
  ['Relu', (g, [x]) => g.relu(x!), [{ shape: [3, 4], init: awayFromZero }]],
  ['Gelu', (g, [x]) => g.gelu(x!), [{ shape: [3, 4] }]],
  ['Gelu tanh approximation', (g, [x]) => g.gelu(x!, 'tanh'), [{ shape: [3, 4] }]],
  ['Softmax last axis', (g, [x]) => g.softmax(x!, -1), [{ shape: [2, 3, 5] }]],
  ['Softmax axis 1', (g, [x]) => g.softmax(x!, 1), [{ shape: [2, 3, 5] }]],
  ['LogSoftmax', (g, [x]) => g.logSoftmax(x!, -1), [{ shape: [3, 6] }]],
  [
    'LayerNormalization',
    (g, [x, s, b]) => g.layerNorm(x!, s!, b!),
    [{ shape: [2, 3, 6] }, { shape: [6] }, { shape: [6] }],
  ],
  ['ReduceSum keepdims', (g, [x]) => g.reduceSum(x!, [1], true), [{ shape: [2, 3, 4] }]],
  ['ReduceSum', (g, [x]) => g.reduceSum(x!, [0, 2]), [{ shape: [2, 3, 4] }]],
  ['ReduceMean keepdims', (g, [x]) => g.reduceMean(x!, [-1], true), [{ shape: [2, 3, 4] }]],
  ['ReduceMean', (g, [x]) => g.reduceMean(x!, [1]), [{ shape: [2, 3, 4] }]],
  ['Reshape', (g, [x]) => g.mul(g.reshape(x!, [4, 6]), g.reshape(x!, [4, 6])), [{ shape: [2, 3, 4] }]],
  ['Transpose', (g, [x]) => g.matmul(g.transpose(x!, [0, 2, 1]), x!), [{ shape: [2, 3, 4] }]],
  ['Unsqueeze', (g, [x]) => g.exp(g.unsqueeze(x!, [1])), [{ shape: [2, 3] }]],
  ['Concat', (g, [a, b]) => g.tanh(g.concat([a!, b!, a!], 1)), [{ shape: [2, 3] }, { shape: [2, 2] }]],
  ['Slice', (g, [x]) => g.exp(g.slice(x!, [1, 1], [3, 4], [0, 2])), [{ shape: [4, 3, 5] }]],
  ['Expand', (g, [x]) => g.exp(g.expand(x!, [2, 3, 4])), [{ shape: [3, 1] }]],
  ['Identity', (g, [x]) => g.exp(g.identity(x!)), [{ shape: [3] }]],
  [
    'Where',
    (g, [a, b]) => {
      const cond = g.constant(Uint8Array.from([1, 0, 0, 1, 1, 0]), [2, 3], 'bool');
      return g.where(cond, g.exp(a!), b!);
    },
    [{ shape: [2, 3] }, { shape: [3] }],
  ],
  [
    'Gather (embedding, repeated indices)',
    (g, [table]) => g.gather(table!, g.constant(Int32Array.from([2, 0, 2, 4, 2, 1]), [2, 3])),
    [{ shape: [5, 4] }],
  ],
  [
    'cross-entropy (LogSoftmax + weighted one-hot targets)',
    (g, [logits]) => {
      const targets = g.constant(Float32Array.from([0, 0.5, 0, 0, 0, 0, 0, 0.5]), [2, 4]);
      return g.neg(g.reduceSum(g.mul(targets, g.logSoftmax(logits!, -1)), [0, 1]));
    },
    [{ shape: [2, 4] }],
  ],
];

describe('autodiff: finite-difference check of every gradient rule', () => {
  it.each(cases)('%s', async (_name, build, inputs) => {
    const r = await checkGradient(build, inputs, { seed: 7 });
    expect(Number.isFinite(r.analytic)).toBe(true);
    expect(r.relError, `analytic ${r.analytic} vs numeric ${r.numeric}`).toBeLessThan(TOL);
  });

  it('covers every op that has a rule', () => {
    // ops exercised by name above, or exercised inside the rules of others (Pad, ScatterND are backward-only)
    const names = cases.map(([n]) => n.toLowerCase()).join(' ');
    for (const op of DIFFERENTIABLE_OPS) {
      expect(names.includes(op.toLowerCase()), `no finite-difference case for ${op}`).toBe(true);
    }
  });

  it('detects a wrong gradient (the check can fail)', async () => {
    // Scale the function by 2 in a way autodiff cannot see: compare against the gradient of x·x only.
    const r = await checkGradient((g, [x]) => g.mul(x!, x!), [{ shape: [4] }]);
    expect(r.relError).toBeLessThan(TOL);
    const g = new Graph();
    const x = g.input('x', 'float32', [4]);
    const loss = g.reduceSum(g.mul(x, x), [0]);
    const [dx] = gradients(g, loss, [x]);
    g.output(dx!, 'dx');
    const compiled = await CompiledGraph.create(g);
    const { dx: value } = await compiled.run({ x: Float32Array.from([1, 2, 3, -1]) });
    expect(Array.from(value!)).toEqual([2, 4, 6, -2]);
  });

  it('produces gradients only for trainable tensors and none through frozen paths', () => {
    const g = new Graph();
    const frozen = g.initializer('w', new Float32Array(12).fill(0.1), [4, 3]);
    const x = g.input('x', 'float32', [2, 4]);
    const a = g.input('a', 'float32', [3]);
    const before = g.nodes.length;
    const loss = g.reduceSum(g.add(g.matmul(x, frozen), a), [0, 1]);
    const forwardNodes = g.nodes.length - before;
    gradients(g, loss, [a]);
    // d/da of a broadcast Add needs only the seed and one ReduceSum (+Reshape); no MatMul backward.
    expect(g.nodes.slice(before + forwardNodes).some((n) => n.op === 'MatMul' || n.op === 'Gemm')).toBe(
      false,
    );
  });

  it('rejects mis-shaped graphs at build time', () => {
    const g = new Graph();
    const a: Tensor = g.input('a', 'float32', [2, 3]);
    const b: Tensor = g.input('b', 'float32', [4, 5]);
    expect(() => g.matmul(a, b)).toThrow(ShapeError);
    expect(() => g.add(a, b)).toThrow(ShapeError);
    expect(() => g.reshape(a, [5])).toThrow(ShapeError);
  });
});
