/**
 * Runs compiled graphs with onnxruntime-node. A CompiledGraph owns one InferenceSession, created once and
 * reused for every step; inputs are fed as tensors without copying, and outputs come back as plain typed
 * arrays (ORT copies them out, which is why training graphs output only adapter gradients).
 */
import * as ort from 'onnxruntime-node';
import type { DType, Graph, Tensor } from './graph.js';
import { encodeModel } from './onnx-proto.js';

export type FeedData = Float32Array | Int32Array | BigInt64Array | Uint8Array;

export interface RuntimeOptions {
  /** Intra-op threads; 1 makes every run bit-for-bit deterministic. */
  threads?: number;
}

const ORT_TYPE: Record<DType, 'float32' | 'int32' | 'int64' | 'bool'> = {
  float32: 'float32',
  int32: 'int32',
  int64: 'int64',
  bool: 'bool',
};

/** An ORT session with the project's options (also for ONNX files not built here, e.g. image encoders). */
export function createSession(
  bytes: Uint8Array,
  options: RuntimeOptions = {},
): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    intraOpNumThreads: Math.max(1, options.threads ?? 1),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableCpuMemArena: true,
    enableMemPattern: true,
  });
}

export class CompiledGraph {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly inputs: readonly Tensor[],
    readonly outputs: readonly Tensor[],
    readonly modelBytes: number,
  ) {}

  static async create(graph: Graph, options: RuntimeOptions = {}): Promise<CompiledGraph> {
    return CompiledGraph.fromBytes(encodeModel(graph), graph.inputs, graph.outputs, options);
  }

  static async fromBytes(
    bytes: Uint8Array,
    inputs: readonly Tensor[],
    outputs: readonly Tensor[],
    options: RuntimeOptions = {},
  ): Promise<CompiledGraph> {
    return new CompiledGraph(await createSession(bytes, options), inputs, outputs, bytes.length);
  }

  /** Runs the graph. Every graph input must be fed, with exactly its element count. */
  async run(feeds: Record<string, FeedData>): Promise<Record<string, Float32Array>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const t of this.inputs) {
      const data = feeds[t.name];
      if (!data) throw new Error(`missing feed '${t.name}'`);
      const n = t.shape.reduce((a, b) => a * b, 1);
      if (data.length !== n) throw new Error(`feed '${t.name}' has ${data.length} values, expected ${n}`);
      ortFeeds[t.name] = new ort.Tensor(ORT_TYPE[t.dtype], data, t.shape as number[]);
    }
    const result = await this.session.run(ortFeeds);
    const out: Record<string, Float32Array> = {};
    for (const t of this.outputs) {
      const value = result[t.name];
      if (!value) throw new Error(`graph did not produce '${t.name}'`);
      out[t.name] = value.data as Float32Array;
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
