import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeToGray } from '../../data/image.node.js';
import { generateSynthRad } from '../../data/synthrad.js';
import { Graph, ShapeError } from '../graph.js';
import { encodeModel } from '../onnx-proto.js';
import {
  EncoderHashError,
  ImageEncoder,
  encoderFileName,
  encoderUnavailable,
  readEncoderFile,
  sha256Hex,
} from './image-encoder.node.js';
import { loadNsfwjsModel, nsfwjsPackage } from './nsfwjs.node.js';
import {
  MOBILENET_V2_OUTPUTS,
  MOBILENET_V2_SPEC,
  encoderInput,
  federationEncoder,
  type EncoderSpec,
} from './spec.js';
import { convertLayersModel } from './tfjs-layers.js';

const VQA_RAD_IMAGES = resolve(
  import.meta.dirname,
  '..',
  '..',
  '..',
  '..',
  'shared',
  'datasets',
  'vqa-rad',
  'images',
);
const SIZE = MOBILENET_V2_SPEC.inputSize;

/** Two real radiographs when the dataset is present, else two SynthRad images, at 224 letterboxed. */
async function testImages(): Promise<Uint8Array[]> {
  if (existsSync(VQA_RAD_IMAGES)) {
    const names = readdirSync(VQA_RAD_IMAGES)
      .filter((n) => /\.jpe?g$/i.test(n))
      .sort()
      .slice(0, 2);
    return Promise.all(
      names.map(async (n) => (await decodeToGray(readFileSync(join(VQA_RAD_IMAGES, n)), SIZE)).pixels),
    );
  }
  const synth = generateSynthRad({ preset: 'general', n: 2, seed: 3 });
  const images = [...synth.images.values()].slice(0, 2);
  const sharp = (await import('sharp')).default;
  return Promise.all(
    images.map(
      async (img) =>
        new Uint8Array(
          await sharp(img.pixels, { raw: { width: img.width, height: img.height, channels: 1 } })
            .resize(SIZE, SIZE)
            .raw()
            .toBuffer(),
        ),
    ),
  );
}

function toNhwc(nchw: Float32Array, batch: number, channels: number, h: number, w: number): Float32Array {
  const out = new Float32Array(nchw.length);
  for (let b = 0; b < batch; b++)
    for (let c = 0; c < channels; c++)
      for (let i = 0; i < h * w; i++)
        out[(b * h * w + i) * channels + c] = nchw[(b * channels + c) * h * w + i]!;
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('MobileNetV2 converted from nsfwjs', () => {
  let dir: string;
  let input: Float32Array;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cohort-encoder-'));
    input = encoderInput(await testImages(), MOBILENET_V2_SPEC);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('matches TF.js (CPU backend, the package’s own layers model) within 1e-4, through the head', async () => {
    // The reference: TF.js loads the raw model files itself, and runs every layer (all 11 types).
    const { root } = nsfwjsPackage();
    const require = createRequire(import.meta.url);
    const modelDir = join(root, 'dist', 'models', 'mobilenet_v2');
    const raw = require(join(modelDir, 'model.min.js')) as {
      modelTopology: object;
      weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
    };
    const weightData = Buffer.from(require(join(modelDir, 'group1-shard1of1.min.js')) as string, 'base64');
    await tf.setBackend('cpu');
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: raw.modelTopology,
        weightSpecs: raw.weightsManifest.flatMap((g) => g.weights),
        weightData: weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.length),
      }),
    );
    const outputs = [MOBILENET_V2_OUTPUTS.final, MOBILENET_V2_OUTPUTS.block10, 'dense_3'];
    const sub = tf.model({
      inputs: model.inputs,
      outputs: outputs.map((n) => model.getLayer(n).output as tf.SymbolicTensor),
    });
    const x = tf.tensor4d(toNhwc(input, 2, 3, SIZE, SIZE), [2, SIZE, SIZE, 3]);
    const expected = (sub.predict(x) as tf.Tensor[]).map((t) => t.dataSync() as Float32Array);

    const converted = convertLayersModel(loadNsfwjsModel('mobilenet_v2'), { outputs, batch: 2 });
    expect(converted.outputs.map((o) => o.shape)).toEqual([[7, 7, 1280], [14, 14, 96], [5]]);
    const session = await ort.InferenceSession.create(encodeModel(converted.graph));
    const got = await session.run({ image: new ort.Tensor('float32', input, [2, 3, SIZE, SIZE]) });
    const diffs = outputs.map((n, i) => maxAbsDiff(got[n]!.data as Float32Array, expected[i]!));
    console.log(
      `max |ONNX − TF.js|: ${outputs.map((n, i) => `${n} ${diffs[i]!.toExponential(2)}`).join(', ')}`,
    );
    for (const d of diffs) expect(d).toBeLessThan(1e-4);
    // Features that are not trivially zero: the check compares something.
    expect(Math.max(...expected[0]!)).toBeGreaterThan(1);
    await session.release();
  });

  it('converts on first use to the pinned hash, then reads the cached file', async () => {
    const bytes = readEncoderFile(dir, MOBILENET_V2_SPEC);
    expect(sha256Hex(bytes)).toBe(MOBILENET_V2_SPEC.sha256);
    expect(existsSync(join(dir, encoderFileName(MOBILENET_V2_SPEC)))).toBe(true);
    const encoder = await ImageEncoder.open(readEncoderFile(dir, MOBILENET_V2_SPEC), MOBILENET_V2_SPEC);
    expect(encoder.outputs).toEqual([
      { name: 'out_relu', shape: [7, 7, 1280] },
      { name: 'block_10_project_BN', shape: [14, 14, 96] },
    ]);
    // Any batch size (the batch axis is symbolic); per-image results equal a batch of one.
    const both = await encoder.encode(input, 2);
    const second = await encoder.encode(input.subarray(input.length / 2), 1);
    expect(maxAbsDiff(both[1]![0]!, second[0]![0]!)).toBeLessThan(1e-5);
    await encoder.release();
  });

  it('refuses an encoder file that does not match its pinned hash, in one line', async () => {
    const path = join(dir, encoderFileName(MOBILENET_V2_SPEC));
    readEncoderFile(dir, MOBILENET_V2_SPEC);
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
    writeFileSync(path, bytes);
    expect(() => readEncoderFile(dir, MOBILENET_V2_SPEC)).toThrow(EncoderHashError);
    expect(() => readEncoderFile(dir, MOBILENET_V2_SPEC)).toThrow(
      /^image encoder file .* has SHA-256 [0-9a-f]{16}…, not the pinned ecd5d2d4824a847f…; refusing to use it$/,
    );
    await expect(ImageEncoder.open(new Uint8Array(bytes), MOBILENET_V2_SPEC)).rejects.toThrow(
      EncoderHashError,
    );
    rmSync(path);
  });

  it('names a missing or altered federation encoder by hash', async () => {
    const other: EncoderSpec = { ...MOBILENET_V2_SPEC, sha256: 'ab'.repeat(32) };
    expect(() => readEncoderFile(dir, other)).toThrow(
      /^this site does not have the image encoder abababababababab…/,
    );
    expect(await encoderUnavailable(dir, other)).toBe(
      'this site does not have the image encoder abababababab… the federation names',
    );
    writeFileSync(join(dir, encoderFileName(other)), 'not this one');
    expect(await encoderUnavailable(dir, other)).toMatch(
      /^this site's copy of the image encoder abababababab… has another hash/,
    );
    expect(await encoderUnavailable(dir, federationEncoder({}))).toBeUndefined();
  });
});

describe('convolution ops', () => {
  it('checks groups against channels', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [1, 6, 8, 8]);
    expect(() => g.conv(x, g.input('w', 'float32', [6, 2, 3, 3]), null, { group: 6 })).toThrow(ShapeError);
    const y = g.conv(x, g.input('w2', 'float32', [12, 1, 3, 3]), null, {
      group: 6,
      strides: [2, 2],
      pads: [0, 0, 1, 1],
    });
    expect(y.shape).toEqual([1, 12, 4, 4]);
    expect(g.averagePool(y, [4, 4]).shape).toEqual([1, 12, 1, 1]);
  });
});
