import { describe, expect, it } from 'vitest';
import { fromFloat16, toFloat16 } from './float16.js';

describe('float16', () => {
  it('rounds like IEEE 754 half precision (bits from Python struct "e")', () => {
    // Ties to even (1.00048828125 → 1, 1.00146484375 → 1.001953125), subnormals, overflow, signed zero.
    const cases: [number, number][] = [
      [0.1, 0x2e66],
      [1 / 3, 0x3555],
      [65504, 0x7bff],
      [65519, 0x7bff],
      [65520, 0x7c00],
      [1e-7, 0x0002],
      [6, 0x4600],
      [-2.5e-5, 0x81a3],
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000],
      [1.00048828125, 0x3c00],
      [1.00146484375, 0x3c02],
      [-0, 0x8000],
    ];
    const bits = toFloat16(Float32Array.from(cases.map(([v]) => v)));
    expect(Array.from(bits)).toEqual(cases.map(([, b]) => b));
  });

  it('round-trips every finite half value exactly', () => {
    const all = Uint16Array.from({ length: 0x10000 }, (_, i) => i).filter((h) => (h & 0x7c00) !== 0x7c00);
    expect(Array.from(toFloat16(fromFloat16(all)))).toEqual(Array.from(all));
    expect(fromFloat16(Uint16Array.of(0x7c00, 0xfc00))).toEqual(Float32Array.of(Infinity, -Infinity));
    expect(Number.isNaN(fromFloat16(toFloat16(Float32Array.of(NaN)))[0])).toBe(true);
  });
});
