import { describe, expect, it } from 'vitest';
import { JsonLines } from './ndjson.dom.js';

describe('JsonLines', () => {
  it('yields each object once, across any chunk boundaries', () => {
    const text =
      '{"type":"round-started","round":1}\n{"type":"round-stage","stage":"join"}\n\n{"type":"rounds-done"}\n';
    for (let size = 1; size <= text.length; size++) {
      const lines = new JsonLines<{ type: string }>();
      const seen: string[] = [];
      for (let i = 0; i < text.length; i += size)
        seen.push(...lines.push(text.slice(i, i + size)).map((e) => e.type));
      seen.push(...lines.end().map((e) => e.type));
      expect(seen, `chunks of ${size}`).toEqual(['round-started', 'round-stage', 'rounds-done']);
    }
  });

  it('keeps a last line without a newline for the end, and rejects a broken line', () => {
    const lines = new JsonLines();
    expect(lines.push('{"a":1}\n{"b"')).toEqual([{ a: 1 }]);
    expect(lines.push(':2}')).toEqual([]);
    expect(lines.end()).toEqual([{ b: 2 }]);
    expect(() => new JsonLines().push('{"broken"\n')).toThrow();
  });
});
