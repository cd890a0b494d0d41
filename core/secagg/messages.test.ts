import { describe, expect, it } from 'vitest';
import {
  decodeWire,
  encodeWire,
  parseClientMessage,
  parseServerMessage,
  wireSize,
  type ClientMessage,
  type ServerMessage,
} from './messages.js';
import { simulateRound } from './simulate.js';

describe('messages', () => {
  it('a whole round survives the wire codec and the schemas, and wireSize is exact', async () => {
    const sent: ClientMessage[] = [];
    const sim = await simulateRound({ n: 5, params: 1001, viaWire: true, observe: (_s, m) => sent.push(m) });
    expect(sim.exact).toBe(true);
    expect(sent.map((m) => m.type)).toContain('masked-input');
    for (const message of sent) {
      const bytes = encodeWire(message);
      expect(bytes.length).toBe(wireSize(message));
      expect(parseClientMessage(decodeWire(bytes))).toEqual(message);
    }
  });

  it('uploads are 4 bytes per word plus a small header', async () => {
    const sim = await simulateRound({ n: 3, params: 1_000_000 });
    for (const bytes of sim.uploadBytes.values()) expect(bytes / 4e6).toBeLessThan(1.001);
  });

  it('rejects malformed frames and messages', () => {
    const good: ServerMessage = { type: 'alive', sessionId: 'A'.repeat(43), alive: ['site-1'] };
    expect(parseServerMessage(decodeWire(encodeWire(good)))).toEqual(good);
    const bytes = encodeWire(good);
    const bad = (value: unknown) =>
      expect(() => parseServerMessage(value)).toThrow(expect.objectContaining({ code: 'malformed' }));
    expect(() => decodeWire(bytes.subarray(0, bytes.length - 1))).toThrow(
      expect.objectContaining({ code: 'malformed' }),
    );
    expect(() => decodeWire(new Uint8Array([...bytes, 0, 0, 0, 0]))).toThrow(
      expect.objectContaining({ code: 'malformed' }),
    );
    expect(() => decodeWire(new Uint8Array([3, 0, 0, 0, 1, 2, 3]))).toThrow(
      expect.objectContaining({ code: 'malformed' }),
    );
    bad({ ...good, extra: true });
    bad({ ...good, sessionId: 'A'.repeat(42) });
    bad({ ...good, sessionId: '+'.repeat(43) });
    bad({ ...good, alive: ['sité'] });
    bad({ ...good, alive: ['a b'] });
    bad({ ...good, type: 'nope' });
    expect(() =>
      parseClientMessage({
        type: 'masked-input',
        sessionId: 'A'.repeat(43),
        site: 'site-1',
        vector: [1, 2, 3],
      }),
    ).toThrow(expect.objectContaining({ code: 'malformed' }));
  });
});
