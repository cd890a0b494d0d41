import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, tempDir } from './support/temp.js';
import { MOBILENET_V2_SPEC } from '../core/ml/encoder/spec.js';

// The built `cohort` entry (npm test builds first), as an operator runs it.
const cohort = join(import.meta.dirname, '..', 'bin', 'cohort.js');
const run = (...args: string[]) =>
  spawnSync(process.execPath, [cohort, ...args], { encoding: 'utf8', timeout: 120_000 });
const VQA_RAD = resolve(import.meta.dirname, '..', '..', 'shared', 'datasets', 'vqa-rad');

afterAll(cleanupTempDirs);

function expectOneLineError(result: ReturnType<typeof run>, pattern: RegExp) {
  expect(result.status, result.stderr).not.toBe(0);
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^cohort: /);
  expect(lines[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

describe('cohort site import / data (built CLI)', () => {
  it('bad input: one line on stderr, non-zero exit, no stack trace', () => {
    const site = join(tempDir(), 'site');
    expectOneLineError(
      run('site', 'import', '--data-dir', site, '--format', 'png', '.'),
      /--format must be one of/,
    );
    const csv = join(tempDir(), 'q.csv');
    writeFileSync(csv, 'image,question,answer\n"a.jpg,never closed\n');
    expectOneLineError(
      run('site', 'import', '--data-dir', site, '--format', 'csv', csv),
      /not well-formed CSV/,
    );
    const utf16 = join(tempDir(), 'q.csv');
    writeFileSync(
      utf16,
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('image,question,answer\n', 'utf16le')]),
    );
    expectOneLineError(
      run('site', 'import', '--data-dir', site, '--format', 'csv', '--json', utf16),
      /UTF-16/,
    );
    expectOneLineError(run('site', 'data', '--data-dir', join(tempDir(), 'none')), /does not exist/);
  });

  it.skipIf(!existsSync(join(VQA_RAD, 'trainset.json')))(
    'imports VQA-RAD: 3,064 questions, 315 images; again: nothing new',
    () => {
      const site = join(tempDir(), 'site');
      const first = run('site', 'import', '--data-dir', site, '--format', 'vqa-rad', VQA_RAD, '--json');
      expect(first.status, first.stderr).toBe(0);
      expect(JSON.parse(first.stdout)).toMatchObject({ images: { added: 315 }, questions: { added: 3064 } });
      const again = run('site', 'import', '--data-dir', site, '--format', 'vqa-rad', VQA_RAD);
      expect(again.stdout).toMatch(
        /^nothing new: all 315 images and 3,064 questions were already in the store/,
      );
      const counts = run('site', 'data', '--data-dir', site, '--json');
      expect(JSON.parse(counts.stdout)).toMatchObject({ images: 315, questions: 3064 });
      // The import also computed the images' encoder features, converting the encoder into the data dir.
      expect(existsSync(join(site, 'encoders', `${MOBILENET_V2_SPEC.sha256}.onnx`))).toBe(true);
    },
    // Encoding 315 images at import takes a few seconds alone, several times that on a loaded machine.
    180_000,
  );
});
