import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataInputError } from '../../core/data/text.js';
import { runImport } from '../../src-main/importers/run-import.js';
import {
  TS,
  identifyingElements,
  imageElements,
  uint16Bytes,
  writeDicom,
} from '../../src-main/importers/testing/dicom-writer.js';
import {
  cleanupTempDirs,
  grayPixels,
  jpegBytes,
  pngBytes,
  tempDir,
  writeFile,
} from '../../src-main/importers/testing/fixtures.js';
import type { ImportRequest } from '../../src-main/importers/types.js';
import { SiteStore } from '../../src-main/store/site-store.js';
import { recordChaos } from './report.js';

// Damaged files of every importable kind, imported into one store that already holds good data: each
// import either succeeds, reports per-item errors, or fails as a whole with a user-facing error; none
// crashes, and nothing stored before is lost.

afterAll(cleanupTempDirs);

const LONG = process.env.COHORT_CHAOS_LONG === '1';
const PER_KIND = LONG ? 400 : 40;

/** A seeded generator, so a failure can be replayed. */
function random(seed: number) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/** Flips, overwrites, truncates or duplicates bytes of `bytes`. */
function mutate(bytes: Uint8Array, next: () => number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  const how = Math.floor(next() * 4);
  if (how === 0) {
    for (let i = 0; i < 1 + Math.floor(next() * 4); i++)
      copy[Math.floor(next() * copy.length)]! ^= 1 << Math.floor(next() * 8);
    return copy;
  }
  if (how === 1) {
    for (let i = 0; i < 1 + Math.floor(next() * 16); i++)
      copy[Math.floor(next() * copy.length)] = Math.floor(next() * 256);
    return copy;
  }
  if (how === 2) return copy.subarray(0, Math.floor(next() * copy.length));
  const at = Math.floor(next() * copy.length);
  const length = Math.floor(next() * 64);
  return Uint8Array.from([...copy.subarray(0, at + length), ...copy.subarray(at)]);
}

function ct16(sop: string, seed: number): Uint8Array {
  const values = Array.from(grayPixels(56, 40, seed), (v) => v * 12 - 1024);
  return writeDicom({
    transferSyntax: TS.explicitLittle,
    elements: [
      ...identifyingElements(sop),
      ...imageElements({
        rows: 40,
        columns: 56,
        bitsAllocated: 16,
        bitsStored: 12,
        signed: true,
        modality: 'CT',
      }),
    ],
    pixels: { vr: 'OW', bytes: uint16Bytes(values, true) },
  });
}

describe('import fuzzing', () => {
  it('damaged JPEG, PNG, DICOM, CSV and JSONL files: no crash, nothing lost', async () => {
    const store = new SiteStore(join(tempDir(), 'site.db'));
    const next = random(13);
    let files = 0;
    let crashes = 0;
    let importedDespiteDamage = 0;
    const crashed: string[] = [];
    const importing = async (what: string, request: ImportRequest) => {
      try {
        return await runImport(store.data, request);
      } catch (error) {
        // A whole-file refusal says why in one sentence; anything else is a crash.
        if (!(error instanceof DataInputError)) {
          crashes++;
          crashed.push(`${what}: ${(error as Error).name}: ${(error as Error).message}`);
        }
        return undefined;
      }
    };

    const good = tempDir();
    writeFile(join(good, 'good.png'), await pngBytes(1));
    const baseline = await runImport(store.data, {
      format: 'csv',
      path: writeFile(join(good, 'qa.csv'), 'image,question,answer\ngood.png,Is the heart enlarged?,yes\n'),
    });
    expect(baseline.questions.added).toBe(1);
    const before = store.data.counts();

    for (const [kind, make] of [
      ['jpg', (seed: number) => jpegBytes(seed)],
      ['png', (seed: number) => pngBytes(seed)],
    ] as const) {
      const dir = tempDir();
      const rows = ['image,question,answer'];
      for (let i = 0; i < PER_KIND; i++) {
        writeFile(join(dir, `f${i}.${kind}`), mutate(await make(1000 + i), next));
        rows.push(`f${i}.${kind},Is there a finding ${i}?,yes`);
        files++;
      }
      const summary = await importing(kind, {
        format: 'csv',
        path: writeFile(join(dir, 'qa.csv'), rows.join('\n')),
      });
      if (summary) importedDespiteDamage += summary.images.added;
    }

    const dicom = tempDir();
    for (let i = 0; i < PER_KIND; i++) {
      writeFile(join(dicom, `f${i}.dcm`), mutate(ct16(`1.2.3.${i}`, 500 + i), next));
      files++;
    }
    await importing('dicom', { format: 'dicom', path: dicom });

    const tables = tempDir();
    writeFile(join(tables, 'good.png'), await pngBytes(2));
    const csv = new TextEncoder().encode(
      'image,question,answer,answer_type\ngood.png,"Is it, really?",yes,closed\ngood.png,Where?,left,open\n',
    );
    const jsonl = new TextEncoder().encode(
      '{"image":"good.png","question":"Is it?","answer":"yes"}\n{"image":"good.png","question":"Where?","answer":"left"}\n',
    );
    for (let i = 0; i < PER_KIND; i++) {
      await importing('csv', {
        format: 'csv',
        path: writeFile(join(tables, `t${i}.csv`), mutate(csv, next)),
      });
      await importing('jsonl', {
        format: 'jsonl',
        path: writeFile(join(tables, `t${i}.jsonl`), mutate(jsonl, next)),
      });
      files += 2;
    }

    const after = store.data.counts();
    const recordsLost =
      Math.max(0, before.images - after.images) + Math.max(0, before.questions - after.questions);
    console.log(
      `fuzzed ${files} files: ${crashes} crashes, ${recordsLost} records lost; ` +
        `${importedDespiteDamage} damaged JPEG/PNG files imported without an error (damage libjpeg and libpng cannot see)`,
    );
    store.close();
    recordChaos({ filesFuzzed: files, crashes, recordsLost });
    expect(crashed).toEqual([]);
    expect(recordsLost).toBe(0);
  });
});
