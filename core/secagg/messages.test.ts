import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  FAST_CHECKS,
  clientMessageSchema,
  serverMessageSchema,
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

/** A frame built by hand from a header's JSON text (encodeWire would never write these keys). */
function rawFrame(json: string): Uint8Array {
  const header = new TextEncoder().encode(json);
  const out = new Uint8Array(Math.ceil((4 + header.length) / 4) * 4);
  new DataView(out.buffer).setUint32(0, header.length, true);
  out.set(header, 4);
  return out;
}

describe('frame decoding builds plain objects (no prototype tricks)', () => {
  const alive = { type: 'alive', sessionId: 'A'.repeat(43), alive: ['site-1'] };

  it('a __proto__ key in a header cannot lend the message inherited fields', () => {
    // JSON.parse makes "__proto__" an own key; copied by assignment it would set the prototype, and zod's
    // strict schemas read inherited fields: this frame would then pass as a valid alive list.
    const bytes = rawFrame(`{"__proto__":${JSON.stringify(alive)}}`);
    let decoded: unknown;
    try {
      decoded = decodeWire(bytes);
    } catch (error) {
      expect(error).toMatchObject({ code: 'malformed' });
    }
    if (decoded !== undefined) expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(() => parseServerMessage(decodeWire(bytes))).toThrow(
      expect.objectContaining({ code: 'malformed' }),
    );
  });

  it('refuses __proto__, constructor and prototype keys at any depth', () => {
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const top = JSON.stringify(alive).replace('{', `{"${key}":{"alive":["site-2"]},`);
      const nested = JSON.stringify({ ...alive, alive: [] }).replace('"alive":[]', `"alive":[{"${key}":1}]`);
      const escaped = top.replace(
        `"${key}"`,
        `"\\u${key.charCodeAt(0).toString(16).padStart(4, '0')}${key.slice(1)}"`,
      );
      for (const json of [top, nested, escaped]) {
        expect(() => decodeWire(rawFrame(json))).toThrow(
          expect.objectContaining({ code: 'malformed', message: expect.stringContaining(key) }),
        );
      }
    }
  });

  it('the schemas refuse a message with inherited fields, whatever built it', () => {
    const inherited = Object.create(alive) as unknown;
    expect(() => parseServerMessage(inherited)).toThrow(expect.objectContaining({ code: 'malformed' }));
    const nested = { ...alive, alive: Object.create(['site-1']) as unknown };
    expect(() => parseServerMessage(nested)).toThrow(expect.objectContaining({ code: 'malformed' }));
  });
});

describe('fast validation = the zod schemas', () => {
  /** Small changes to a valid message: any of them may or may not be valid. */
  function mutants(message: Record<string, unknown>): unknown[] {
    const out: unknown[] = [null, [], 'x', 7, Object.assign(Object.create({ inherited: 1 }), message)];
    const values: unknown[] = [
      undefined, null, 0, -1, 1.5, NaN, 2 ** 53, '', 'A', 'A'.repeat(43), 'A'.repeat(44), '+'.repeat(43),
      'site-1', 'a b', 'sité', '-x', [], [{}], {}, new Uint32Array(2), [1, 2],
    ]; // prettier-ignore
    for (const key of Object.keys(message)) {
      const { [key]: _dropped, ...rest } = message;
      out.push(rest, { ...message, [`${key}2`]: message[key] });
      for (const value of values) out.push({ ...message, [key]: value });
      const field = message[key];
      if (Array.isArray(field) && field.length > 0) {
        out.push({ ...message, [key]: [...field, field[0]] }); // one more (duplicates are the state machines' job)
        out.push({ ...message, [key]: Array.from({ length: 300 }, () => field[0]) }); // too many for some
        const first = field[0] as unknown;
        for (const inner of typeof first === 'object' && first !== null
          ? mutants(first as Record<string, unknown>)
          : values)
          out.push({ ...message, [key]: [inner, ...field.slice(1)] });
      }
    }
    return out;
  }

  it('accepts every message of a round as zod does (its output equals the message), and never accepts more', async () => {
    const messages: [unknown, boolean][] = [];
    // A complete-graph round (no graph commitments) and a SecAgg+ one (commitments and their reveals).
    for (const neighbours of [undefined, 4]) {
      const sim = await simulateRound({
        n: 6,
        neighbours,
        params: 17,
        dropouts: { 'masked-input': [5] },
        observe: (_site, m) => messages.push([m, true]),
        intercept: (_to, m) => (messages.push([m, false]), m),
      });
      expect(sim.exact).toBe(true);
    }
    expect(new Set(messages.map(([m]) => (m as { type: string }).type)).size).toBe(11);
    let checked = 0;
    let fastRefused = 0;
    for (const [message, fromSite] of messages) {
      const union = fromSite ? clientMessageSchema : serverMessageSchema;
      const own = union.options.find(
        (schema) => schema.shape.type.value === (message as { type: string }).type,
      )!;
      for (const schema of [union, own] as z.ZodType[]) {
        const fast = FAST_CHECKS.get(schema)!;
        // What the fast check accepts is used as is, so zod's output must equal it.
        expect(fast(message)).toBe(true);
        expect(schema.parse(message)).toStrictEqual(message);
        for (const mutant of mutants(message as Record<string, unknown>)) {
          const zod = schema.safeParse(mutant);
          if (fast(mutant)) {
            expect(zod.success).toBe(true);
            expect(zod.data).toStrictEqual(mutant);
          } else fastRefused++;
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(5000);
    expect(fastRefused).toBeGreaterThan(checked / 2);
  });

  it('a refusal still comes from zod, with its message', () => {
    expect(() =>
      parseClientMessage({
        type: 'consistency',
        sessionId: 'A'.repeat(43),
        site: 'a b',
        signature: 'A'.repeat(86),
      }),
    ).toThrow(/site message at site/);
  });
});
