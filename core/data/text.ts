/**
 * Text input helpers shared by the importers. Question files are text a hospital exported from some other
 * system; the usual ways that goes wrong (UTF-16, Latin-1, a binary file with a .csv name) must end in a
 * clear whole-file error, never in mojibake stored as questions.
 */

/** A problem with the input as a whole: nothing of the import is stored. */
export class DataInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataInputError';
  }
}

/** Offset of the first byte that breaks UTF-8, or -1 when the bytes are valid UTF-8. */
export function firstInvalidUtf8(bytes: Uint8Array, start = 0): number {
  let i = start;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) [need, min] = [1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [need, min] = [2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [need, min] = [3, 0x10000];
    else return i;
    let code = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      code = (code << 6) | (c & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/**
 * Decodes a text file that must be UTF-8 (a leading byte-order mark is dropped). Throws DataInputError
 * naming `label` for UTF-16, invalid UTF-8 (with the offset of the first bad byte) and binary content.
 */
export function decodeUtf8Text(bytes: Uint8Array, label: string): string {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw new DataInputError(`${label} is UTF-16 text; save it as UTF-8`);
  }
  const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const bad = firstInvalidUtf8(bytes, start);
  if (bad >= 0) {
    throw new DataInputError(
      `${label} is not valid UTF-8 (first invalid byte 0x${bytes[bad]!.toString(16).padStart(2, '0')} ` +
        `at offset ${bad}); save it as UTF-8`,
    );
  }
  const text = new TextDecoder('utf-8').decode(bytes.subarray(start));
  if (text.includes('\u0000')) throw new DataInputError(`${label} contains NUL bytes: it is not a text file`);
  return text;
}

/** JSON.parse with a whole-file error that names the file and the parser's reason. */
export function parseJsonText(text: string, label: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new DataInputError(`${label} is not valid JSON (${(error as Error).message})`);
  }
}
