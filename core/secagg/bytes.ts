import { sodium } from './sodium.js';

const encoder = new TextEncoder();

/**
 * URL-safe base64 without padding, the byte encoding of Cohort's JSON messages (same convention as
 * `core/crypto`). Throws on anything that is not exactly that.
 */
export function toBase64(bytes: Uint8Array): string {
  return sodium.to_base64(bytes, sodium.base64_variants.URLSAFE_NO_PADDING);
}

export function fromBase64(text: string): Uint8Array {
  return sodium.from_base64(text, sodium.base64_variants.URLSAFE_NO_PADDING);
}

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** One length-prefixed field for `frame`. Numbers are encoded as 8-byte big-endian unsigned integers. */
export type FramePart = string | Uint8Array | number;

/**
 * The bytes that are hashed or signed: a domain string and the parts, each prefixed by its 4-byte
 * big-endian length, so that no two different lists of parts give the same bytes.
 */
export function frame(domain: string, ...parts: FramePart[]): Uint8Array {
  const encoded = [domain, ...parts].map((part) => {
    if (typeof part === 'string') return utf8(part);
    if (typeof part === 'number') {
      if (!Number.isSafeInteger(part) || part < 0) throw new RangeError(`cannot frame ${part}`);
      const out = new Uint8Array(8);
      new DataView(out.buffer).setBigUint64(0, BigInt(part));
      return out;
    }
    return part;
  });
  let total = 0;
  for (const part of encoded) total += 4 + part.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const part of encoded) {
    view.setUint32(offset, part.length);
    out.set(part, offset + 4);
    offset += 4 + part.length;
  }
  return out;
}

/** Splits bytes made by `frame` (without a domain) back into its parts; throws on any malformation. */
export function unframe(bytes: Uint8Array, count: number): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (let i = 0; i < count; i++) {
    if (offset + 4 > bytes.length) throw new RangeError('truncated frame');
    const length = view.getUint32(offset);
    if (offset + 4 + length > bytes.length) throw new RangeError('truncated frame');
    parts.push(bytes.subarray(offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
  if (offset !== bytes.length) throw new RangeError('trailing bytes in frame');
  return parts;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Best-effort erasure of secret bytes once a stage no longer needs them. */
export function wipe(...buffers: (Uint8Array | undefined)[]): void {
  for (const buffer of buffers) if (buffer) sodium.memzero(buffer);
}
