/**
 * Converts a TF.js layers model (Keras topology JSON + weight manifest + weight bytes) into an ONNX
 * graph built with our graph builder. It covers the layer types MobileNetV2 uses (InputLayer,
 * ZeroPadding2D, Conv2D, DepthwiseConv2D, BatchNormalization, ReLU, Add, AveragePooling2D, Flatten,
 * Dense, Dropout) and refuses anything else by name, so a model outside that set fails loudly.
 *
 * Layout: Keras is channels-last; ONNX Conv is NCHW. The graph takes NCHW input, computes in NCHW, and
 * transposes each requested output back to channels-last ([B, H, W, C]), so outputs compare 1:1 with
 * TF.js and read as H·W feature tokens of width C.
 */
import { z } from 'zod';
import { Graph, ShapeError, type Tensor } from '../graph.js';

const inboundSchema = z.tuple([z.string(), z.number(), z.number()]).rest(z.unknown());

const layerSchema = z.object({
  name: z.string().min(1),
  class_name: z.string().min(1),
  config: z.record(z.string(), z.unknown()),
  inbound_nodes: z.array(z.array(inboundSchema)),
});
export type KerasLayer = z.infer<typeof layerSchema>;

export const layersTopologySchema = z.object({
  model_config: z.object({
    class_name: z.string(),
    config: z.object({ layers: z.array(layerSchema).min(1) }),
  }),
});

const quantizationSchema = z.object({
  dtype: z.enum(['uint8', 'uint16']),
  min: z.number(),
  scale: z.number(),
});

export const weightSpecSchema = z.object({
  name: z.string().min(1),
  shape: z.array(z.number().int().nonnegative()),
  dtype: z.literal('float32'),
  quantization: quantizationSchema.optional(),
});
export type WeightSpec = z.infer<typeof weightSpecSchema>;

export interface LayersModelArtifacts {
  topology: z.infer<typeof layersTopologySchema>;
  weightSpecs: WeightSpec[];
  /** All weight shards concatenated, in manifest order. */
  weightData: Uint8Array;
}

export interface NamedWeight {
  shape: number[];
  data: Float32Array;
}

const BYTES = { uint8: 1, uint16: 2 } as const;

/**
 * Reads the weights in manifest order. Quantized weights are expanded exactly as TF.js's
 * `decodeWeights` does (`v * scale + min` in double precision, stored as float32), so both runtimes
 * start from the same float32 values.
 */
export function decodeWeights(specs: readonly WeightSpec[], data: Uint8Array): Map<string, NamedWeight> {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out = new Map<string, NamedWeight>();
  let offset = 0;
  for (const spec of specs) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const q = spec.quantization;
    const size = n * (q ? BYTES[q.dtype] : 4);
    if (offset + size > data.byteLength) {
      throw new Error(`weight ${spec.name} runs past the end of the weight data (${data.byteLength} bytes)`);
    }
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      if (!q) values[i] = view.getFloat32(offset + 4 * i, true);
      else {
        const v = q.dtype === 'uint8' ? view.getUint8(offset + i) : view.getUint16(offset + 2 * i, true);
        values[i] = v * q.scale + q.min;
      }
    }
    out.set(spec.name, { shape: [...spec.shape], data: values });
    offset += size;
  }
  if (offset !== data.byteLength) {
    throw new Error(`weight data has ${data.byteLength} bytes, the manifest describes ${offset}`);
  }
  return out;
}

export interface ConvertOptions {
  /** Layer names whose outputs the graph exposes (channels-last), in this order. */
  outputs: readonly string[];
  /** Batch size the graph is built for (the encoder writes it as a symbolic axis). */
  batch?: number;
  /** Name of the NCHW float input. */
  inputName?: string;
}

export interface ConvertedModel {
  graph: Graph;
  /** NCHW input shape, batch first. */
  inputShape: number[];
  /** Per output: its name and channels-last shape without the batch axis. */
  outputs: { name: string; shape: number[] }[];
}

type Config = Record<string, unknown>;

const num = (config: Config, key: string, layer: string): number => {
  const v = config[key];
  if (typeof v !== 'number') throw new Error(`layer ${layer}: '${key}' must be a number`);
  return v;
};
const pair = (config: Config, key: string, layer: string): [number, number] => {
  const v = config[key];
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number'))
    return [v[0] as number, v[1] as number];
  throw new Error(`layer ${layer}: '${key}' must be a number or a pair`);
};

/** TF's 'same' padding for one spatial axis: the extra pixel, if any, goes after (bottom/right). */
function samePads(size: number, kernel: number, stride: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + kernel - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** Converts the part of the model that the requested outputs depend on. */
export function convertLayersModel(artifacts: LayersModelArtifacts, options: ConvertOptions): ConvertedModel {
  const layers = artifacts.topology.model_config.config.layers;
  const byName = new Map(layers.map((l) => [l.name, l]));
  const inputsOf = (l: KerasLayer): string[] => {
    if (l.inbound_nodes.length > 1)
      throw new Error(`layer ${l.name} is shared; shared layers are not supported`);
    return (l.inbound_nodes[0] ?? []).map(([name, node, index]) => {
      if (node !== 0 || index !== 0)
        throw new Error(`layer ${l.name}: multi-output inbound nodes are not supported`);
      return name;
    });
  };

  // Only layers some requested output depends on are converted; their consumers decide BN folding.
  const needed = new Set<string>();
  const visit = (name: string) => {
    if (needed.has(name)) return;
    const layer = byName.get(name);
    if (!layer) throw new Error(`the model has no layer '${name}'`);
    needed.add(name);
    for (const i of inputsOf(layer)) visit(i);
  };
  for (const o of options.outputs) visit(o);
  const consumers = new Map<string, string[]>();
  for (const l of layers) {
    if (!needed.has(l.name)) continue;
    for (const i of inputsOf(l)) consumers.set(i, [...(consumers.get(i) ?? []), l.name]);
  }

  const weights = decodeWeights(artifacts.weightSpecs, artifacts.weightData);
  const weight = (layer: string, key: string): NamedWeight => {
    const w = weights.get(`${layer}/${key}`);
    if (!w) throw new Error(`layer ${layer}: weight '${key}' is missing from the manifest`);
    return w;
  };

  const g = new Graph('cohort-image-encoder');
  const batch = options.batch ?? 1;
  const values = new Map<string, Tensor>();
  let inputShape: number[] | undefined;
  const single = (l: KerasLayer): Tensor => {
    const ins = inputsOf(l);
    if (ins.length !== 1) throw new Error(`layer ${l.name} must have one input, has ${ins.length}`);
    return values.get(ins[0]!)!;
  };
  /** The BatchNormalization folded into a conv: its only consumer, when the conv's output is not itself read. */
  const foldableBn = (l: KerasLayer): KerasLayer | undefined => {
    const next = consumers.get(l.name) ?? [];
    const bn = next.length === 1 ? byName.get(next[0]!) : undefined;
    if (!bn || bn.class_name !== 'BatchNormalization' || options.outputs.includes(l.name)) return undefined;
    if (l.config.activation !== 'linear') return undefined;
    return bn;
  };

  for (const l of layers) {
    if (!needed.has(l.name) || values.has(l.name)) continue;
    const c = l.config;
    switch (l.class_name) {
      case 'InputLayer': {
        const shape = c.batch_input_shape;
        if (!Array.isArray(shape) || shape.length !== 4 || c.dtype !== 'float32') {
          throw new Error(`input ${l.name} must be a float32 [batch, height, width, channels] image`);
        }
        const [h, w, ch] = shape.slice(1) as number[];
        inputShape = [batch, ch!, h!, w!];
        values.set(l.name, g.input(options.inputName ?? 'image', 'float32', inputShape));
        break;
      }
      case 'ZeroPadding2D': {
        const p = c.padding;
        let pads: [number, number, number, number];
        if (typeof p === 'number') pads = [p, p, p, p];
        else if (Array.isArray(p) && p.every((x) => Array.isArray(x) && x.length === 2)) {
          const [[top, bottom], [left, right]] = p as [[number, number], [number, number]];
          pads = [top, left, bottom, right];
        } else throw new Error(`layer ${l.name}: unsupported padding ${JSON.stringify(p)}`);
        const [top, left, bottom, right] = pads;
        values.set(l.name, g.pad(single(l), [0, 0, top, left, 0, 0, bottom, right]));
        break;
      }
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        const x = single(l);
        const depthwise = l.class_name === 'DepthwiseConv2D';
        const [kh, kw] = pair(c, 'kernel_size', l.name);
        const [sh, sw] = pair(c, 'strides', l.name);
        const [dh, dw] = pair(c, 'dilation_rate', l.name);
        if (dh !== 1 || dw !== 1) throw new Error(`layer ${l.name}: dilated convolutions are not supported`);
        if (c.data_format !== 'channels_last')
          throw new Error(`layer ${l.name}: only channels_last is supported`);
        const cin = x.shape[1]!;
        const k = weight(l.name, depthwise ? 'depthwise_kernel' : 'kernel');
        const mult = depthwise ? num(c, 'depth_multiplier', l.name) : 1;
        const cout = depthwise ? cin * mult : num(c, 'filters', l.name);
        const expected = depthwise ? [kh, kw, cin, mult] : [kh, kw, cin, cout];
        if (k.shape.join(',') !== expected.join(',')) {
          throw new Error(`layer ${l.name}: kernel is [${k.shape}], expected [${expected}]`);
        }
        // Keras [kh, kw, in, out] (depthwise: [kh, kw, in, mult], output channel in·mult + m) → ONNX
        // [out, in/group, kh, kw]; computed in double so BN folding rounds once.
        const perIn = depthwise ? 1 : cin;
        const w64 = new Float64Array(cout * perIn * kh * kw);
        for (let y = 0; y < kh; y++)
          for (let xx = 0; xx < kw; xx++)
            for (let i = 0; i < cin; i++)
              for (let m = 0; m < (depthwise ? mult : cout); m++) {
                const src = ((y * kw + xx) * cin + i) * (depthwise ? mult : cout) + m;
                const o = depthwise ? i * mult + m : m;
                const ii = depthwise ? 0 : i;
                w64[((o * perIn + ii) * kh + y) * kw + xx] = k.data[src]!;
              }
        const bias = new Float64Array(cout);
        if (c.use_bias === true) weight(l.name, 'bias').data.forEach((v, i) => (bias[i] = v));
        else if (c.use_bias !== false) throw new Error(`layer ${l.name}: 'use_bias' must be a boolean`);
        const bn = foldableBn(l);
        if (bn) {
          // BN(conv(x) + b) = conv(x)·s + (b − mean)·s + beta, s = gamma / sqrt(var + eps): one conv.
          const eps = num(bn.config, 'epsilon', bn.name);
          if (bn.config.axis !== -1 && bn.config.axis !== 3)
            throw new Error(`layer ${bn.name}: BN must be over channels`);
          const gamma = bn.config.scale === false ? undefined : weight(bn.name, 'gamma').data;
          const beta = bn.config.center === false ? undefined : weight(bn.name, 'beta').data;
          const mean = weight(bn.name, 'moving_mean').data;
          const variance = weight(bn.name, 'moving_variance').data;
          const per = w64.length / cout;
          for (let o = 0; o < cout; o++) {
            const s = (gamma ? gamma[o]! : 1) / Math.sqrt(variance[o]! + eps);
            for (let j = 0; j < per; j++) w64[o * per + j]! *= s;
            bias[o] = (bias[o]! - mean[o]!) * s + (beta ? beta[o]! : 0);
          }
        } else if (c.activation !== 'linear') {
          throw new Error(`layer ${l.name}: activation '${String(c.activation)}' on a conv is not supported`);
        }
        const [pt, pb] = c.padding === 'same' ? samePads(x.shape[2]!, kh, sh) : [0, 0];
        const [pl, pr] = c.padding === 'same' ? samePads(x.shape[3]!, kw, sw) : [0, 0];
        if (c.padding !== 'same' && c.padding !== 'valid')
          throw new Error(`layer ${l.name}: padding '${String(c.padding)}'`);
        const wT = g.initializer(`${l.name}/weight`, Float32Array.from(w64), [cout, perIn, kh, kw]);
        const needsBias = bn !== undefined || c.use_bias === true;
        const bT = needsBias ? g.initializer(`${l.name}/bias`, Float32Array.from(bias), [cout]) : null;
        const y = g.conv(x, wT, bT, {
          strides: [sh, sw],
          pads: [pt, pl, pb, pr],
          group: depthwise ? cin : 1,
        });
        values.set(l.name, y);
        if (bn) values.set(bn.name, y);
        break;
      }
      case 'BatchNormalization':
        // Reached only when no conv folded it (its input is not a conv, or the conv's output is read).
        throw new Error(`layer ${l.name}: BatchNormalization is only supported directly after a linear conv`);
      case 'ReLU': {
        const x = single(l);
        if ((c.negative_slope ?? 0) !== 0 || (c.threshold ?? 0) !== 0) {
          throw new Error(`layer ${l.name}: leaky or thresholded ReLU is not supported`);
        }
        const max = c.max_value;
        values.set(l.name, typeof max === 'number' ? g.clip(x, 0, max) : g.relu(x));
        break;
      }
      case 'Add': {
        const ins = inputsOf(l).map((n) => values.get(n)!);
        values.set(
          l.name,
          ins.slice(1).reduce((a, b) => g.add(a, b), ins[0]!),
        );
        break;
      }
      case 'AveragePooling2D': {
        if (c.padding !== 'valid') throw new Error(`layer ${l.name}: only 'valid' pooling is supported`);
        values.set(
          l.name,
          g.averagePool(single(l), pair(c, 'pool_size', l.name), pair(c, 'strides', l.name)),
        );
        break;
      }
      case 'Flatten': {
        const x = single(l);
        // Keras flattens channels-last.
        const nhwc = x.shape.length === 4 ? g.transpose(x, [0, 2, 3, 1]) : x;
        values.set(l.name, g.reshape(nhwc, [x.shape[0]!, x.shape.slice(1).reduce((a, b) => a * b, 1)]));
        break;
      }
      case 'Dense': {
        const x = single(l);
        const units = num(c, 'units', l.name);
        const k = weight(l.name, 'kernel');
        if (k.shape.join(',') !== `${x.shape[1]},${units}`)
          throw new Error(`layer ${l.name}: kernel is [${k.shape}]`);
        let y = g.matmul(x, g.initializer(`${l.name}/kernel`, k.data, k.shape));
        if (c.use_bias === true)
          y = g.add(y, g.initializer(`${l.name}/bias`, weight(l.name, 'bias').data, [units]));
        if (c.activation === 'relu') y = g.relu(y);
        else if (c.activation === 'softmax') y = g.softmax(y, -1);
        else if (c.activation !== 'linear')
          throw new Error(`layer ${l.name}: activation '${String(c.activation)}'`);
        values.set(l.name, y);
        break;
      }
      case 'Dropout':
        values.set(l.name, single(l)); // inference: identity
        break;
      default:
        throw new Error(`layer ${l.name}: layer type ${l.class_name} is not supported by the converter`);
    }
  }
  if (!inputShape) throw new ShapeError('the model has no InputLayer');

  const outputs = options.outputs.map((name) => {
    const t = values.get(name)!;
    const channelsLast = t.shape.length === 4 ? g.transpose(t, [0, 2, 3, 1]) : t;
    g.output(channelsLast, name);
    return { name, shape: channelsLast.shape.slice(1) };
  });
  return { graph: g, inputShape, outputs };
}
