/**
 * safetensors (https://huggingface.co/docs/safetensors): 8-byte little-endian header length, a JSON
 * header {name: {dtype, shape, data_offsets}, __metadata__}, then the raw little-endian data. Written
 * deterministically (tensors and keys in the given order, header padded with spaces to 8 bytes) so the
 * bytes can be hashed. Cohort writes F32 only; it reads F32, and F16/BF16 (widened to F32), because
 * Hugging Face checkpoints are often stored in half precision.
 */

export interface SafeTensor {
  shape: number[];
  data: Float32Array;
}

export function encodeSafetensors(
  tensors: Iterable<[string, SafeTensor]>,
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const list = [...tensors];
  let offset = 0;
  for (const [name, t] of list) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length)
      throw new Error(`safetensors: ${name} has ${t.data.length} values for shape [${t.shape}]`);
    if (name === '__metadata__' || name in header)
      throw new Error(`safetensors: duplicate or reserved name ${name}`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += ' ';
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const [, t] of list) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}

export function decodeSafetensors(bytes: Uint8Array): {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
} {
  if (bytes.length < 8) throw new Error('safetensors: file too short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > bytes.length - 8 || headerLength > 100_000_000)
    throw new Error('safetensors: bad header length');
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<
    string,
    unknown
  >;
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, SafeTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets } = entry as {
      dtype: string;
      shape: number[];
      data_offsets: [number, number];
    };
    const width = DTYPE_BYTES[dtype];
    if (!width)
      throw new Error(`safetensors: ${name} has dtype ${dtype}; only F32, F16 and BF16 are supported`);
    const [start, end] = data_offsets;
    const n = shape.reduce((a, b) => a * b, 1);
    if (end - start !== n * width || dataStart + end > bytes.length || start < 0) {
      throw new Error(`safetensors: ${name} has inconsistent offsets`);
    }
    // Copy into an aligned buffer (the data section need not be 4-byte aligned within `bytes`).
    const data = new Float32Array(n);
    const raw = bytes.subarray(dataStart + start, dataStart + end);
    if (dtype === 'F32') new Uint8Array(data.buffer).set(raw);
    else widenHalf(raw, data, dtype === 'BF16');
    tensors.set(name, { shape, data });
  }
  return { tensors, metadata };
}

const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };

/** Little-endian F16 or BF16 → F32. */
function widenHalf(raw: Uint8Array, out: Float32Array, bf16: boolean): void {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < out.length; i++) {
    const h = raw[2 * i]! | (raw[2 * i + 1]! << 8);
    if (bf16) {
      bits[i] = h << 16;
      continue;
    }
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0x1f) bits[i] = sign | 0x7f800000 | (frac << 13);
    else if (exp !== 0) bits[i] = sign | ((exp + 112) << 23) | (frac << 13);
    else out[i] = (sign ? -1 : 1) * frac * 2 ** -24; // zero and subnormals
  }
}
