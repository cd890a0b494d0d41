import { describe, expect, it } from 'vitest';
import { generateSynthRad } from '../data/synthrad.js';
import { encodeExamples, encodeExamplesInSlices } from './features.js';
import { tinyConfig } from './testing.js';

describe('encodeExamplesInSlices', () => {
  const config = tinyConfig();
  const data = generateSynthRad({ preset: 'general', n: 300, seed: 11 });

  it('gives exactly what encodeExamples gives', async () => {
    const sliced = await encodeExamplesInSlices(data.records, data.images, config.answers, config);
    expect(sliced).toEqual(encodeExamples(data.records, data.images, config.answers, config));
    expect(sliced.n).toBe(300);
  });

  it('lets timers queued meanwhile run before it finishes', async () => {
    const events: string[] = [];
    const encoding = encodeExamplesInSlices(data.records, data.images, config.answers, config).then(() =>
      events.push('encoded'),
    );
    setTimeout(() => events.push('timer'), 0);
    await encoding;
    // Encoded in one piece, the 300 questions would finish first and the timer would fire after.
    expect(events).toEqual(['timer', 'encoded']);
  });

  it('refuses a record whose image is missing, as encodeExamples does', async () => {
    const images = new Map(data.images);
    images.delete(data.records[0]!.imageKey);
    await expect(encodeExamplesInSlices(data.records, images, config.answers, config)).rejects.toThrow(
      /image '.*' is missing/,
    );
  });
});
