import sodium from 'libsodium-wrappers-sumo';

/** libsodium, initialised. Every function that touches it awaits this first (the WASM loads once). */
export async function getSodium(): Promise<typeof sodium> {
  await sodium.ready;
  return sodium;
}

/**
 * URL-safe base64 without padding: the one byte encoding of Cohort's JSON messages and files. Built on
 * btoa/atob (in browsers and Node alike) so it works before libsodium has loaded.
 */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Decodes URL-safe base64 (padding optional); throws on anything else. */
export function fromBase64(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) throw new Error('not URL-safe base64');
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

const encoder = new TextEncoder();

/**
 * The bytes a signature covers: a domain string and the parts, each length-prefixed (4-byte big-endian)
 * so that no two different lists of parts can produce the same bytes.
 */
export function domainMessage(domain: string, ...parts: (string | Uint8Array)[]): Uint8Array {
  const encoded = [domain, ...parts].map((part) => (typeof part === 'string' ? encoder.encode(part) : part));
  const total = encoded.reduce((sum, part) => sum + 4 + part.length, 0);
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
