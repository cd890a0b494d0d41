import { describe, expect, it } from 'vitest';
import { decodeFrame, roundJoinSchema } from './rounds.js';

/** A frame built by hand from a header's JSON text (encodeFrame would never write a __proto__ key). */
function rawFrame(json: string): Uint8Array {
  const header = new TextEncoder().encode(json);
  const out = new Uint8Array(Math.ceil((4 + header.length) / 4) * 4);
  new DataView(out.buffer).setUint32(0, header.length, true);
  out.set(header, 4);
  return out;
}

describe('round frames', () => {
  it('a __proto__ header cannot pass as a round message through inherited fields', () => {
    const join = { type: 'round-join', federationId: 'fed', round: 3, accept: true, reason: null };
    const bytes = rawFrame(`{"__proto__":${JSON.stringify(join)}}`);
    // Before decoding refused it, the frame's prototype was the join, and the strict schema accepted it.
    expect(() => roundJoinSchema.parse(decodeFrame(bytes))).toThrow(/forbidden key __proto__/);
    expect(roundJoinSchema.parse(decodeFrame(rawFrame(JSON.stringify(join))))).toEqual(join);
  });
});
