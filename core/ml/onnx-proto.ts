/**
 * Serialises a Graph to an ONNX ModelProto with a small hand-written protobuf encoder.
 *
 * Why not protobufjs / onnx-proto: we only ever *write* seven message types (ModelProto, GraphProto,
 * NodeProto, AttributeProto, TensorProto, ValueInfoProto and the opset id), which takes ~150 lines of
 * varint/length-delimited encoding; a library would add a dependency plus a generated schema to keep in
 * sync for no gain, and the encoder stays platform-free (no Buffer, no node: imports). Field numbers
 * follow onnx/onnx.proto (IR version 9).
 */
import { ONNX_DTYPE, type Attr, type ConstTensor, type Graph, type Tensor } from './graph.js';

export const OPSET = 20;
const IR_VERSION = 9;

class Writer {
  private buf = new Uint8Array(1024);
  private len = 0;

  private ensure(n: number) {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  varint(value: number | bigint) {
    let v = BigInt.asUintN(64, BigInt(value));
    this.ensure(10);
    while (v >= 0x80n) {
      this.buf[this.len++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.len++] = Number(v);
  }

  /** Fast path for small non-negative integers (tags, lengths). */
  uvarint(value: number) {
    if (value < 0 || value > 0xffffffff) return this.varint(value);
    this.ensure(5);
    let v = value >>> 0;
    while (v >= 0x80) {
      this.buf[this.len++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.len++] = v;
  }

  tag(field: number, wire: number) {
    this.uvarint((field << 3) | wire);
  }

  bytes(field: number, data: Uint8Array) {
    this.tag(field, 2);
    this.uvarint(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
  }

  string(field: number, s: string) {
    this.bytes(field, new TextEncoder().encode(s));
  }

  int(field: number, value: number | bigint) {
    this.tag(field, 0);
    this.varint(value);
  }

  float(field: number, value: number) {
    this.tag(field, 5);
    this.ensure(4);
    new DataView(this.buf.buffer, this.len, 4).setFloat32(0, value, true);
    this.len += 4;
  }

  message(field: number, build: (w: Writer) => void) {
    const inner = new Writer();
    build(inner);
    this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function littleEndianBytes(t: ConstTensor): Uint8Array {
  const data = t.data;
  // Typed arrays are little-endian on every platform onnxruntime-node ships for.
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function writeTensor(w: Writer, name: string, t: ConstTensor) {
  for (const d of t.shape) w.int(1, d);
  w.int(2, ONNX_DTYPE[t.dtype]);
  w.string(8, name);
  w.bytes(9, littleEndianBytes(t));
}

function writeAttr(w: Writer, name: string, a: Attr) {
  w.string(1, name);
  switch (a.kind) {
    case 'float':
      w.float(2, a.value);
      w.int(20, 1);
      break;
    case 'int':
      w.int(3, a.value);
      w.int(20, 2);
      break;
    case 'string':
      w.bytes(4, new TextEncoder().encode(a.value));
      w.int(20, 3);
      break;
    case 'tensor':
      w.message(5, (m) => writeTensor(m, '', a.value));
      w.int(20, 4);
      break;
    case 'floats':
      for (const f of a.value) w.float(7, f);
      w.int(20, 6);
      break;
    case 'ints':
      for (const i of a.value) w.int(8, i);
      w.int(20, 7);
      break;
  }
}

/** `batchDim` names the first axis symbolically (dim_param), so ORT accepts any batch size there. */
function writeValueInfo(w: Writer, t: Tensor, batchDim?: string) {
  w.string(1, t.name);
  w.message(2, (type) =>
    type.message(1, (tt) => {
      tt.int(1, ONNX_DTYPE[t.dtype]);
      tt.message(2, (shape) => {
        t.shape.forEach((d, i) =>
          shape.message(1, (dim) => (i === 0 && batchDim ? dim.string(2, batchDim) : dim.int(1, d))),
        );
      });
    }),
  );
}

/**
 * Encodes the graph as a complete ONNX model (bytes for InferenceSession.create or a .onnx file).
 * `options.batchDim` declares the inputs' and outputs' first axis symbolic: only for graphs whose ops
 * never bake the built batch size into a constant (the image encoder: convolutions, pads, transposes).
 */
export function encodeModel(
  graph: Graph,
  producer = 'cohort',
  metadata: Record<string, string> = {},
  options: { batchDim?: string } = {},
): Uint8Array {
  const w = new Writer();
  w.int(1, IR_VERSION);
  w.string(2, producer);
  w.string(3, '0.1.0');
  w.message(7, (g) => {
    for (const node of graph.nodes) {
      g.message(1, (n) => {
        for (const i of node.inputs) n.string(1, i);
        for (const o of node.outputs) n.string(2, o);
        n.string(3, node.name);
        n.string(4, node.op);
        for (const [name, attr] of Object.entries(node.attrs)) n.message(5, (a) => writeAttr(a, name, attr));
      });
    }
    g.string(2, graph.name);
    for (const [name, init] of graph.initializers) g.message(5, (t) => writeTensor(t, name, init));
    for (const t of graph.inputs) g.message(11, (v) => writeValueInfo(v, t, options.batchDim));
    for (const t of graph.outputs) g.message(12, (v) => writeValueInfo(v, t, options.batchDim));
  });
  w.message(8, (o) => {
    o.string(1, '');
    o.int(2, OPSET);
  });
  for (const [key, value] of Object.entries(metadata)) {
    w.message(14, (e) => {
      e.string(1, key);
      e.string(2, value);
    });
  }
  return w.finish();
}
