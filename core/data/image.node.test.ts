import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeForStore, decodeToGray, ImageDecodeError } from './image.node.js';

function noise(width: number, height: number, seed: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  let state = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state >>> 24;
  }
  return out;
}
const jpeg = (w: number, h: number, seed: number) =>
  sharp(noise(w, h, seed), { raw: { width: w, height: h, channels: 3 } })
    .jpeg()
    .toBuffer();

describe('stored image form', () => {
  it("equals sharp's resize fit:contain letterbox byte for byte, for odd shapes too", async () => {
    for (const [w, h] of [
      [37, 91],
      [200, 3],
      [1, 1],
      [128, 128],
      [129, 64],
      [640, 480],
    ] as const) {
      const bytes = await jpeg(w, h, w * 1000 + h);
      const reference = await sharp(bytes)
        .rotate()
        .flatten({ background: { r: 0, g: 0, b: 0 } })
        .resize(128, 128, { fit: 'contain', background: { r: 0, g: 0, b: 0 } })
        .toColourspace('b-w')
        .extractChannel(0)
        .raw()
        .toBuffer();
      const gray = await decodeToGray(bytes);
      expect(Buffer.from(gray.pixels).equals(reference), `${w}×${h}`).toBe(true);
      const stored = await decodeForStore(bytes);
      expect(stored.pixels).toEqual(gray.pixels);
      expect(stored).toMatchObject({ sourceWidth: w, sourceHeight: h, size: 128, format: 'jpeg' });
      const thumb = await sharp(stored.thumbnail).metadata();
      expect(thumb.format).toBe('jpeg');
      expect(Math.max(thumb.width!, thumb.height!)).toBe(128);
    }
  });

  it('takes raw pixels (DICOM frames) and refuses buffers of the wrong length', async () => {
    const raw = { width: 4, height: 2, channels: 1 as const, pixels: new Uint8Array(8).fill(200) };
    const stored = await decodeForStore(raw);
    expect(stored.pixels[64 * 128 + 64]).toBe(200);
    expect(stored.pixels[0]).toBe(0);
    await expect(decodeForStore({ ...raw, pixels: new Uint8Array(7) })).rejects.toThrow(ImageDecodeError);
  });
});
