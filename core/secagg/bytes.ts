import { sodium } from './sodium.js';

const encoder = new TextEncoder();

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const DECODE = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/**
 * URL-safe base64 without padding, the byte encoding of Cohort's JSON messages (same convention as
 * `core/crypto`). The output is libsodium's `to_base64(bytes, URLSAFE_NO_PADDING)`, computed in
 * JavaScript: a call into the WASM module costs more than the encoding of a key or a share (tested equal).
 */
export function toBase64(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 3 <= bytes.length; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += ALPHABET[v >> 18]! + ALPHABET[(v >> 12) & 63]! + ALPHABET[(v >> 6) & 63]! + ALPHABET[v & 63]!;
  }
  if (bytes.length - i === 1) {
    const v = bytes[i]!;
    out += ALPHABET[v >> 2]! + ALPHABET[(v & 3) << 4]!;
  } else if (bytes.length - i === 2) {
    const v = (bytes[i]! << 8) | bytes[i + 1]!;
    out += ALPHABET[v >> 10]! + ALPHABET[(v >> 4) & 63]! + ALPHABET[(v & 15) << 2]!;
  }
  return out;
}

/**
 * The inverse, exactly as strict as libsodium's `from_base64(text, URLSAFE_NO_PADDING)` (tested on valid
 * and invalid input): only the 64 URL-safe characters, no padding, no whitespace, a length that is not
 * 1 mod 4, and zero unused bits in the last character (so every byte string has one encoding). Throws an
 * Error on anything else, as libsodium.js does.
 */
export function fromBase64(text: string): Uint8Array {
  const out = new Uint8Array(Math.floor((text.length * 6) / 8));
  fromBase64Into(text, out, 0);
  return out;
}

/**
 * `fromBase64` into `out` at `offset` (which must have room for ⌊6·length/8⌋ bytes), for callers that
 * keep many small decoded values in one buffer instead of one array each.
 */
export function fromBase64Into(text: string, out: Uint8Array, offset: number): void {
  let acc = 0;
  let bits = 0;
  let at = offset;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const digit = code < 128 ? DECODE[code]! : -1;
    if (digit < 0) throw new Error('invalid input');
    acc = ((acc << 6) | digit) & 0x3fff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (acc >> bits) & 0xff;
    }
  }
  if (bits > 4 || (acc & ((1 << bits) - 1)) !== 0) throw new Error('invalid input');
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
  const encoded: (Uint8Array | string)[] = [];
  let total = 0;
  for (const part of [domain, ...parts]) {
    let bytes: Uint8Array | string;
    if (typeof part === 'string') {
      // ASCII (every domain string and site id) is copied as is below; anything else goes through UTF-8.
      bytes = isAscii(part) ? part : utf8(part);
    } else if (typeof part === 'number') {
      if (!Number.isSafeInteger(part) || part < 0) throw new RangeError(`cannot frame ${part}`);
      bytes = new Uint8Array(8);
      new DataView(bytes.buffer).setBigUint64(0, BigInt(part));
    } else bytes = part;
    encoded.push(bytes);
    total += 4 + bytes.length;
  }
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const part of encoded) {
    view.setUint32(offset, part.length);
    offset += 4;
    if (typeof part === 'string') for (let i = 0; i < part.length; i++) out[offset + i] = part.charCodeAt(i);
    else out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
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
