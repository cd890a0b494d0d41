import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SiteStore } from '../store/site-store.js';
import { runImport } from './run-import.js';
import {
  cleanupTempDirs,
  jpegBytes,
  pngBytes,
  pngHeaderOnly,
  tempDir,
  writeFile,
} from './testing/fixtures.js';
import type { ImportRequest } from './types.js';

afterAll(cleanupTempDirs);

interface Row {
  qid: number | string;
  image_name: string;
  question: string;
  answer: string;
  answer_type?: string;
  image_organ?: string;
}
const row = (qid: number, image: string, extra: Partial<Row> = {}): Row => ({
  qid,
  image_name: image,
  question: `Question ${qid}?`,
  answer: qid % 2 ? 'yes' : 'left lung',
  answer_type: qid % 2 ? 'CLOSED' : 'OPEN',
  image_organ: 'CHEST',
  ...extra,
});

/** A VQA-RAD-layout folder with `good` valid JPEGs (good0.jpg …) plus whatever `files` adds. */
async function vqaRadFolder(rows: Row[], files: Record<string, string | Uint8Array> = {}, good = 2) {
  const dir = tempDir();
  for (let i = 0; i < good; i++) writeFile(join(dir, 'images', `good${i}.jpg`), await jpegBytes(100 + i));
  for (const [name, content] of Object.entries(files)) writeFile(join(dir, name), content);
  if (!('trainset.json' in files)) writeFile(join(dir, 'trainset.json'), JSON.stringify(rows));
  return dir;
}

function store() {
  return new SiteStore(join(tempDir(), 'site.db'));
}

/** Table sizes: what "nothing half-stored" is checked against. */
function sizes(s: SiteStore) {
  const n = (table: string) => (s.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  return { images: n('images'), questions: n('questions'), errors: n('import_errors') };
}

async function expectWholeFailure(s: SiteStore, request: ImportRequest, message: RegExp) {
  const before = sizes(s);
  await expect(runImport(s.data, request)).rejects.toThrow(message);
  expect(sizes(s)).toEqual(before);
  const [last] = s.data.imports();
  expect(last).toMatchObject({ status: 'failed', failure: expect.stringMatching(message) });
}

describe('per-item errors: the bad item is reported and left out, the rest is imported', () => {
  it('missing, truncated, corrupt, mislabelled, empty and absurd images', async () => {
    const jpeg = await jpegBytes(7, 200, 150);
    const corrupt = new Uint8Array(jpeg);
    for (let i = 400; i < 700; i++) corrupt[i] = corrupt[i]! ^ 0x5a;
    const png = await pngBytes(9, 200, 150);
    const files = {
      'images/truncated.jpg': jpeg.subarray(0, Math.floor(jpeg.length * 0.6)),
      'images/truncated.png': png.subarray(0, Math.floor(png.length * 0.6)),
      'images/corrupt.jpg': corrupt,
      'images/png-named.jpg': await pngBytes(8),
      'images/text-named.jpg': 'this is not an image at all',
      'images/empty.jpg': new Uint8Array(0),
      'images/zero.png': pngHeaderOnly(0, 0),
      'images/huge.png': pngHeaderOnly(100_000, 100_000),
    };
    const names = [...Object.keys(files).map((f) => f.slice('images/'.length)), 'missing.jpg'];
    const rows = [row(1, 'good0.jpg'), row(2, 'good1.jpg'), ...names.map((name, i) => row(10 + i, name))];
    const s = store();
    const summary = await runImport(s.data, { format: 'vqa-rad', path: await vqaRadFolder(rows, files) });
    expect(summary.images).toEqual({ added: 2, existing: 0, failed: 9 });
    expect(summary.questions).toEqual({ added: 2, existing: 0, failed: 9, skipped: 0 });
    const messages = Object.fromEntries(summary.errors.map((e) => [e.item, e.message]));
    // libvips' reason text can come from another image decoded at the same time; the verdict cannot.
    expect(messages['image truncated.jpg']).toMatch(/image data is corrupt or truncated/);
    expect(messages['image truncated.png']).toMatch(/image data is corrupt or truncated/);
    expect(messages['image corrupt.jpg']).toMatch(/corrupt or truncated/);
    expect(messages['image png-named.jpg']).toMatch(
      /not what its extension says: named as a JPEG, but its content is a PNG/,
    );
    expect(messages['image text-named.jpg']).toMatch(/not what its extension says/);
    expect(messages['image empty.jpg']).toMatch(/file is empty/);
    expect(messages['image zero.png']).toMatch(/image has no pixels \(0×0\)/);
    expect(messages['image huge.png']).toMatch(/100000×100000, larger than the 16384-pixel limit/);
    expect(messages['image missing.jpg']).toBe('image file not found (1 question not imported)');
    // Nothing of a bad item is stored: only the two good images and their questions.
    expect(sizes(s)).toEqual({ images: 2, questions: 2, errors: 9 });
    expect(s.data.imports()[0]!.errors).toHaveLength(9);
    s.close();
  });

  it('duplicate question ids, empty question or answer, bad answer type, non-object rows', async () => {
    const rows = [
      row(1, 'good0.jpg'),
      row(1, 'good1.jpg'),
      row(2, 'good1.jpg', { question: '   ' }),
      row(3, 'good1.jpg', { answer: '' }),
      row(4, 'good1.jpg', { answer_type: 'MAYBE' }),
      'not a row' as unknown as Row,
      row(5, 'good1.jpg'),
    ];
    const s = store();
    const summary = await runImport(s.data, { format: 'vqa-rad', path: await vqaRadFolder(rows) });
    expect(summary.errors).toEqual([
      { item: 'qid 1', message: 'duplicate question id' },
      { item: 'qid 2', message: 'empty question' },
      { item: 'qid 3', message: 'empty answer' },
      { item: 'qid 4', message: "answer_type must be CLOSED or OPEN (got 'MAYBE')" },
      { item: 'row 5', message: expect.stringMatching(/expected object/) },
    ]);
    expect(summary.questions).toMatchObject({ added: 2, failed: 5 });
    s.close();
  });

  it('path traversal, absolute paths and symbolic links out of the dataset are refused', async () => {
    const outside = tempDir();
    writeFile(join(outside, 'secret.jpg'), await jpegBytes(9));
    const dir = await vqaRadFolder([]);
    symlinkSync(join(outside, 'secret.jpg'), join(dir, 'images', 'link.jpg'));
    const rows = [
      row(1, 'good0.jpg'),
      row(2, '../../secret.jpg'),
      row(3, '..\\secret.jpg'),
      row(4, join(outside, 'secret.jpg')),
      row(5, 'link.jpg'),
    ];
    writeFile(join(dir, 'trainset.json'), JSON.stringify(rows));
    const s = store();
    const summary = await runImport(s.data, { format: 'vqa-rad', path: dir, options: { organs: ['CHEST'] } });
    const messages = summary.errors.map((e) => e.message);
    expect(messages).toEqual([
      expect.stringMatching(/path traversal/),
      expect.stringMatching(/path traversal/),
      expect.stringMatching(/absolute paths are not allowed/),
      expect.stringMatching(/symbolic link points outside/),
    ]);
    expect(sizes(s)).toMatchObject({ images: 1, questions: 1 });
    s.close();
  });

  it('--strict turns any per-item error into a whole-import failure', async () => {
    const s = store();
    const dir = await vqaRadFolder([row(1, 'good0.jpg'), row(2, 'missing.jpg')]);
    await expectWholeFailure(
      s,
      { format: 'vqa-rad', path: dir, options: { strict: true } },
      /strict mode: nothing was imported/,
    );
    s.close();
  });
});

describe('whole-import errors: nothing is stored, the history says why', () => {
  it('malformed JSON, wrong encodings, wrong shapes, missing parts', async () => {
    const s = store();
    const vqa = (files: Record<string, string | Uint8Array>) => vqaRadFolder([], files);
    await expectWholeFailure(
      s,
      { format: 'vqa-rad', path: await vqa({ 'trainset.json': '[{"qid": 1, "image_name": ' }) },
      /trainset.json is not valid JSON/,
    );
    const latin1 = Buffer.from(
      JSON.stringify([row(1, 'good0.jpg', { question: 'Is there an œdème?' })]),
      'latin1',
    );
    await expectWholeFailure(
      s,
      { format: 'vqa-rad', path: await vqa({ 'trainset.json': latin1 }) },
      /trainset.json is not valid UTF-8 \(first invalid byte 0x.. at offset \d+\)/,
    );
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('[]', 'utf16le')]);
    await expectWholeFailure(
      s,
      { format: 'vqa-rad', path: await vqa({ 'trainset.json': utf16 }) },
      /is UTF-16 text/,
    );
    await expectWholeFailure(
      s,
      { format: 'vqa-rad', path: await vqa({ 'trainset.json': '{"questions": []}' }) },
      /expected a JSON array/,
    );
    await expectWholeFailure(s, { format: 'vqa-rad', path: tempDir() }, /trainset.json not found/);
    const noImages = tempDir();
    writeFile(join(noImages, 'trainset.json'), '[]');
    await expectWholeFailure(s, { format: 'vqa-rad', path: noImages }, /no images\/ folder/);
    // A valid import afterwards works: failures left nothing behind that gets in the way.
    const ok = await runImport(s.data, {
      format: 'vqa-rad',
      path: await vqaRadFolder([row(1, 'good0.jpg')]),
    });
    expect(ok.questions.added).toBe(1);
    expect(s.data.imports().map((i) => i.status)).toEqual([
      'completed',
      'failed',
      'failed',
      'failed',
      'failed',
      'failed',
      'failed',
    ]);
    s.close();
  });

  it('rejects requests that do not fit the schema before touching any file', async () => {
    const s = store();
    await expect(runImport(s.data, { format: 'tiff', path: '/x' })).rejects.toThrow(
      /invalid import request: format/,
    );
    await expect(runImport(s.data, { format: 'csv', path: '/x', options: { seed: -1 } })).rejects.toThrow(
      /options.seed/,
    );
    s.close();
  });
});

describe('CSV and JSONL', () => {
  it('parses quoted fields with commas, quotes and newlines, maps named columns, infers answer types', async () => {
    const dir = tempDir();
    writeFile(join(dir, 'imgs', 'a.png'), await pngBytes(31));
    writeFile(join(dir, 'imgs', 'b.jpg'), await jpegBytes(32));
    const csv = writeFile(
      join(dir, 'qa.csv'),
      '\uFEFFFile,Q,A,Part\r\n' +
        'imgs/a.png,"Is there a mass, left or right?",left,CHEST\r\n' +
        'imgs/a.png,"Describe the ""opacity""\nin two lines",ground glass,CHEST\r\n' +
        'imgs/b.jpg,Is it normal?,Yes,ABD\r\n' +
        'imgs/b.jpg,Is it normal?,Yes,ABD\r\n',
    );
    const s = store();
    const summary = await runImport(s.data, {
      format: 'csv',
      path: csv,
      options: { columns: { image: 'File', question: 'Q', answer: 'A', organ: 'Part' } },
    });
    expect(summary.errorCount).toBe(0);
    expect(summary.questions.added).toBe(4);
    expect(summary.notes).toContain(
      'no answer-type column: yes/no answers were taken as closed, all others as open',
    );
    const rows = s.data.listRecords({ limit: 10 }).rows;
    expect(rows.map((r) => [r.question, r.answerType, r.organ])).toEqual([
      ['Is there a mass, left or right?', 'open', 'CHEST'],
      ['Describe the "opacity"\nin two lines', 'open', 'CHEST'],
      ['Is it normal?', 'closed', 'ABD'],
      ['Is it normal?', 'closed', 'ABD'],
    ]);
    // Hospital file names are not stored.
    expect(s.data.listImages().rows.map((r) => r.sourceName)).toEqual([null, null]);
    // Identical duplicate rows are both kept, and a re-import still adds nothing.
    const again = await runImport(s.data, {
      format: 'csv',
      path: csv,
      options: { columns: { image: 'File', question: 'Q', answer: 'A', organ: 'Part' } },
    });
    expect(again).toMatchObject({ nothingNew: true, questions: { existing: 4 } });
    s.close();
  });

  it('per-row errors for bad rows; whole-file errors for malformed CSV and unknown columns', async () => {
    const dir = tempDir();
    writeFile(join(dir, 'a.jpg'), await jpegBytes(41));
    const csv = writeFile(
      join(dir, 'qa.csv'),
      [
        'image,question,answer,answer_type,split',
        'a.jpg,Ok?,yes,closed,train',
        'a.jpg,Too many,fields,open,train,extra',
        'a.jpg,,no,closed,train',
        'a.jpg,What?,,open,train',
        'a.jpg,Kind?,big,sideways,train',
        'a.jpg,Where?,left,open,test',
        '../a.jpg,Outside?,yes,closed,train',
        'missing.jpg,Missing?,yes,closed,train',
      ].join('\n'),
    );
    const s = store();
    const summary = await runImport(s.data, { format: 'csv', path: csv });
    expect(summary.errors.map((e) => [e.item, e.message])).toEqual([
      ['line 3', 'has 6 fields, the header has 5'],
      ['line 4', 'empty question'],
      ['line 5', 'empty answer'],
      ['line 6', "answer type must be closed or open (got 'sideways')"],
      ['line 7', "split must be train or val (got 'test')"],
      ['image of line 8', expect.stringMatching(/path traversal/)],
      ['image of line 9', 'image file not found (1 question not imported)'],
    ]);
    expect(summary.errors.at(-1)!.path).toBe('missing.jpg');
    expect(JSON.stringify(s.data.imports()[0]!.errors)).not.toMatch(/missing\.jpg/);
    expect(summary.questions.added).toBe(1);
    await expectWholeFailure(
      s,
      {
        format: 'csv',
        path: writeFile(join(dir, 'open-quote.csv'), 'image,question,answer\na.jpg,"never closed,yes\n'),
      },
      /not well-formed CSV.*Quote Not Closed/i,
    );
    await expectWholeFailure(
      s,
      { format: 'csv', path: csv, options: { columns: { question: 'Frage' } } },
      /has no column 'Frage' \(columns: image, question, answer, answer_type, split\)/,
    );
    await expectWholeFailure(
      s,
      { format: 'csv', path: writeFile(join(dir, 'nocol.csv'), 'picture,question,answer\na.jpg,q,a\n') },
      /has no image column .*--image-col/,
    );
    await expectWholeFailure(s, { format: 'csv', path: writeFile(join(dir, 'empty.csv'), '') }, /is empty/);
    await expectWholeFailure(s, { format: 'csv', path: join(dir, 'gone.csv') }, /the CSV file not found/);
    // A hospital table's path and folder are in no history entry, completed or failed.
    expect(s.data.imports().map((i) => i.source)).toContain('CSV file (path not stored)');
    expect(JSON.stringify(s.data.imports())).not.toContain(dir);
    await expectWholeFailure(
      s,
      { format: 'csv', path: writeFile(join(dir, 'binary.csv'), new Uint8Array([0x69, 0x00, 0x01, 0x02])) },
      /NUL bytes/,
    );
    s.close();
  });

  it('JSONL: a bad line is a per-item error; a JSON array is refused as a whole', async () => {
    const dir = tempDir();
    writeFile(join(dir, 'a.jpg'), await jpegBytes(51));
    const jsonl = writeFile(
      join(dir, 'qa.jsonl'),
      [
        JSON.stringify({ image: 'a.jpg', question: 'One?', answer: 'yes', id: 'q1' }),
        '{"image": "a.jpg", "question": "Two?", ',
        JSON.stringify({ image: 'a.jpg', question: 'Three?', answer: 3, id: 'q3' }),
        JSON.stringify({ image: 'a.jpg', question: { nested: true }, answer: 'x' }),
        JSON.stringify({ image: 'a.jpg', question: 'Dup?', answer: 'no', id: 'q1' }),
        '',
      ].join('\n'),
    );
    const s = store();
    const summary = await runImport(s.data, { format: 'jsonl', path: jsonl });
    expect(summary.errors.map((e) => e.item)).toEqual(['line 2', 'line 4', 'line 5']);
    expect(summary.errors[0]!.message).toMatch(/not valid JSON/);
    expect(summary.errors[2]!.message).toBe("duplicate question id 'q1'");
    expect(s.data.listRecords().rows.map((r) => r.answer)).toEqual(['yes', '3']);
    await expectWholeFailure(
      s,
      { format: 'jsonl', path: writeFile(join(dir, 'array.jsonl'), '[{"image": "a.jpg"}]') },
      /is a JSON array, not JSON Lines/,
    );
    s.close();
  });

  it('a split column decides the split of new images; rows of one image must agree', async () => {
    const dir = tempDir();
    for (const [i, name] of ['a', 'b', 'c'].entries())
      writeFile(join(dir, `${name}.jpg`), await jpegBytes(60 + i));
    const csv = writeFile(
      join(dir, 'qa.csv'),
      [
        'image,question,answer,split',
        'a.jpg,A1?,yes,val',
        'a.jpg,A2?,no,validation',
        'b.jpg,B1?,yes,train',
        'c.jpg,C1?,yes,train',
        'c.jpg,C2?,yes,val',
      ].join('\n'),
    );
    const s = store();
    const summary = await runImport(s.data, { format: 'csv', path: csv });
    expect(summary.split).toMatchObject({ train: 1, val: 2 });
    expect(summary.errors.map((e) => e.item)).toEqual(['line 5', 'line 6']);
    expect(s.data.listRecords({ split: 'val' }).rows.map((r) => r.question)).toEqual(['A1?', 'A2?']);
    s.close();
  });
});

describe('input gaps (issue 13)', () => {
  it('a question over the length cap is a per-item error, not a stored megabyte', async () => {
    const dir = tempDir();
    writeFile(join(dir, 'a.jpg'), await jpegBytes(43));
    const long = 'Is there '.repeat(111_112).slice(0, 1_000_000);
    const csv = writeFile(join(dir, 'qa.csv'), `image,question,answer\na.jpg,Ok?,yes\na.jpg,${long},yes\n`);
    const s = store();
    const summary = await runImport(s.data, { format: 'csv', path: csv });
    expect(summary.errors).toEqual([
      { item: 'line 3', message: 'question is 1000000 characters long, over the 2000-character limit' },
    ]);
    expect(summary.questions).toMatchObject({ added: 1, failed: 1 });
    const vqa = await runImport(s.data, {
      format: 'vqa-rad',
      path: await vqaRadFolder([row(1, 'good0.jpg'), row(2, 'good1.jpg', { question: long })]),
    });
    expect(vqa.errors).toEqual([
      { item: 'qid 2', message: 'question is 1000000 characters long, over the 2000-character limit' },
    ]);
    s.close();
  });

  it('an unclosed quote is reported on the line where it opened, never past the end of the file', async () => {
    const dir = tempDir();
    // Three lines (CRLF): csv-parse itself says "at line 4" here.
    const text = 'image,question,answer\r\na.jpg,"Ok?",yes\r\nb.jpg,"never closed,yes\r\n';
    const s = store();
    await expectWholeFailure(
      s,
      { format: 'csv', path: writeFile(join(dir, 'open.csv'), text) },
      /^the CSV file is not well-formed CSV \(Quote Not Closed: the quoted field opened on line 3 is never closed\)$/,
    );
    s.close();
  });

  it('a DICOM import of something that is neither a file nor a folder says so', async () => {
    const s = store();
    await expectWholeFailure(
      s,
      { format: 'dicom', path: '/dev/null' },
      /^(\/dev\/null|<path>) is neither a file nor a folder$/,
    );
    s.close();
  });
});

describe('SLAKE', () => {
  it('keeps English questions, counts the others as skipped, resolves img_name inside imgs/', async () => {
    const dir = tempDir();
    writeFile(join(dir, 'imgs', 'xmlab1', 'source.jpg'), await jpegBytes(71));
    writeFile(join(dir, 'imgs', 'xmlab2', 'source.jpg'), await jpegBytes(72));
    const q = (qid: number, img: string, lang: string, extra = {}) => ({
      img_id: 1,
      img_name: img,
      question: `Q${qid}?`,
      answer: 'Yes',
      q_lang: lang,
      location: 'Lung',
      modality: 'X-Ray',
      answer_type: 'CLOSED',
      qid,
      ...extra,
    });
    writeFile(
      join(dir, 'train.json'),
      JSON.stringify([
        q(1, 'xmlab1/source.jpg', 'en'),
        q(2, 'xmlab1/source.jpg', 'zh'),
        q(3, 'xmlab2/source.jpg', 'en', { answer_type: 'OPEN', answer: 'Left Lung' }),
        q(4, 'xmlab2/source.jpg', 'zh'),
        q(5, 'xmlab2/source.jpg', 'zh'),
        q(6, '../../etc/passwd', 'en'),
      ]),
    );
    const s = store();
    const summary = await runImport(s.data, { format: 'slake', path: dir });
    expect(summary.questions).toEqual({ added: 2, existing: 0, failed: 1, skipped: 3 });
    expect(summary.skipped).toEqual({ "question language 'zh' (only English is imported)": 3 });
    expect(summary.errors[0]!.message).toMatch(/path traversal/);
    expect(s.data.counts().byModality).toEqual([{ modality: 'X-RAY', images: 2, questions: 2 }]);
    expect(s.data.listImages().rows.map((r) => r.sourceName)).toEqual([
      'xmlab1/source.jpg',
      'xmlab2/source.jpg',
    ]);
    s.close();
  });
});
