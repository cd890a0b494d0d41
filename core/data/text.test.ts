import { describe, expect, it } from 'vitest';
import { DataInputError, decodeUtf8Text, firstInvalidUtf8 } from './text.js';

const bytes = (...b: number[]) => new Uint8Array(b);

describe('UTF-8 input', () => {
  it('accepts UTF-8 (with or without a byte-order mark)', () => {
    expect(decodeUtf8Text(new TextEncoder().encode('Œdème 肺 🫁'), 'f')).toBe('Œdème 肺 🫁');
    expect(decodeUtf8Text(bytes(0xef, 0xbb, 0xbf, 0x61), 'f')).toBe('a');
  });

  it('finds the first invalid byte: Latin-1, overlong forms, surrogates, truncated sequences', () => {
    expect(firstInvalidUtf8(bytes(0x61, 0xe9, 0x61))).toBe(1);
    expect(firstInvalidUtf8(bytes(0xc0, 0x80))).toBe(0);
    expect(firstInvalidUtf8(bytes(0xe0, 0x80, 0x80))).toBe(0);
    expect(firstInvalidUtf8(bytes(0xed, 0xa0, 0x80))).toBe(0);
    expect(firstInvalidUtf8(bytes(0x61, 0xe2, 0x82))).toBe(1);
    expect(firstInvalidUtf8(bytes(0xf4, 0x90, 0x80, 0x80))).toBe(0);
    expect(firstInvalidUtf8(new TextEncoder().encode('ok ✓ 🫁'))).toBe(-1);
  });

  it('refuses UTF-16, invalid UTF-8 and binary content with a whole-file error', () => {
    expect(() => decodeUtf8Text(bytes(0xff, 0xfe, 0x61, 0), 'q.csv')).toThrow(/q.csv is UTF-16 text/);
    expect(() => decodeUtf8Text(bytes(0x61, 0xe9), 'q.csv')).toThrow(
      new DataInputError('q.csv is not valid UTF-8 (first invalid byte 0xe9 at offset 1); save it as UTF-8'),
    );
    expect(() => decodeUtf8Text(bytes(0x61, 0), 'q.csv')).toThrow(/NUL bytes/);
  });
});
