import { describe, expect, it } from 'vitest';
import { generateSynthRad, SYNTHRAD_ANSWERS, SYNTHRAD_PRESETS } from './synthrad.js';
import { STORED_IMAGE_SIZE, normalizeAnswer } from './types.js';

describe('SynthRad-VQA', () => {
  it('is deterministic from the seed and changes with it', () => {
    const a = generateSynthRad({ preset: 'general', n: 60, seed: 1 });
    const b = generateSynthRad({ preset: 'general', n: 60, seed: 1 });
    const c = generateSynthRad({ preset: 'general', n: 60, seed: 2 });
    expect(a.records).toEqual(b.records);
    expect([...a.images.values()].map((i) => i.pixels)).toEqual([...b.images.values()].map((i) => i.pixels));
    expect(c.records.map((r) => r.question)).not.toEqual(a.records.map((r) => r.question));
  });

  it('produces n records on stored-size images, answers from the public answer set, split by image', () => {
    const d = generateSynthRad({ preset: 'pretrain', n: 403, seed: 3 });
    expect(d.records).toHaveLength(403);
    const answers = new Set(SYNTHRAD_ANSWERS.map(normalizeAnswer));
    for (const r of d.records) {
      expect(answers.has(normalizeAnswer(r.answer)), r.answer).toBe(true);
      expect(d.images.has(r.imageKey)).toBe(true);
    }
    for (const img of d.images.values()) {
      expect(img.width).toBe(STORED_IMAGE_SIZE);
      expect(img.pixels.length).toBe(STORED_IMAGE_SIZE ** 2);
    }
    const splitOf = new Map<string, string>();
    for (const r of d.records) {
      expect(splitOf.get(r.imageKey) ?? r.split).toBe(r.split);
      splitOf.set(r.imageKey, r.split);
    }
    expect(new Set(splitOf.values())).toEqual(new Set(['train', 'val']));
    const closed = d.records.filter((r) => r.answerType === 'closed');
    const yes = closed.filter((r) => r.answer === 'yes').length;
    expect(yes / closed.length).toBeGreaterThan(0.35);
    expect(yes / closed.length).toBeLessThan(0.65);
  });

  it('presets model different hospitals (organ mix, question mix, image quality)', () => {
    const organShare = (preset: string, organ: string) => {
      const d = generateSynthRad({ preset, n: 400, seed: 5 });
      return d.records.filter((r) => r.organ === organ).length / d.records.length;
    };
    expect(organShare('chest-clinic', 'CHEST')).toBeGreaterThan(0.6);
    expect(organShare('neuro-center', 'HEAD')).toBeGreaterThan(0.6);
    expect(organShare('abdominal-imaging', 'ABDOMEN')).toBeGreaterThan(0.6);
    const noisy = generateSynthRad({ preset: 'general', n: 40, seed: 5, noise: 0.2, blur: 0 });
    const clean = generateSynthRad({ preset: 'general', n: 40, seed: 5, noise: 0, blur: 0 });
    const roughness = (d: typeof noisy) => {
      let s = 0;
      for (const img of d.images.values())
        for (let i = 1; i < img.pixels.length; i++) s += Math.abs(img.pixels[i]! - img.pixels[i - 1]!);
      return s;
    };
    expect(roughness(noisy)).toBeGreaterThan(2 * roughness(clean));
    expect(Object.keys(SYNTHRAD_PRESETS).length).toBeGreaterThanOrEqual(5);
    expect(() => generateSynthRad({ preset: 'nope', n: 1, seed: 1 })).toThrow(/unknown SynthRad preset/);
  });

  it('asks about findings that are drawn: positive images differ from normal ones where the finding is', () => {
    const d = generateSynthRad({ preset: 'general', n: 2000, seed: 8, closedShare: 0 });
    const where = d.records.filter((r) => /^where is/.test(r.question));
    expect(where.length).toBeGreaterThan(10);
    const abnormal = d.records.filter((r) => r.question === 'what is the abnormality?');
    expect(new Set(abnormal.map((r) => r.answer)).size).toBeGreaterThan(3);
  });
});

describe('SynthRad presets', () => {
  it("refuses names that are Object's own members, not only unknown ones", () => {
    for (const preset of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'no-such-preset'])
      expect(() => generateSynthRad({ preset, n: 1, seed: 1 }), preset).toThrow(
        new RegExp(`^unknown SynthRad preset '${preset}' \\(known: general, `),
      );
    expect(Object.keys(SYNTHRAD_PRESETS)).toContain('general');
  });
});
