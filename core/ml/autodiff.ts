/**
 * Reverse-mode automatic differentiation over a Graph. `gradients` appends, with standard ONNX ops only,
 * the nodes computing d(loss)/d(t) for each requested tensor, and nothing else: gradients flow only
 * through nodes that depend on a requested tensor, so frozen weights cost no backward work.
 */
import { ShapeError, shapeEquals, type Graph, type GraphNode, type Shape, type Tensor } from './graph.js';

type Rule = (
  g: Graph,
  node: GraphNode,
  ins: Tensor[],
  outs: Tensor[],
  grads: (Tensor | undefined)[],
  need: boolean[],
) => (Tensor | undefined)[];

/** Sums `grad` (the gradient of a broadcast result) back to `shape`. */
export function unbroadcast(g: Graph, grad: Tensor, shape: Shape): Tensor {
  if (shapeEquals(grad.shape, shape)) return grad;
  const lead = grad.shape.length - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < grad.shape.length; i++) {
    if (i < lead) axes.push(i);
    else if (shape[i - lead] === 1 && grad.shape[i] !== 1) axes.push(i);
  }
  const summed = axes.length ? g.reduceSum(grad, axes, true) : grad;
  return g.reshape(summed, shape);
}

function constScalar(g: Graph, t: Tensor, op: string): number {
  const c = g.constValue(t);
  if (!c || c.data.length !== 1 || !(c.data instanceof Float32Array)) {
    throw new Error(`autodiff: ${op} is differentiable only with a constant scalar exponent`);
  }
  return c.data[0]!;
}

function ints64(g: Graph, t: Tensor): number[] {
  const c = g.constValue(t);
  if (!c || !(c.data instanceof BigInt64Array))
    throw new Error(`autodiff: '${t.name}' must be a constant int64 tensor`);
  return Array.from(c.data, Number);
}

const attrInt = (node: GraphNode, name: string, fallback: number): number => {
  const a = node.attrs[name];
  return a && (a.kind === 'int' || a.kind === 'float') ? a.value : fallback;
};

/** d/dA and d/dB of A@B (A, B rank ≥ 2, batched and broadcast). */
function matmulGrads(g: Graph, a: Tensor, b: Tensor, dy: Tensor, need: boolean[]): (Tensor | undefined)[] {
  let da: Tensor | undefined;
  let db: Tensor | undefined;
  if (need[0]) da = unbroadcast(g, g.matmul(dy, g.transposeLast(b)), a.shape);
  if (need[1]) {
    if (b.shape.length === 2 && a.shape.length > 2) {
      // A weight shared over a batch: flatten the batch so dB is one 2-D product, not a batched one plus a sum.
      const k = a.shape[a.shape.length - 1]!;
      const n = dy.shape[dy.shape.length - 1]!;
      const rows = a.shape.slice(0, -1).reduce((p, q) => p * q, 1);
      db = g.gemm(g.reshape(a, [rows, k]), g.reshape(dy, [rows, n]), null, { transA: true });
    } else {
      db = unbroadcast(g, g.matmul(g.transposeLast(a), dy), b.shape);
    }
  }
  return [da, db];
}

const rules: Record<string, Rule> = {
  Identity: (_g, _n, _i, _o, [dy]) => [dy],
  Add: (g, _n, [a, b], _o, [dy], need) => [
    need[0] ? unbroadcast(g, dy!, a!.shape) : undefined,
    need[1] ? unbroadcast(g, dy!, b!.shape) : undefined,
  ],
  Sub: (g, _n, [a, b], _o, [dy], need) => [
    need[0] ? unbroadcast(g, dy!, a!.shape) : undefined,
    need[1] ? unbroadcast(g, g.neg(dy!), b!.shape) : undefined,
  ],
  Mul: (g, _n, [a, b], _o, [dy], need) => [
    need[0] ? unbroadcast(g, g.mul(dy!, b!), a!.shape) : undefined,
    need[1] ? unbroadcast(g, g.mul(dy!, a!), b!.shape) : undefined,
  ],
  Div: (g, _n, [a, b], [y], [dy], need) => [
    need[0] ? unbroadcast(g, g.div(dy!, b!), a!.shape) : undefined,
    need[1] ? unbroadcast(g, g.neg(g.div(g.mul(dy!, y!), b!)), b!.shape) : undefined,
  ],
  Neg: (g, _n, _i, _o, [dy]) => [g.neg(dy!)],
  Exp: (g, _n, _i, [y], [dy]) => [g.mul(dy!, y!)],
  Log: (g, _n, [x], _o, [dy]) => [g.div(dy!, x!)],
  Sqrt: (g, _n, _i, [y], [dy]) => [g.div(g.mul(dy!, g.scalar(0.5)), y!)],
  Pow: (g, n, [x, e], _o, [dy], need) => {
    if (need[1]) throw new Error('autodiff: Pow exponent must not be trainable');
    const c = constScalar(g, e!, n.op);
    const d = c === 2 ? g.mul(x!, g.scalar(2)) : g.mul(g.pow(x!, c - 1), g.scalar(c));
    return [g.mul(dy!, d), undefined];
  },
  Erf: (g, _n, [x], _o, [dy]) => {
    // d erf(x)/dx = 2/√π · exp(−x²)
    const e = g.exp(g.neg(g.mul(x!, x!)));
    return [g.mul(dy!, g.mul(e, g.scalar(2 / Math.sqrt(Math.PI))))];
  },
  Tanh: (g, _n, _i, [y], [dy]) => [g.mul(dy!, g.sub(g.scalar(1), g.mul(y!, y!)))],
  Sigmoid: (g, _n, _i, [y], [dy]) => [g.mul(dy!, g.mul(y!, g.sub(g.scalar(1), y!)))],
  Relu: (g, _n, [x], _o, [dy]) => [g.where(g.greater(x!, g.scalar(0)), dy!, g.scalar(0))],
  Gelu: (g, n, [x], _o, [dy]) => {
    if (n.attrs.approximate?.value === 'tanh') {
      // y = ½x(1 + t), t = tanh(u), u = c(x + 0.044715x³), c = √(2/π):
      // y' = ½(1 + t) + ½x(1 − t²)·c(1 + 3·0.044715x²)
      const c = Math.sqrt(2 / Math.PI);
      const x2 = g.mul(x!, x!);
      const u = g.mul(g.add(x!, g.mul(g.mul(x2, x!), g.scalar(0.044715))), g.scalar(c));
      const t = g.tanh(u);
      const du = g.mul(g.add(g.mul(x2, g.scalar(3 * 0.044715)), g.scalar(1)), g.scalar(c));
      const dt = g.mul(g.sub(g.scalar(1), g.mul(t, t)), du);
      const d = g.mul(g.add(g.add(t, g.scalar(1)), g.mul(x!, dt)), g.scalar(0.5));
      return [g.mul(dy!, d)];
    }
    // GELU(x) = x·Φ(x);  GELU'(x) = Φ(x) + x·φ(x),  Φ(x) = ½(1 + erf(x/√2)),  φ(x) = exp(−x²/2)/√(2π)
    const cdf = g.mul(g.add(g.erf(g.mul(x!, g.scalar(Math.SQRT1_2))), g.scalar(1)), g.scalar(0.5));
    const pdf = g.mul(g.exp(g.mul(g.mul(x!, x!), g.scalar(-0.5))), g.scalar(1 / Math.sqrt(2 * Math.PI)));
    return [g.mul(dy!, g.add(cdf, g.mul(x!, pdf)))];
  },
  Softmax: (g, n, _i, [y], [dy]) => {
    // dx = y·(dy − Σ dy·y)
    const axis = attrInt(n, 'axis', -1);
    const s = g.reduceSum(g.mul(dy!, y!), [axis], true);
    return [g.mul(y!, g.sub(dy!, s))];
  },
  LogSoftmax: (g, n, _i, [y], [dy]) => {
    // dx = dy − softmax·Σ dy
    const axis = attrInt(n, 'axis', -1);
    return [g.sub(dy!, g.mul(g.exp(y!), g.reduceSum(dy!, [axis], true)))];
  },
  LayerNormalization: (g, _n, [x, scale], [, mean, invStd], [dy], need) => {
    const rank = x!.shape.length;
    const d = x!.shape[rank - 1]!;
    const xhat = g.mul(g.sub(x!, mean!), invStd!);
    const lead = [...Array(rank - 1).keys()];
    const dScale = need[1] ? g.reduceSum(g.mul(dy!, xhat), lead) : undefined;
    const dBias = need[2] ? g.reduceSum(dy!, lead) : undefined;
    let dx: Tensor | undefined;
    if (need[0]) {
      // dx = invstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), ĝ = dy·scale
      const gh = g.mul(dy!, scale!);
      const m1 = g.reduceMean(gh, [-1], true);
      const m2 = g.reduceMean(g.mul(gh, xhat), [-1], true);
      dx = g.mul(g.sub(g.sub(gh, m1), g.mul(xhat, m2)), invStd!);
    }
    void d;
    return [dx, dScale, dBias];
  },
  ReduceSum: (g, n, [x, axesT], _o, [dy]) => {
    const axes = ints64(g, axesT!);
    const keep = attrInt(n, 'keepdims', 1) === 1;
    const kept = x!.shape.map((dim, i) => (axes.includes(i) ? 1 : dim));
    const r = keep ? dy! : g.reshape(dy!, kept);
    return [g.expand(r, x!.shape), undefined];
  },
  ReduceMean: (g, n, [x, axesT], _o, [dy]) => {
    const axes = ints64(g, axesT!);
    const keep = attrInt(n, 'keepdims', 1) === 1;
    const count = axes.reduce((p, a) => p * x!.shape[a]!, 1);
    const kept = x!.shape.map((dim, i) => (axes.includes(i) ? 1 : dim));
    const r = keep ? dy! : g.reshape(dy!, kept);
    return [g.expand(g.mul(r, g.scalar(1 / count)), x!.shape), undefined];
  },
  Reshape: (g, _n, [x], _o, [dy]) => [g.reshape(dy!, x!.shape), undefined],
  Unsqueeze: (g, _n, [x], _o, [dy]) => [g.reshape(dy!, x!.shape), undefined],
  Transpose: (g, n, _i, _o, [dy]) => {
    const perm = n.attrs.perm!.value as number[];
    const inv = perm.map((_, i) => perm.indexOf(i));
    return [g.transpose(dy!, inv)];
  },
  Concat: (g, n, ins, _o, [dy], need) => {
    const axis = attrInt(n, 'axis', 0);
    let offset = 0;
    return ins.map((t, i) => {
      const start = offset;
      offset += t.shape[axis]!;
      return need[i] ? g.slice(dy!, [start], [offset], [axis]) : undefined;
    });
  },
  Slice: (g, _n, [x, startsT, endsT, axesT], [y], [dy]) => {
    const starts = ints64(g, startsT!);
    const axes = ints64(g, axesT!);
    const rank = x!.shape.length;
    const pads = new Array<number>(2 * rank).fill(0);
    axes.forEach((a, i) => {
      pads[a] = starts[i]!;
      pads[a + rank] = x!.shape[a]! - starts[i]! - y!.shape[a]!;
    });
    void endsT;
    return [g.pad(dy!, pads)];
  },
  Gather: (g, n, [data, idx], _o, [dy], need) => {
    if (need[1]) throw new Error('autodiff: Gather indices are not differentiable');
    if (attrInt(n, 'axis', 0) !== 0) throw new Error('autodiff: Gather is differentiable on axis 0 only');
    // Gather backward = ScatterND(zeros, indices, dy) with reduction "add" (repeated indices accumulate).
    const i64 = idx!.dtype === 'int64' ? idx! : g.cast(idx!, 'int64');
    const zeros = g.filled(0, data!.shape);
    return [g.scatterNDAdd(zeros, g.unsqueeze(i64, [-1]), dy!), undefined];
  },
  Expand: (g, _n, [x], _o, [dy]) => [unbroadcast(g, dy!, x!.shape), undefined],
  Where: (g, _n, [cond, a, b], _o, [dy], need) => {
    if (need[0]) throw new Error('autodiff: Where condition is not differentiable');
    const zero = g.scalar(0);
    return [
      undefined,
      need[1] ? unbroadcast(g, g.where(cond!, dy!, zero), a!.shape) : undefined,
      need[2] ? unbroadcast(g, g.where(cond!, zero, dy!), b!.shape) : undefined,
    ];
  },
  MatMul: (g, _n, [a, b], _o, [dy], need) => matmulGrads(g, a!, b!, dy!, need),
  Gemm: (g, n, [a, b, c], _o, [dy], need) => {
    const transA = attrInt(n, 'transA', 0) === 1;
    const transB = attrInt(n, 'transB', 0) === 1;
    const alpha = attrInt(n, 'alpha', 1);
    const beta = attrInt(n, 'beta', 1);
    // Y = α·op(A)·op(B) + β·C
    let da: Tensor | undefined;
    let db: Tensor | undefined;
    if (need[0]) {
      da = transA
        ? g.gemm(b!, dy!, null, { transA: transB, transB: true, alpha }) // dA = α·op(B)·dYᵀ
        : g.gemm(dy!, b!, null, { transB: !transB, alpha }); // dA = α·dY·op(B)ᵀ
    }
    if (need[1]) {
      db = transB
        ? g.gemm(dy!, a!, null, { transA: true, transB: transA, alpha }) // dB = α·dYᵀ·op(A)
        : g.gemm(a!, dy!, null, { transA: !transA, alpha }); // dB = α·op(A)ᵀ·dY
    }
    const dc =
      c && need[2] ? unbroadcast(g, beta === 1 ? dy! : g.mul(dy!, g.scalar(beta)), c.shape) : undefined;
    return [da, db, dc];
  },
};

export const DIFFERENTIABLE_OPS = Object.keys(rules);

/**
 * Appends the gradient of the scalar `loss` with respect to each tensor in `wrt` and returns them in
 * the same order. A tensor the loss does not depend on gets an explicit zero gradient.
 */
export function gradients(g: Graph, loss: Tensor, wrt: Tensor[]): Tensor[] {
  if (loss.shape.length !== 0 && !(loss.shape.length === 1 && loss.shape[0] === 1)) {
    throw new ShapeError(`gradients: loss must be a scalar, is [${loss.shape.join(',')}]`);
  }
  const forwardNodes = g.nodes.slice();
  const wrtNames = new Set(wrt.map((t) => t.name));
  // Forward: which tensors depend on a requested tensor.
  const depends = new Set(wrtNames);
  for (const node of forwardNodes) {
    if (node.inputs.some((i) => depends.has(i))) for (const o of node.outputs) depends.add(o);
  }
  // Backward reachability from the loss.
  const reaches = new Set([loss.name]);
  for (let i = forwardNodes.length - 1; i >= 0; i--) {
    const node = forwardNodes[i]!;
    if (node.outputs.some((o) => reaches.has(o))) for (const inp of node.inputs) if (inp) reaches.add(inp);
  }
  const grads = new Map<string, Tensor>();
  const accumulate = (name: string, grad: Tensor) => {
    const prev = grads.get(name);
    grads.set(name, prev ? g.add(prev, grad) : grad);
  };
  grads.set(loss.name, g.filled(1, loss.shape));
  const tensor = (name: string) => g.tensors.get(name)!;
  for (let i = forwardNodes.length - 1; i >= 0; i--) {
    const node = forwardNodes[i]!;
    const outGrads = node.outputs.map((o) => grads.get(o));
    if (outGrads.every((x) => x === undefined)) continue;
    const need = node.inputs.map((name) => name !== '' && depends.has(name) && reaches.has(name));
    if (!need.some(Boolean)) continue;
    const rule = rules[node.op];
    if (!rule) throw new Error(`autodiff: no gradient rule for ${node.op}`);
    if (outGrads[0] === undefined) {
      throw new Error(`autodiff: ${node.op} is differentiated only through its first output`);
    }
    const ins = node.inputs.map((name) => (name ? tensor(name) : undefined)) as Tensor[];
    const outs = node.outputs.map(tensor);
    const inGrads = rule(g, node, ins, outs, outGrads, need);
    node.inputs.forEach((name, k) => {
      const gr = inGrads[k];
      if (need[k] && gr) {
        if (!shapeEquals(gr.shape, tensor(name).shape)) {
          throw new ShapeError(`autodiff: ${node.op} gave a gradient of the wrong shape for '${name}'`);
        }
        accumulate(name, gr);
      }
    });
  }
  return wrt.map((t) => grads.get(t.name) ?? g.filled(0, t.shape));
}
