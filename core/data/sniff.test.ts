import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { checkImageFormat, formatFromExtension, headerDimensions, sniffFormat } from './sniff.js';

describe('file format sniffing', () => {
  it('knows formats by content and by extension', async () => {
    const png = await sharp({ create: { width: 7, height: 3, channels: 3, background: '#000' } })
      .png()
      .toBuffer();
    const jpeg = await sharp({ create: { width: 9, height: 5, channels: 3, background: '#888' } })
      .jpeg()
      .toBuffer();
    expect(sniffFormat(png)).toBe('png');
    expect(sniffFormat(jpeg)).toBe('jpeg');
    expect(sniffFormat(new TextEncoder().encode('hello'))).toBe('unknown');
    expect(headerDimensions(png)).toEqual({ width: 7, height: 3 });
    expect(headerDimensions(jpeg)).toEqual({ width: 9, height: 5 });
    expect(formatFromExtension('a/b.JPEG')).toBe('jpeg');
    expect(formatFromExtension('dir.v2/file')).toBeUndefined();
    expect(checkImageFormat('x.jpg', png, ['jpeg', 'png'])).toEqual({
      ok: false,
      reason: 'file is not what its extension says: named as a JPEG, but its content is a PNG',
    });
    expect(checkImageFormat('x', png, ['jpeg', 'png'])).toEqual({ ok: true, format: 'png' });
    expect(
      checkImageFormat('x.gif', new Uint8Array([0x47, 0x49, 0x46, 0x38]), ['jpeg', 'png']),
    ).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/content is a GIF; this importer accepts a JPEG or a PNG/),
    });
  });
});
