/**
 * A small typed graph builder for standard ONNX ops. Every op checks the shapes of its inputs and
 * computes the static shape of its outputs at build time, so a wrong wiring fails where it is written,
 * not deep inside onnxruntime. Graphs have static shapes (a graph is built per batch size).
 */

export type DType = 'float32' | 'int32' | 'int64' | 'bool';
export type Shape = readonly number[];

export interface Tensor {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
}

export type ConstData = Float32Array | Int32Array | BigInt64Array | Uint8Array;

export interface ConstTensor {
  dtype: DType;
  shape: Shape;
  data: ConstData;
}

export type Attr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'tensor'; value: ConstTensor };

export interface GraphNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attr>;
  name: string;
}

export const int = (value: number): Attr => ({ kind: 'int', value });
export const float = (value: number): Attr => ({ kind: 'float', value });
export const ints = (value: readonly number[]): Attr => ({ kind: 'ints', value });

export class ShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShapeError';
  }
}

export function numel(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function shapeEquals(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

const fmt = (s: Shape) => `[${s.join(',')}]`;

/** Numpy-style broadcast of two shapes. */
export function broadcastShapes(a: Shape, b: Shape, where = 'broadcast'): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`${where}: shapes ${fmt(a)} and ${fmt(b)} do not broadcast`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

function normAxis(axis: number, rank: number, where: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new ShapeError(`${where}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

export class Graph {
  readonly nodes: GraphNode[] = [];
  readonly inputs: Tensor[] = [];
  readonly outputs: Tensor[] = [];
  readonly initializers = new Map<string, ConstTensor>();
  readonly tensors = new Map<string, Tensor>();
  private counter = 0;
  private readonly constCache = new Map<string, Tensor>();

  constructor(readonly name = 'cohort') {}

  private fresh(prefix: string): string {
    let name: string;
    do name = `${prefix}_${this.counter++}`;
    while (this.tensors.has(name));
    return name;
  }

  private register(name: string, dtype: DType, shape: Shape): Tensor {
    if (this.tensors.has(name)) throw new Error(`tensor name '${name}' is already used`);
    if (shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new ShapeError(`tensor '${name}' has an invalid shape ${fmt(shape)}`);
    }
    const t: Tensor = { name, dtype, shape: [...shape] };
    this.tensors.set(name, t);
    return t;
  }

  /** A graph input (batch data or a trainable tensor fed every step). */
  input(name: string, dtype: DType, shape: Shape): Tensor {
    const t = this.register(name, dtype, shape);
    this.inputs.push(t);
    return t;
  }

  /** A frozen weight stored in the model as an initializer. */
  initializer(name: string, data: ConstData, shape: Shape, dtype: DType = dtypeOf(data)): Tensor {
    if (data.length !== numel(shape)) {
      throw new ShapeError(`initializer '${name}': ${data.length} values for shape ${fmt(shape)}`);
    }
    const t = this.register(name, dtype, shape);
    this.initializers.set(name, { dtype, shape: [...shape], data });
    return t;
  }

  /** A small constant, deduplicated by value. */
  constant(data: ConstData, shape: Shape, dtype: DType = dtypeOf(data)): Tensor {
    const key =
      data.length <= 16
        ? `${dtype}|${shape.join(',')}|${Array.from(data as ArrayLike<number>).join(',')}`
        : '';
    if (key) {
      const hit = this.constCache.get(key);
      if (hit) return hit;
    }
    const t = this.initializer(this.fresh('const'), data, shape, dtype);
    if (key) this.constCache.set(key, t);
    return t;
  }

  scalar(value: number): Tensor {
    return this.constant(new Float32Array([value]), []);
  }

  int64s(values: readonly number[]): Tensor {
    return this.constant(BigInt64Array.from(values.map((v) => BigInt(v))), [values.length], 'int64');
  }

  /** The numeric values of a constant tensor, when `t` is one. */
  constValue(t: Tensor): ConstTensor | undefined {
    return this.initializers.get(t.name);
  }

  output(t: Tensor, name?: string): Tensor {
    let out = t;
    if (name && name !== t.name) out = this.identity(t, name);
    this.outputs.push(out);
    return out;
  }

  /** Appends a node; output shapes are given by the caller (the op helpers below compute them). */
  node(
    op: string,
    inputs: (Tensor | null)[],
    outputs: { dtype: DType; shape: Shape; name?: string }[],
    attrs: Record<string, Attr> = {},
  ): Tensor[] {
    const outs = outputs.map((o) => this.register(o.name ?? this.fresh(op.toLowerCase()), o.dtype, o.shape));
    this.nodes.push({
      op,
      inputs: inputs.map((t) => (t ? t.name : '')),
      outputs: outs.map((t) => t.name),
      attrs,
      name: `${op}_${this.nodes.length}`,
    });
    return outs;
  }

  private one(op: string, inputs: (Tensor | null)[], dtype: DType, shape: Shape, attrs = {}, name?: string) {
    return this.node(op, inputs, [{ dtype, shape, ...(name ? { name } : {}) }], attrs)[0]!;
  }

  private requireFloat(op: string, ...ts: Tensor[]) {
    for (const t of ts) {
      if (t.dtype !== 'float32') throw new ShapeError(`${op}: '${t.name}' must be float32, is ${t.dtype}`);
    }
  }

  // ---- elementwise -------------------------------------------------------------------------------

  private binary(op: string, a: Tensor, b: Tensor, name?: string): Tensor {
    if (a.dtype !== b.dtype) throw new ShapeError(`${op}: dtypes ${a.dtype} and ${b.dtype} differ`);
    return this.one(op, [a, b], a.dtype, broadcastShapes(a.shape, b.shape, op), {}, name);
  }
  add(a: Tensor, b: Tensor, name?: string) {
    return this.binary('Add', a, b, name);
  }
  sub(a: Tensor, b: Tensor, name?: string) {
    return this.binary('Sub', a, b, name);
  }
  mul(a: Tensor, b: Tensor, name?: string) {
    return this.binary('Mul', a, b, name);
  }
  div(a: Tensor, b: Tensor, name?: string) {
    return this.binary('Div', a, b, name);
  }
  /** x ** exponent for a constant exponent (the only form autodiff differentiates). */
  pow(x: Tensor, exponent: number): Tensor {
    this.requireFloat('Pow', x);
    return this.one('Pow', [x, this.scalar(exponent)], x.dtype, x.shape);
  }

  private unary(op: string, x: Tensor, attrs: Record<string, Attr> = {}, name?: string): Tensor {
    this.requireFloat(op, x);
    return this.one(op, [x], x.dtype, x.shape, attrs, name);
  }
  neg(x: Tensor) {
    return this.unary('Neg', x);
  }
  exp(x: Tensor) {
    return this.unary('Exp', x);
  }
  log(x: Tensor) {
    return this.unary('Log', x);
  }
  sqrt(x: Tensor) {
    return this.unary('Sqrt', x);
  }
  erf(x: Tensor) {
    return this.unary('Erf', x);
  }
  tanh(x: Tensor) {
    return this.unary('Tanh', x);
  }
  sigmoid(x: Tensor) {
    return this.unary('Sigmoid', x);
  }
  relu(x: Tensor) {
    return this.unary('Relu', x);
  }
  /** Exact (erf) GELU, ONNX opset 20. */
  gelu(x: Tensor) {
    return this.unary('Gelu', x);
  }
  identity(x: Tensor, name?: string): Tensor {
    return this.one('Identity', [x], x.dtype, x.shape, {}, name);
  }
  cast(x: Tensor, to: DType): Tensor {
    return this.one('Cast', [x], to, x.shape, { to: int(ONNX_DTYPE[to]) });
  }

  private compare(op: string, a: Tensor, b: Tensor): Tensor {
    if (a.dtype !== b.dtype) throw new ShapeError(`${op}: dtypes ${a.dtype} and ${b.dtype} differ`);
    return this.one(op, [a, b], 'bool', broadcastShapes(a.shape, b.shape, op));
  }
  greater(a: Tensor, b: Tensor) {
    return this.compare('Greater', a, b);
  }

  where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
    if (cond.dtype !== 'bool') throw new ShapeError('Where: condition must be bool');
    if (a.dtype !== b.dtype) throw new ShapeError('Where: branch dtypes differ');
    const shape = broadcastShapes(broadcastShapes(cond.shape, a.shape, 'Where'), b.shape, 'Where');
    return this.one('Where', [cond, a, b], a.dtype, shape);
  }

  // ---- normalisation and activations over an axis ---------------------------------------------------

  softmax(x: Tensor, axis = -1): Tensor {
    normAxis(axis, x.shape.length, 'Softmax');
    return this.unary('Softmax', x, { axis: int(axis) });
  }
  logSoftmax(x: Tensor, axis = -1): Tensor {
    normAxis(axis, x.shape.length, 'LogSoftmax');
    return this.unary('LogSoftmax', x, { axis: int(axis) });
  }

  /** LayerNormalization over the last axis (opset 17), with its Mean and InvStdDev outputs kept for backward. */
  layerNorm(x: Tensor, scale: Tensor, bias: Tensor, epsilon = 1e-5): Tensor {
    this.requireFloat('LayerNormalization', x, scale, bias);
    const d = x.shape[x.shape.length - 1]!;
    if (!shapeEquals(scale.shape, [d]) || !shapeEquals(bias.shape, [d])) {
      throw new ShapeError(
        `LayerNormalization: scale ${fmt(scale.shape)} / bias ${fmt(bias.shape)} must be [${d}]`,
      );
    }
    const stat = [...x.shape.slice(0, -1), 1];
    return this.node(
      'LayerNormalization',
      [x, scale, bias],
      [
        { dtype: 'float32', shape: x.shape },
        { dtype: 'float32', shape: stat },
        { dtype: 'float32', shape: stat },
      ],
      { axis: int(-1), epsilon: float(epsilon) },
    )[0]!;
  }

  // ---- reductions ------------------------------------------------------------------------------------

  private reduce(op: 'ReduceSum' | 'ReduceMean', x: Tensor, axes: readonly number[], keepdims: boolean) {
    this.requireFloat(op, x);
    const rank = x.shape.length;
    const norm = axes.map((a) => normAxis(a, rank, op));
    const shape: number[] = [];
    x.shape.forEach((d, i) => {
      if (!norm.includes(i)) shape.push(d);
      else if (keepdims) shape.push(1);
    });
    return this.one(op, [x, this.int64s(norm)], x.dtype, shape, { keepdims: int(keepdims ? 1 : 0) });
  }
  reduceSum(x: Tensor, axes: readonly number[], keepdims = false) {
    return this.reduce('ReduceSum', x, axes, keepdims);
  }
  reduceMean(x: Tensor, axes: readonly number[], keepdims = false) {
    return this.reduce('ReduceMean', x, axes, keepdims);
  }

  // ---- shape ops ---------------------------------------------------------------------------------------

  reshape(x: Tensor, shape: readonly number[]): Tensor {
    if (shape.some((d) => d <= 0))
      throw new ShapeError(`Reshape: use explicit dimensions (got ${fmt(shape)})`);
    if (numel(shape) !== numel(x.shape)) {
      throw new ShapeError(`Reshape: cannot reshape ${fmt(x.shape)} to ${fmt(shape)}`);
    }
    if (shapeEquals(shape, x.shape)) return x;
    return this.one('Reshape', [x, this.int64s(shape)], x.dtype, shape);
  }

  transpose(x: Tensor, perm: readonly number[]): Tensor {
    const rank = x.shape.length;
    if (perm.length !== rank || [...perm].sort().some((p, i) => p !== i)) {
      throw new ShapeError(`Transpose: perm [${perm.join(',')}] is not a permutation of rank ${rank}`);
    }
    return this.one(
      'Transpose',
      [x],
      x.dtype,
      perm.map((p) => x.shape[p]!),
      { perm: ints(perm) },
    );
  }

  concat(xs: Tensor[], axis: number): Tensor {
    if (xs.length === 0) throw new ShapeError('Concat: no inputs');
    const first = xs[0]!;
    const a = normAxis(axis, first.shape.length, 'Concat');
    let total = 0;
    for (const t of xs) {
      if (t.dtype !== first.dtype || t.shape.length !== first.shape.length) {
        throw new ShapeError('Concat: inputs differ in dtype or rank');
      }
      t.shape.forEach((d, i) => {
        if (i !== a && d !== first.shape[i]) {
          throw new ShapeError(`Concat: ${fmt(t.shape)} and ${fmt(first.shape)} differ off axis ${axis}`);
        }
      });
      total += t.shape[a]!;
    }
    if (xs.length === 1) return first;
    const shape = [...first.shape];
    shape[a] = total;
    return this.one('Concat', xs, first.dtype, shape, { axis: int(a) });
  }

  /** Slice with step 1 along the given axes; `ends` are clamped to the dimension. */
  slice(x: Tensor, starts: readonly number[], ends: readonly number[], axes: readonly number[]): Tensor {
    const rank = x.shape.length;
    const shape = [...x.shape];
    const s: number[] = [];
    const e: number[] = [];
    const ax: number[] = [];
    axes.forEach((axis, i) => {
      const a = normAxis(axis, rank, 'Slice');
      const dim = x.shape[a]!;
      const start = Math.min(dim, Math.max(0, starts[i]! < 0 ? starts[i]! + dim : starts[i]!));
      const end = Math.min(dim, Math.max(0, ends[i]! < 0 ? ends[i]! + dim : ends[i]!));
      if (end <= start) throw new ShapeError(`Slice: empty range on axis ${axis} of ${fmt(x.shape)}`);
      shape[a] = end - start;
      s.push(start);
      e.push(end);
      ax.push(a);
    });
    return this.one('Slice', [x, this.int64s(s), this.int64s(e), this.int64s(ax)], x.dtype, shape);
  }

  /** Pads with a constant (zeros by default); `pads` = [begin_0..begin_n, end_0..end_n] as in ONNX. */
  pad(x: Tensor, pads: readonly number[]): Tensor {
    const rank = x.shape.length;
    if (pads.length !== 2 * rank || pads.some((p) => p < 0)) throw new ShapeError('Pad: bad pads');
    const shape = x.shape.map((d, i) => d + pads[i]! + pads[i + rank]!);
    return this.one('Pad', [x, this.int64s(pads)], x.dtype, shape, {
      mode: { kind: 'string', value: 'constant' },
    });
  }

  gather(data: Tensor, indices: Tensor, axis = 0): Tensor {
    if (indices.dtype !== 'int32' && indices.dtype !== 'int64')
      throw new ShapeError('Gather: indices must be int');
    const a = normAxis(axis, data.shape.length, 'Gather');
    const shape = [...data.shape.slice(0, a), ...indices.shape, ...data.shape.slice(a + 1)];
    return this.one('Gather', [data, indices], data.dtype, shape, { axis: int(a) });
  }

  /** ScatterND with reduction "add" (opset 18): the backward of Gather. */
  scatterNDAdd(data: Tensor, indices: Tensor, updates: Tensor): Tensor {
    if (indices.dtype !== 'int64') throw new ShapeError('ScatterND: indices must be int64');
    const k = indices.shape[indices.shape.length - 1]!;
    const expected = [...indices.shape.slice(0, -1), ...data.shape.slice(k)];
    if (!shapeEquals(expected, updates.shape)) {
      throw new ShapeError(`ScatterND: updates ${fmt(updates.shape)} should be ${fmt(expected)}`);
    }
    return this.one('ScatterND', [data, indices, updates], data.dtype, data.shape, {
      reduction: { kind: 'string', value: 'add' },
    });
  }

  unsqueeze(x: Tensor, axes: readonly number[]): Tensor {
    const rank = x.shape.length + axes.length;
    const norm = axes.map((a) => normAxis(a, rank, 'Unsqueeze')).sort((p, q) => p - q);
    const shape: number[] = [];
    let j = 0;
    for (let i = 0; i < rank; i++) shape.push(norm.includes(i) ? 1 : x.shape[j++]!);
    return this.one('Unsqueeze', [x, this.int64s(norm)], x.dtype, shape);
  }

  expand(x: Tensor, shape: readonly number[]): Tensor {
    const out = broadcastShapes(x.shape, shape, 'Expand');
    if (shapeEquals(out, x.shape)) return x;
    return this.one('Expand', [x, this.int64s(shape)], x.dtype, out);
  }

  // ---- convolution and pooling (NCHW, 2-D spatial) -------------------------------------------------------

  /**
   * Conv (NCHW): `w` is [out, in/group, kh, kw]; `pads` = [top, left, bottom, right] as in ONNX, so
   * TF's asymmetric 'same' padding is expressed exactly. `group` = in channels gives a depthwise conv.
   */
  conv(
    x: Tensor,
    w: Tensor,
    b: Tensor | null,
    opts: { strides?: readonly number[]; pads?: readonly number[]; group?: number; name?: string } = {},
  ): Tensor {
    this.requireFloat('Conv', x, w);
    if (x.shape.length !== 4 || w.shape.length !== 4)
      throw new ShapeError('Conv: x and w must be 4-D (NCHW)');
    const [n, c, h, wd] = x.shape as [number, number, number, number];
    const [out, cPerGroup, kh, kw] = w.shape as [number, number, number, number];
    const group = opts.group ?? 1;
    const [sh, sw] = opts.strides ?? [1, 1];
    const [pt, pl, pb, pr] = opts.pads ?? [0, 0, 0, 0];
    if (c % group !== 0 || out % group !== 0 || c / group !== cPerGroup) {
      throw new ShapeError(
        `Conv: ${c} input channels, group ${group} and weight ${fmt(w.shape)} do not match`,
      );
    }
    if (b && !shapeEquals(b.shape, [out]))
      throw new ShapeError(`Conv: bias ${fmt(b.shape)} must be [${out}]`);
    const oh = Math.floor((h + pt! + pb! - kh) / sh!) + 1;
    const ow = Math.floor((wd + pl! + pr! - kw) / sw!) + 1;
    if (oh <= 0 || ow <= 0)
      throw new ShapeError(`Conv: kernel ${kh}×${kw} larger than padded input ${fmt(x.shape)}`);
    return this.one(
      'Conv',
      b ? [x, w, b] : [x, w],
      'float32',
      [n, out, oh, ow],
      {
        kernel_shape: ints([kh, kw]),
        strides: ints([sh!, sw!]),
        pads: ints([pt!, pl!, pb!, pr!]),
        dilations: ints([1, 1]),
        group: int(group),
      },
      opts.name,
    );
  }

  /** AveragePool (NCHW) without padding. */
  averagePool(x: Tensor, kernel: readonly number[], strides: readonly number[] = kernel): Tensor {
    this.requireFloat('AveragePool', x);
    if (x.shape.length !== 4) throw new ShapeError('AveragePool: x must be 4-D (NCHW)');
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const oh = Math.floor((h - kernel[0]!) / strides[0]!) + 1;
    const ow = Math.floor((w - kernel[1]!) / strides[1]!) + 1;
    if (oh <= 0 || ow <= 0) throw new ShapeError(`AveragePool: kernel larger than input ${fmt(x.shape)}`);
    return this.one('AveragePool', [x], 'float32', [n, c, oh, ow], {
      kernel_shape: ints(kernel),
      strides: ints(strides),
    });
  }

  /** Clip to [min, max] (ReLU6 is clip(x, 0, 6)). */
  clip(x: Tensor, min: number, max: number, name?: string): Tensor {
    this.requireFloat('Clip', x);
    return this.one('Clip', [x, this.scalar(min), this.scalar(max)], 'float32', x.shape, {}, name);
  }

  // ---- linear algebra -----------------------------------------------------------------------------

  /** MatMul with numpy batching and broadcasting of the leading dimensions (rank ≥ 2 each). */
  matmul(a: Tensor, b: Tensor, name?: string): Tensor {
    this.requireFloat('MatMul', a, b);
    if (a.shape.length < 2 || b.shape.length < 2) throw new ShapeError('MatMul: inputs must have rank ≥ 2');
    const [m, k] = a.shape.slice(-2) as [number, number];
    const [k2, n] = b.shape.slice(-2) as [number, number];
    if (k !== k2) throw new ShapeError(`MatMul: ${fmt(a.shape)} @ ${fmt(b.shape)}: inner dimensions differ`);
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), 'MatMul');
    return this.one('MatMul', [a, b], 'float32', [...batch, m, n], {}, name);
  }

  /** Gemm: alpha·op(A)·op(B) + beta·C on 2-D A and B. */
  gemm(
    a: Tensor,
    b: Tensor,
    c: Tensor | null,
    opts: { transA?: boolean; transB?: boolean; alpha?: number; beta?: number } = {},
  ): Tensor {
    this.requireFloat('Gemm', a, b);
    if (a.shape.length !== 2 || b.shape.length !== 2) throw new ShapeError('Gemm: A and B must be 2-D');
    const [m, k] = opts.transA ? [a.shape[1]!, a.shape[0]!] : [a.shape[0]!, a.shape[1]!];
    const [k2, n] = opts.transB ? [b.shape[1]!, b.shape[0]!] : [b.shape[0]!, b.shape[1]!];
    if (k !== k2) throw new ShapeError(`Gemm: inner dimensions ${k} and ${k2} differ`);
    if (c) broadcastShapes([m, n], c.shape, 'Gemm C');
    if (c && !shapeEquals(broadcastShapes([m, n], c.shape), [m, n]))
      throw new ShapeError('Gemm: C too large');
    return this.one('Gemm', c ? [a, b, c] : [a, b], 'float32', [m, n], {
      transA: int(opts.transA ? 1 : 0),
      transB: int(opts.transB ? 1 : 0),
      alpha: float(opts.alpha ?? 1),
      beta: float(opts.beta ?? 1),
    });
  }

  /** Swaps the last two axes. */
  transposeLast(x: Tensor): Tensor {
    const r = x.shape.length;
    const perm = [...Array(r).keys()];
    [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
    return this.transpose(x, perm);
  }

  /** A constant-filled tensor (via Expand of a scalar constant, so the model stays small). */
  filled(value: number, shape: Shape): Tensor {
    const s = this.scalar(value);
    if (shape.length === 0) return s;
    return this.one('Expand', [s, this.int64s(shape)], 'float32', shape);
  }
}

export const ONNX_DTYPE: Record<DType, number> = { float32: 1, int32: 6, int64: 7, bool: 9 };

export function dtypeOf(data: ConstData): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  return 'bool';
}
