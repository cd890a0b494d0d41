import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { CliError } from '../../core/cli/errors.js';
import { cleanupTempDirs, jpegBytes, tempDir, writeFile } from '../importers/testing/fixtures.js';
import { run as siteData } from './site-data.js';
import { run as siteImport } from './site-import.js';
import { run as siteSynth } from './site-synth.js';

afterAll(cleanupTempDirs);
afterEach(() => vi.restoreAllMocks());

/** Runs a command in-process and returns its exit code and stdout, or the CliError it threw. */
async function cli(command: (args: string[]) => Promise<number>, ...args: string[]) {
  const out: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((line: unknown) => void out.push(String(line)));
  try {
    return { code: await command(args), stdout: out.join('\n'), error: undefined };
  } catch (error) {
    return { code: (error as CliError).exitCode, stdout: out.join('\n'), error: error as CliError };
  }
}

async function expectOneLineError(
  result: Promise<Awaited<ReturnType<typeof cli>>>,
  code: number,
  pattern: RegExp,
) {
  const { error, code: exit } = await result;
  expect(error).toBeInstanceOf(CliError);
  expect(exit).toBe(code);
  expect(error!.message).toMatch(pattern);
  expect(error!.message).not.toContain('\n');
}

async function csvDataset() {
  const dir = tempDir();
  writeFile(join(dir, 'a.jpg'), await jpegBytes(801));
  writeFile(join(dir, 'b.jpg'), await jpegBytes(802));
  return writeFile(
    join(dir, 'qa.csv'),
    'img,q,a\na.jpg,Is it normal?,yes\nb.jpg,Where?,left lung\nmissing.jpg,Gone?,no\n',
  );
}

describe('cohort site import / site data', () => {
  it('imports with mapped columns, prints a summary, then counts; re-import says nothing new', async () => {
    const dataDir = join(tempDir(), 'site');
    const csv = await csvDataset();
    const args = [
      '--data-dir',
      dataDir,
      '--format',
      'csv',
      '--image-col',
      'img',
      '--question-col',
      'q',
      '--answer-col',
      'a',
    ];
    const first = await cli(siteImport, ...args, csv);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^imported 2 images and 2 questions; 1 error/);
    expect(first.stdout).toMatch(/image of line 4 \[missing\.jpg\]: image file not found/);
    const again = await cli(siteImport, ...args, '--json', csv);
    expect(JSON.parse(again.stdout)).toMatchObject({ nothingNew: true, questions: { existing: 2 } });
    const counts = await cli(siteData, '--data-dir', dataDir, '--json');
    expect(JSON.parse(counts.stdout)).toMatchObject({
      images: 2,
      questions: 2,
      questionsByAnswerType: { closed: 1, open: 1 },
    });
    expect((await cli(siteData, '--data-dir', dataDir)).stdout).toMatch(
      /^2 images, 2 questions \(2 completed imports\)/,
    );
  });

  it('bad arguments and bad input end in one line and a non-zero exit', async () => {
    const dataDir = join(tempDir(), 'site');
    const csv = await csvDataset();
    await expectOneLineError(cli(siteImport, '--format', 'csv', csv), 2, /--data-dir is required/);
    await expectOneLineError(
      cli(siteImport, '--data-dir', dataDir, '--format', 'tiff', csv),
      2,
      /--format must be one of vqa-rad, slake, csv, jsonl, dicom/,
    );
    await expectOneLineError(
      cli(siteImport, '--data-dir', dataDir, '--format', 'csv'),
      2,
      /exactly one PATH/,
    );
    await expectOneLineError(
      cli(siteImport, '--data-dir', dataDir, '--format', 'csv', '/nonexistent/x.csv'),
      2,
      /does not exist/,
    );
    await expectOneLineError(
      cli(siteImport, '--data-dir', dataDir, '--format', 'csv', '--val-fraction', '1', csv),
      2,
      /--val-fraction/,
    );
    await expectOneLineError(
      cli(siteImport, '--data-dir', dataDir, '--format', 'csv', '--seed', 'x', csv),
      2,
      /--seed must be an integer/,
    );
    await expectOneLineError(
      cli(siteImport, '--data-dir', dataDir, '--format', 'csv', '--questions', 'q.json', csv),
      2,
      /--questions does not apply to --format csv/,
    );
    await expectOneLineError(
      cli(siteImport, '--data-dir', dataDir, '--format', 'csv', '--bogus', csv),
      2,
      /Unknown option '--bogus'/,
    );
    await expectOneLineError(
      cli(siteImport, '--data-dir', dataDir, '--format', 'csv', '--image-col', 'nope', csv),
      1,
      /has no column 'nope'/,
    );
    const broken = writeFile(join(tempDir(), 'broken.csv'), 'image,question,answer\n"a.jpg,unterminated\n');
    await expectOneLineError(
      cli(siteImport, '--data-dir', dataDir, '--format', 'csv', broken),
      1,
      /^site import: the CSV file is not well-formed CSV/,
    );
    await expectOneLineError(
      cli(siteImport, '--data-dir', dataDir, '--format', 'csv', '--strict', csv),
      1,
      /strict mode: nothing was imported/,
    );
    const file = writeFile(join(tempDir(), 'file'), 'x');
    await expectOneLineError(
      cli(siteImport, '--data-dir', file, '--format', 'csv', csv),
      1,
      /is not a directory/,
    );
    await expectOneLineError(cli(siteData, '--data-dir', join(tempDir(), 'empty')), 2, /does not exist/);
  });

  it('site synth stores SynthRad-VQA records once, with their organs, modalities and splits', async () => {
    const dataDir = join(tempDir(), 'site');
    const first = await cli(
      siteSynth,
      '--data-dir',
      dataDir,
      '--preset',
      'chest-clinic',
      '--n',
      '20',
      '--seed',
      '3',
      '--json',
    );
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout);
    expect(summary).toMatchObject({ format: 'synthrad', questions: { added: 20 }, errorCount: 0 });
    expect(summary.split.train + summary.split.val).toBe(20);
    const again = await cli(
      siteSynth,
      '--data-dir',
      dataDir,
      '--preset',
      'chest-clinic',
      '--n',
      '20',
      '--seed',
      '3',
    );
    expect(again.stdout).toMatch(/^nothing new: all 5 images and 20 questions were already in the store/);
    const counts = JSON.parse((await cli(siteData, '--data-dir', dataDir, '--json')).stdout);
    expect(
      counts.byModality
        .map((m: { modality: string }) => m.modality)
        .every((m: string) => /^(X-RAY|CT|MRI)$/.test(m)),
    ).toBe(true);
    await expectOneLineError(
      cli(siteSynth, '--data-dir', dataDir, '--preset', 'nope', '--n', '5'),
      2,
      /unknown preset 'nope' \(known: general,/,
    );
    await expectOneLineError(
      cli(siteSynth, '--data-dir', dataDir, '--preset', 'general', '--n', '0'),
      2,
      /--n must be an integer from 1/,
    );
  });
});
