import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDicomImage, toEightBits } from '../../core/data/dicom.node.js';
import { SiteStore } from '../store/site-store.js';
import { runImport } from './run-import.js';
import { cleanupTempDirs, grayPixels, jpegBytes, pngBytes, tempDir, writeFile } from './testing/fixtures.js';
import {
  PATIENT_IDENTIFIERS,
  TS,
  identifyingElements,
  imageElements,
  uint16Bytes,
  writeDicom,
} from './testing/dicom-writer.js';

afterAll(cleanupTempDirs);

const ct16 = (sop: string, seed: number, ts: string = TS.explicitLittle) => {
  const rows = 40;
  const columns = 56;
  const values = Array.from(grayPixels(columns, rows, seed), (v) => v * 12 - 1024);
  return writeDicom({
    transferSyntax: ts,
    elements: [
      ...identifyingElements(sop),
      ...imageElements({
        rows,
        columns,
        bitsAllocated: 16,
        bitsStored: 12,
        signed: true,
        modality: 'CT',
        bodyPart: 'CHEST',
        window: { center: 40, width: 400 },
        rescale: { slope: 1, intercept: 0 },
      }),
    ],
    pixels: { vr: 'OW', bytes: uint16Bytes(values, true) },
  });
};

async function jpegDicom(sop: string, seed: number) {
  return writeDicom({
    transferSyntax: TS.jpegBaseline,
    elements: [
      ...identifyingElements(sop),
      ...imageElements({ rows: 48, columns: 64, bitsAllocated: 8, modality: 'CR', bodyPart: 'HEAD' }),
    ],
    frames: [await jpegBytes(seed)],
  });
}

function openStore() {
  const dir = tempDir();
  return { store: new SiteStore(join(dir, 'site.db')), dbPath: join(dir, 'site.db') };
}

describe('DICOM pixel decoding', () => {
  it('windows 16-bit data, min-max without a window, inverts MONOCHROME1', () => {
    const values = Float64Array.from([-1000, 0, 40, 240, 3000]);
    const windowed = toEightBits(values, { slope: 1, intercept: 0, window: { center: 40, width: 400 } });
    // ((x − (c − 0.5)) / (w − 1) + 0.5) · 255 inside the window, clamped outside (PS3.3 C.11.2.1.2)
    expect([...windowed]).toEqual([0, 102, 128, 255, 255]);
    expect([...toEightBits(values, { slope: 1, intercept: 0 })]).toEqual([0, 64, 66, 79, 255]); // (x − min) / (max − min) · 255
    expect([...toEightBits(Float64Array.from([0, 10]), { slope: 1, intercept: 0, invert: true })]).toEqual([
      255, 0,
    ]);
    expect([...toEightBits(Float64Array.from([7, 7]), { slope: 1, intercept: 0 })]).toEqual([0, 0]);
  });

  it('reads explicit and implicit little endian the same way and keeps only short codes', () => {
    const explicit = parseDicomImage(ct16('1.2.3.1', 1, TS.explicitLittle));
    const implicit = parseDicomImage(ct16('1.2.3.1', 1, TS.implicitLittle));
    expect(explicit.frame).toEqual(implicit.frame);
    expect(explicit.contentKey).toEqual(implicit.contentKey);
    expect(explicit).toMatchObject({ width: 56, height: 40, modality: 'CT', bodyPart: 'CHEST' });
    expect(explicit.identifyingTags).toEqual(
      expect.arrayContaining([
        'PatientName',
        'PatientID',
        'PatientBirthDate',
        'AccessionNumber',
        'SOPInstanceUID',
      ]),
    );
  });

  it('reads 8-bit RGB, interleaved or planar, to the same pixels', () => {
    const [w, h] = [3, 2];
    const interleaved = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37) % 256);
    const planar = new Uint8Array(interleaved.length);
    for (let p = 0; p < w * h; p++)
      for (let c = 0; c < 3; c++) planar[c * w * h + p] = interleaved[3 * p + c]!;
    const rgb = (bytes: Uint8Array, planarConfiguration: number) =>
      parseDicomImage(
        writeDicom({
          transferSyntax: TS.explicitLittle,
          elements: [
            ...imageElements({
              rows: h,
              columns: w,
              bitsAllocated: 8,
              samples: 3,
              photometric: 'RGB',
            }).filter((e) => e.tag !== 0x00280006),
            { tag: 0x00280006, vr: 'US', value: planarConfiguration },
          ],
          pixels: { vr: 'OB', bytes },
        }),
      ).frame;
    expect(rgb(interleaved, 0)).toEqual({
      kind: 'raw',
      raw: { width: w, height: h, channels: 3, pixels: interleaved },
    });
    expect(rgb(planar, 1)).toEqual(rgb(interleaved, 0));
  });

  it('names unsupported transfer syntaxes and refuses broken files', async () => {
    const jpeg2000 = writeDicom({
      transferSyntax: TS.jpeg2000,
      elements: imageElements({ rows: 4, columns: 4, bitsAllocated: 8 }),
      frames: [new Uint8Array([0, 0, 0, 12])],
    });
    expect(() => parseDicomImage(jpeg2000)).toThrow(
      /unsupported transfer syntax JPEG 2000 \(1\.2\.840\.10008\.1\.2\.4\.91\)/,
    );
    const bigEndian = writeDicom({ transferSyntax: TS.explicitBig, elements: [] });
    expect(() => parseDicomImage(bigEndian)).toThrow(/Explicit VR Big Endian/);
    const full = ct16('1.2.3.2', 2);
    expect(() => parseDicomImage(full.subarray(0, full.length - 1000))).toThrow(/truncated/);
    const png = await pngBytes(1);
    expect(() => parseDicomImage(png)).toThrow(/not a DICOM Part 10 file/);
    const zero = writeDicom({
      transferSyntax: TS.explicitLittle,
      elements: imageElements({ rows: 0, columns: 0, bitsAllocated: 8 }),
      pixels: { vr: 'OB', bytes: new Uint8Array(0) },
    });
    expect(() => parseDicomImage(zero)).toThrow(/no pixels \(0×0\)/);
    const burned = writeDicom({
      transferSyntax: TS.explicitLittle,
      elements: [
        ...imageElements({ rows: 2, columns: 2, bitsAllocated: 8 }),
        { tag: 0x00280301, vr: 'CS', value: 'YES' },
      ],
      pixels: { vr: 'OB', bytes: new Uint8Array(4) },
    });
    expect(() => parseDicomImage(burned)).toThrow(/BurnedInAnnotation/);
  });
});

describe('DICOM import', () => {
  it('stores no patient-identifier value, file name or UID anywhere in the database file or its WAL', async () => {
    const dir = tempDir();
    const folder = join(dir, 'ZEBRAFINCH_QUENTIN_export');
    writeFile(join(folder, 'ZEBRAFINCH_QUENTIN_001.dcm'), ct16('1.2.826.0.1.3680043.8.498.9990001', 11));
    writeFile(
      join(folder, 'sub', 'ZEBRAFINCH_QUENTIN_002.dcm'),
      ct16('1.2.826.0.1.3680043.8.498.9990002', 12, TS.implicitLittle),
    );
    writeFile(
      join(folder, 'ZEBRAFINCH_QUENTIN_003.dcm'),
      await jpegDicom('1.2.826.0.1.3680043.8.498.9990003', 13),
    );
    const table = writeFile(
      join(dir, 'questions.csv'),
      [
        'image,question,answer,answer_type',
        '1.2.826.0.1.3680043.8.498.9990001,Is there a MARKERQUESTIONALPHA?,yes,closed',
        'ZEBRAFINCH_QUENTIN_002.dcm,Which organ is shown?,chest,open',
        'sub/ZEBRAFINCH_QUENTIN_002.dcm,Is this a CT?,yes,closed',
        '1.2.826.0.1.3680043.8.498.9990003,Is the skull intact?,no,closed',
        '1.2.826.0.1.3680043.8.498.0000000,Unmatched?,no,closed',
      ].join('\n'),
    );
    const { store, dbPath } = openStore();
    const summary = await runImport(store.data, {
      format: 'dicom',
      path: folder,
      options: { questionsTable: table },
    });
    expect(summary.images.added).toBe(3);
    expect(summary.questions.added).toBe(4);
    expect(summary.errors).toEqual([
      { item: 'line 6', message: expect.stringMatching(/matches no DICOM file/) },
    ]);
    // The summary lists the identifying attributes it dropped, with how many files had each.
    const dropped = Object.fromEntries(summary.droppedTags!.map((t) => [t.name, t.files]));
    expect(dropped).toMatchObject({
      PatientName: 3,
      PatientID: 3,
      PatientBirthDate: 3,
      AccessionNumber: 3,
      InstitutionName: 3,
      ReferringPhysicianName: 3,
      StudyDate: 3,
      SOPInstanceUID: 3,
    });
    expect(summary.droppedTags!.find((t) => t.name === 'PatientName')!.tag).toBe('(0010,0010)');
    expect(summary.source).not.toMatch(/ZEBRAFINCH/);
    expect(
      store.data
        .counts()
        .byModality.map((m) => m.modality)
        .sort(),
    ).toEqual(['CR', 'CT']);

    const forbidden = [
      ...Object.values(PATIENT_IDENTIFIERS),
      'ZEBRAFINCH',
      '9990001',
      '9990002',
      '9990003',
      '1.2.826.0.1.3680043.8.498',
    ];
    const checkBytes = (bytes: Buffer, where: string) => {
      for (const value of forbidden) {
        expect(bytes.includes(Buffer.from(value, 'utf8')), `${value} found in ${where}`).toBe(false);
        expect(bytes.includes(Buffer.from(value, 'utf16le')), `${value} (UTF-16) found in ${where}`).toBe(
          false,
        );
      }
    };
    // While open, the import's pages sit in the WAL; after close they are checkpointed into the file.
    const wal = `${dbPath}-wal`;
    expect(existsSync(wal)).toBe(true);
    const walBytes = readFileSync(wal);
    // The search can fail: the question text that was imported is there.
    expect(Buffer.concat([readFileSync(dbPath), walBytes]).includes(Buffer.from('MARKERQUESTIONALPHA'))).toBe(
      true,
    );
    checkBytes(walBytes, 'the WAL');
    checkBytes(readFileSync(dbPath), 'the database file');
    store.close();
    const closed = readFileSync(dbPath);
    expect(closed.includes(Buffer.from('MARKERQUESTIONALPHA'))).toBe(true);
    checkBytes(closed, 'the database file after close');
  });

  it('reports each bad DICOM file by its number, keeps its path out of the store, imports the rest', async () => {
    const dir = tempDir();
    const full = ct16('1.2.3.10', 21);
    writeFile(join(dir, 'a_good.dcm'), ct16('1.2.3.11', 22));
    writeFile(join(dir, 'b_truncated.dcm'), full.subarray(0, full.length - 500));
    writeFile(join(dir, 'c_png_named.dcm'), await pngBytes(3));
    writeFile(
      join(dir, 'd_rle.dcm'),
      writeDicom({
        transferSyntax: TS.rle,
        elements: imageElements({ rows: 4, columns: 4, bitsAllocated: 8 }),
        frames: [new Uint8Array(16)],
      }),
    );
    writeFile(join(dir, 'e_empty.dcm'), new Uint8Array(0));
    writeFile(join(dir, 'README.txt'), 'not an image');
    writeFile(join(dir, 'DICOMDIR'), 'index');
    const { store } = openStore();
    const summary = await runImport(store.data, { format: 'dicom', path: dir });
    expect(summary.images.added).toBe(1);
    expect(summary.images.failed).toBe(4);
    expect(summary.skipped).toEqual({ 'files that are not DICOM': 1 });
    const byPath = Object.fromEntries(summary.errors.map((e) => [e.path, e]));
    expect(byPath['b_truncated.dcm']!.message).toMatch(/truncated/);
    expect(byPath['c_png_named.dcm']!.message).toMatch(/not what its extension says.*PNG/);
    expect(byPath['d_rle.dcm']!.message).toMatch(/unsupported transfer syntax RLE Lossless/);
    expect(byPath['e_empty.dcm']!.message).toMatch(/empty/);
    // Files are numbered in sorted path order (README.txt is file 1, a_good.dcm file 2).
    expect(summary.errors.map((e) => e.item)).toEqual(['file 3', 'file 4', 'file 5', 'file 6']);
    const stored = store.data.imports()[0]!.errors;
    expect(stored).toHaveLength(4);
    for (const e of stored) expect(e).not.toHaveProperty('path');
    expect(JSON.stringify(stored)).not.toMatch(/truncated\.dcm|png_named|\.dcm/);
    store.close();
  });

  it('deduplicates by pixel content: re-exported files with other headers add nothing', async () => {
    const dir = tempDir();
    writeFile(join(dir, 'one.dcm'), ct16('1.2.3.20', 31));
    const { store } = openStore();
    expect((await runImport(store.data, { format: 'dicom', path: dir })).images.added).toBe(1);
    const again = tempDir();
    writeFile(join(again, 'renamed.dcm'), ct16('1.2.3.99', 31, TS.implicitLittle));
    const second = await runImport(store.data, { format: 'dicom', path: again });
    expect(second).toMatchObject({ nothingNew: true, images: { added: 0, existing: 1 } });
    store.close();
  });

  it('decodes a MONOCHROME1 8-bit image inverted and letterboxed with black bars', async () => {
    const dir = tempDir();
    writeFile(
      join(dir, 'm1.dcm'),
      writeDicom({
        transferSyntax: TS.explicitLittle,
        elements: imageElements({ rows: 32, columns: 64, bitsAllocated: 8, photometric: 'MONOCHROME1' }),
        pixels: { vr: 'OB', bytes: new Uint8Array(32 * 64).fill(0) },
      }),
    );
    const { store } = openStore();
    await runImport(store.data, { format: 'dicom', path: dir });
    const pixels = store.data.imagePixels(1)!;
    expect(pixels.width).toBe(128);
    expect(pixels.pixels[64 * 128 + 64]).toBe(255); // the image: stored 0 under MONOCHROME1 is white
    expect(pixels.pixels[5 * 128 + 64]).toBe(0); // the letterbox bar above it stays black
    store.close();
  });
});
