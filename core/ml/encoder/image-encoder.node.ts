/**
 * The image encoder on disk and at run time. Encoder files live in a directory as `<sha256>.onnx`; the
 * embedded default (MobileNetV2) is converted there from the installed nsfwjs package on first use, and
 * every file, converted or brought by a federation, is checked against the SHA-256 its spec pins before
 * onnxruntime sees it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { canonicalJson } from '../../util/canonical-json.js';
import { makeDir } from '../../util/make-dir.node.js';
import { encodeModel } from '../onnx-proto.js';
import { createSession } from '../runtime.node.js';
import { loadNsfwjsModel } from './nsfwjs.node.js';
import { MOBILENET_V2_SPEC, type EncoderSpec } from './spec.js';
import { convertLayersModel } from './tfjs-layers.js';

export const sha256Hex = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

/** The nsfwjs release the pinned MobileNetV2 hash was converted from. */
export const NSFWJS_VERSION = '4.3.0';

/**
 * Converts nsfwjs's MobileNetV2 to ONNX bytes: the layers up to the default spec's outputs (the head is
 * left out), NCHW input with a symbolic batch axis. Deterministic, so the bytes' hash can be pinned.
 */
export function convertMobileNetV2(): { bytes: Uint8Array; nsfwjsVersion: string } {
  const artifacts = loadNsfwjsModel('mobilenet_v2');
  const { graph } = convertLayersModel(artifacts, {
    outputs: MOBILENET_V2_SPEC.outputs,
    inputName: MOBILENET_V2_SPEC.input,
  });
  const bytes = encodeModel(
    graph,
    'cohort',
    {
      source: `nsfwjs ${artifacts.version} mobilenet_v2 (TF.js layers model), converted by core/ml/encoder`,
      normalisation: 'RGB in [-1, 1]: pixel / 127.5 - 1',
      outputs: MOBILENET_V2_SPEC.outputs.join(','),
    },
    { batchDim: 'batch' },
  );
  return { bytes, nsfwjsVersion: artifacts.version };
}

export class EncoderHashError extends Error {
  constructor(what: string, actual: string, expected: string) {
    super(
      `${what} has SHA-256 ${actual.slice(0, 16)}…, not the pinned ${expected.slice(0, 16)}…; refusing to use it`,
    );
    this.name = 'EncoderHashError';
  }
}

export const encoderFileName = (spec: EncoderSpec) => `${spec.sha256}.onnx`;

/**
 * The bytes of the encoder `spec` names, from `dir`. The default MobileNetV2 is converted (and written
 * there) when missing; any other encoder must already be in `dir` (a federation's encoder is brought by
 * the site's operator). Bytes whose hash differs from the spec's are refused.
 */
export function readEncoderFile(dir: string, spec: EncoderSpec): Uint8Array {
  const path = join(dir, encoderFileName(spec));
  if (!existsSync(path)) {
    if (spec.sha256 !== MOBILENET_V2_SPEC.sha256) {
      throw new Error(
        `this site does not have the image encoder ${spec.sha256.slice(0, 16)}… (expected ${path})`,
      );
    }
    const { bytes, nsfwjsVersion } = convertMobileNetV2();
    const hash = sha256Hex(bytes);
    if (hash !== spec.sha256) {
      throw new EncoderHashError(
        `MobileNetV2 converted from nsfwjs ${nsfwjsVersion} (pinned for ${NSFWJS_VERSION})`,
        hash,
        spec.sha256,
      );
    }
    makeDir(dir);
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, bytes);
    renameSync(temporary, path);
    return bytes;
  }
  const bytes = new Uint8Array(readFileSync(path));
  const hash = sha256Hex(bytes);
  if (hash !== spec.sha256) throw new EncoderHashError(`image encoder file ${path}`, hash, spec.sha256);
  return bytes;
}

/**
 * Why this site cannot use the encoder a federation names, or undefined when it can: the default is
 * always available (converted on demand); any other must be in `dir` as `<sha256>.onnx` with that hash.
 */
export async function encoderUnavailable(dir: string, spec: EncoderSpec): Promise<string | undefined> {
  if (spec.sha256 === MOBILENET_V2_SPEC.sha256) return undefined;
  const path = join(dir, encoderFileName(spec));
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch {
    return `this site does not have the image encoder ${spec.sha256.slice(0, 12)}… the federation names`;
  }
  const hash = sha256Hex(bytes);
  return hash === spec.sha256
    ? undefined
    : `this site's copy of the image encoder ${spec.sha256.slice(0, 12)}… has another hash (${hash.slice(0, 12)}…)`;
}

/**
 * Names an encoder's features in the cache: the spec hashed, since the same file fed another size or
 * normalisation gives other features.
 */
export const encoderKey = (spec: EncoderSpec) => sha256Hex(`cohort/image-encoder/v1\n${canonicalJson(spec)}`);

export interface FeatureOutput {
  name: string;
  /** Channels-last, without the batch axis (e.g. [7, 7, 1280]). */
  shape: number[];
}

/** One encoder session: NCHW images in, each spec output out (per image, channels-last). */
export class ImageEncoder {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly spec: EncoderSpec,
    readonly key: string,
    readonly outputs: FeatureOutput[],
  ) {}

  /** Opens an encoder from bytes already checked against `spec.sha256` (see readEncoderFile). */
  static async open(
    bytes: Uint8Array,
    spec: EncoderSpec,
    options: { threads?: number } = {},
  ): Promise<ImageEncoder> {
    const hash = sha256Hex(bytes);
    if (hash !== spec.sha256) throw new EncoderHashError('image encoder', hash, spec.sha256);
    const session = await createSession(bytes, options);
    if (!session.inputNames.includes(spec.input)) {
      throw new Error(`image encoder ${spec.sha256.slice(0, 16)}… has no input '${spec.input}'`);
    }
    const missing = spec.outputs.filter((o) => !session.outputNames.includes(o));
    if (missing.length > 0) {
      throw new Error(
        `image encoder ${spec.sha256.slice(0, 16)}… has no output ${missing.map((m) => `'${m}'`).join(', ')}`,
      );
    }
    // Output shapes come from one run on a blank image: ONNX files may leave them symbolic.
    const encoder = new ImageEncoder(session, spec, encoderKey(spec), []);
    const probe = await encoder.runRaw(new Float32Array(3 * spec.inputSize ** 2), 1);
    for (const name of spec.outputs)
      encoder.outputs.push({ name, shape: probe[name]!.dims.slice(1).map(Number) });
    return encoder;
  }

  /** Elements per image of each output. */
  sizes(): number[] {
    return this.outputs.map((o) => o.shape.reduce((a, b) => a * b, 1));
  }

  private async runRaw(input: Float32Array, batch: number): Promise<ort.InferenceSession.OnnxValueMapType> {
    const s = this.spec.inputSize;
    if (input.length !== batch * 3 * s * s)
      throw new Error(`encoder input holds ${input.length} values, expected ${batch * 3 * s * s}`);
    return this.session.run({ [this.spec.input]: new ort.Tensor('float32', input, [batch, 3, s, s]) });
  }

  /** Runs a batch (NCHW, see encoderInput); returns each output as one array per image. */
  async encode(input: Float32Array, batch: number): Promise<Float32Array[][]> {
    const result = await this.runRaw(input, batch);
    const sizes = this.sizes();
    return Array.from({ length: batch }, (_, b) =>
      this.spec.outputs.map((name, i) => {
        const data = result[name]!.data as Float32Array;
        return data.slice(b * sizes[i]!, (b + 1) * sizes[i]!);
      }),
    );
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
