/** What a file really is, from its first bytes, so a PNG named .jpg or a text file named .dcm is caught. */
export type SniffedFormat = 'jpeg' | 'png' | 'dicom' | 'gif' | 'webp' | 'tiff' | 'bmp' | 'unknown';

const startsWith = (bytes: Uint8Array, prefix: readonly number[], at = 0) =>
  bytes.length >= at + prefix.length && prefix.every((b, i) => bytes[at + i] === b);

export function sniffFormat(bytes: Uint8Array): SniffedFormat {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (startsWith(bytes, [0x44, 0x49, 0x43, 0x4d], 128)) return 'dicom';
  if (startsWith(bytes, [0x47, 0x49, 0x46, 0x38])) return 'gif';
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8))
    return 'webp';
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a]))
    return 'tiff';
  if (startsWith(bytes, [0x42, 0x4d])) return 'bmp';
  return 'unknown';
}

/** The format a file name's extension promises, or undefined for extensions that promise nothing. */
export function formatFromExtension(name: string): SniffedFormat | undefined {
  const dot = name.lastIndexOf('.');
  if (dot < 0 || dot < name.lastIndexOf('/')) return undefined;
  switch (name.slice(dot + 1).toLowerCase()) {
    case 'jpg':
    case 'jpeg':
    case 'jpe':
      return 'jpeg';
    case 'png':
      return 'png';
    case 'dcm':
    case 'dicom':
      return 'dicom';
    case 'gif':
      return 'gif';
    case 'webp':
      return 'webp';
    case 'tif':
    case 'tiff':
      return 'tiff';
    case 'bmp':
      return 'bmp';
    default:
      return undefined;
  }
}

const FORMAT_NAMES: Record<SniffedFormat, string> = {
  jpeg: 'a JPEG',
  png: 'a PNG',
  dicom: 'a DICOM file',
  gif: 'a GIF',
  webp: 'a WebP image',
  tiff: 'a TIFF',
  bmp: 'a BMP',
  unknown: 'no image format Cohort knows',
};

/**
 * Checks a file's content against its extension and the formats an importer accepts. Returns the
 * content's format, or a readable reason to reject the file.
 */
export function checkImageFormat(
  name: string,
  bytes: Uint8Array,
  accepted: readonly SniffedFormat[],
): { ok: true; format: SniffedFormat } | { ok: false; reason: string } {
  const actual = sniffFormat(bytes);
  const promised = formatFromExtension(name);
  if (bytes.length === 0) return { ok: false, reason: 'file is empty' };
  if (promised && promised !== actual) {
    return {
      ok: false,
      reason: `file is not what its extension says: named as ${FORMAT_NAMES[promised]}, but its content is ${FORMAT_NAMES[actual]}`,
    };
  }
  if (!accepted.includes(actual)) {
    return {
      ok: false,
      reason: `content is ${FORMAT_NAMES[actual]}; this importer accepts ${accepted.map((f) => FORMAT_NAMES[f]).join(' or ')}`,
    };
  }
  return { ok: true, format: actual };
}

/**
 * Width and height from a PNG or JPEG header, without decoding, so absurd sizes are refused by what the
 * file claims (decoders may reject them first with a vaguer message). Undefined when not found.
 */
export function headerDimensions(bytes: Uint8Array): { width: number; height: number } | undefined {
  const u16 = (at: number) => (bytes[at]! << 8) | bytes[at + 1]!;
  const u32 = (at: number) =>
    ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
  const format = sniffFormat(bytes);
  if (format === 'png') {
    if (bytes.length < 24 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') return undefined;
    return { width: u32(16), height: u32(20) };
  }
  if (format !== 'jpeg') return undefined;
  let at = 2;
  while (at + 9 < bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at++;
      continue;
    }
    // SOF0–SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { width: u16(at + 7), height: u16(at + 5) };
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      at += 2;
      continue;
    }
    at += 2 + u16(at + 2);
  }
  return undefined;
}
