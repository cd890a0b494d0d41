import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, extname, join, relative, resolve, sep } from 'node:path';
import { IDENTIFYING_TAGS, formatTag, parseDicomImage, type DicomImage } from '../../core/data/dicom.node.js';
import { decodeForStore } from '../../core/data/image.node.js';
import { sniffFormat } from '../../core/data/sniff.js';
import { splitForImage } from '../../core/data/split.js';
import { DataInputError } from '../../core/data/text.js';
import { forEachBounded, throwIfCancelled, type ImportContext } from './context.js';
import { fileErrorMessage, sha256, toHex } from './image-files.js';
import { assembleQuestions, type NamedQuestion } from './named-dataset.js';
import { locateInput, pathResolver } from './paths.js';
import { storedSource } from './stored-source.js';
import { readQuestionTable } from './tabular.js';
import type { DroppedTag, ImportOptions, ItemError, PreparedImage, PreparedImport } from './types.js';
import type { SplitOptions } from './vqa-rad.js';

/** DICOM files can hold many frames; a whole CT series in one file stays under this. */
export const MAX_DICOM_FILE_BYTES = 1024 * 1024 * 1024;

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Every regular file under `root` (symbolic links are not followed: a PACS export has none). */
async function walk(root: string, out: string[] = []): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true });
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const full = join(root, entry.name);
    if (entry.isDirectory()) await walk(full, out);
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

interface DicomResult {
  ok: boolean;
  message?: string;
  hex?: string;
  hash?: Uint8Array;
  dicom?: Omit<DicomImage, 'frame' | 'contentKey'>;
  image?: PreparedImage;
  notDicom?: boolean;
}

/**
 * A folder of DICOM files (or one file), optionally with a CSV/JSONL question table whose image column
 * holds each image's SOPInstanceUID or its file name / path relative to the folder.
 *
 * Nothing from a DICOM header is stored except Modality and BodyPartExamined: not the file names, not
 * the UIDs (they are used in memory to join the questions, then dropped), not the folder path. Errors name
 * files by their number in sorted path order (`file 3`); the path goes back to the operator, never into
 * the store.
 */
export async function prepareDicom(
  path: string,
  options: ImportOptions,
  split: SplitOptions,
  context: ImportContext,
): Promise<PreparedImport> {
  const { target, isFile, root } = await locateInput(path);
  context.onProgress({ phase: 'read', done: 0, total: 1 });
  const files = isFile ? [target] : await walk(root);
  const candidates = files.filter((f) => basename(f).toUpperCase() !== 'DICOMDIR');
  const table = options.questionsTable
    ? await readQuestionTable(
        resolve(options.questionsTable),
        extname(options.questionsTable).toLowerCase() === '.jsonl' ? 'jsonl' : 'csv',
        options,
        'the question table',
      )
    : undefined;
  context.onProgress({ phase: 'read', done: 1, total: 1 });
  if (candidates.length === 0) throw new DataInputError(`${path} holds no files`);

  const resolveSafe = pathResolver(root);
  const results: DicomResult[] = new Array(candidates.length);
  let done = 0;
  context.onProgress({ phase: 'decode', done, total: candidates.length });
  await forEachBounded(candidates, context.concurrency, context.signal, async (file, index) => {
    results[index] = await prepareOne(root, file, resolveSafe, split, context);
    context.onProgress({ phase: 'decode', done: ++done, total: candidates.length });
  });
  throwIfCancelled(context.signal);

  const errors: ItemError[] = [];
  const notes: string[] = [];
  const skipped: Record<string, number> = {};
  const images = new Map<string, PreparedImage>();
  const byUid = new Map<string, string | null>();
  const byPath = new Map<string, string | null>();
  const byName = new Map<string, string | null>();
  const tagCounts = new Map<string, number>();
  const failedRefs = new Set<string>();
  let failedImages = 0;
  let notDicom = 0;
  let multiFrame = 0;
  let duplicates = 0;
  const remember = (map: Map<string, string | null>, key: string, hex: string | null) => {
    const previous = map.get(key);
    map.set(key, previous === undefined || previous === hex ? hex : null);
  };
  candidates.forEach((file, index) => {
    const result = results[index]!;
    const rel = relative(root, file).split(sep).join('/');
    if (result.notDicom) {
      notDicom++;
      return;
    }
    if (!result.ok) {
      failedImages++;
      errors.push({ item: `file ${index + 1}`, message: result.message!, path: rel });
      for (const key of [rel, basename(file)]) failedRefs.add(key);
      return;
    }
    const hex = result.hex!;
    const dicom = result.dicom!;
    for (const name of dicom.identifyingTags) tagCounts.set(name, (tagCounts.get(name) ?? 0) + 1);
    if (dicom.frames > 1) multiFrame++;
    if (images.has(hex)) duplicates++;
    else images.set(hex, result.image!);
    if (dicom.sopInstanceUid) remember(byUid, dicom.sopInstanceUid, hex);
    remember(byPath, rel, hex);
    remember(byName, basename(file), hex);
  });
  if (notDicom > 0) skipped['files that are not DICOM'] = notDicom;
  if (multiFrame > 0)
    notes.push(`${plural(multiFrame, 'multi-frame file')}: the first frame of each was imported`);
  if (duplicates > 0)
    notes.push(
      `${plural(duplicates, 'file')} held pixels identical to another file and ${duplicates === 1 ? 'was' : 'were'} stored once`,
    );

  const questionsByImage = new Map<string, NamedQuestion[]>();
  for (const hex of images.keys()) questionsByImage.set(hex, []);
  let failedQuestions = 0;
  if (table) {
    errors.push(...table.errors);
    failedQuestions += table.errors.length;
    for (const q of table.questions) {
      // The reference may be a UID: never repeat it in a message that gets stored.
      const ref = q.image.replace(/\\/g, '/').replace(/^\.\//, '');
      const hex = byUid.get(ref) ?? byPath.get(ref) ?? byName.get(ref);
      if (hex === undefined || hex === null) {
        failedQuestions++;
        const ambiguous = byUid.get(ref) === null || byPath.get(ref) === null || byName.get(ref) === null;
        const message = failedRefs.has(ref)
          ? 'its DICOM file could not be imported (see that error)'
          : ambiguous
            ? 'the image reference matches several DICOM files with different pixels'
            : 'the image reference matches no DICOM file of this import (by SOPInstanceUID, path or file name)';
        errors.push({ item: q.item, message });
        continue;
      }
      questionsByImage.get(hex)!.push({
        imageName: hex,
        ...(q.id !== undefined ? { sourceId: q.id } : {}),
        question: q.question,
        answer: q.answer,
        answerType: q.answerType,
        ...(q.organ ? { organ: q.organ } : {}),
        ...(q.modality ? { modality: q.modality } : {}),
        item: q.item,
        ...(q.split ? { requestedSplit: q.split } : {}),
      });
    }
  } else {
    notes.push('no question table (--questions-table): images were imported without questions');
  }
  const assembled = assembleQuestions(questionsByImage, images, errors);
  const droppedTags: DroppedTag[] = Object.entries(IDENTIFYING_TAGS)
    .filter(([, name]) => tagCounts.has(name))
    .map(([tag, name]) => ({ tag: formatTag(tag), name, files: tagCounts.get(name)! }))
    .sort((a, b) => (a.tag < b.tag ? -1 : 1));
  notes.push(
    'from DICOM headers only Modality and BodyPartExamined are kept; every other attribute, the file names, ' +
      'UIDs and the folder path are not stored',
  );
  return {
    format: 'dicom',
    source: storedSource('dicom'),
    options: {
      ...split,
      questionsTable: Boolean(table),
      ...(table ? { columns: table.mapping } : {}),
    },
    images: [...images.values()],
    questions: assembled.questions,
    errors,
    skipped,
    failedImages,
    failedQuestions: failedQuestions + assembled.failed,
    droppedTags,
    notes,
  };
}

async function prepareOne(
  root: string,
  file: string,
  resolveSafe: (name: string) => Promise<string>,
  split: SplitOptions,
  context: ImportContext,
): Promise<DicomResult> {
  const rel = relative(root, file);
  const looksDicom = ['.dcm', '.dicom'].includes(extname(file).toLowerCase());
  let bytes: Uint8Array;
  try {
    const safe = await resolveSafe(rel);
    const info = await stat(safe);
    if (info.size > MAX_DICOM_FILE_BYTES)
      return { ok: false, message: `file is over ${MAX_DICOM_FILE_BYTES / 2 ** 30} GiB` };
    bytes = await readFile(safe);
  } catch (error) {
    return { ok: false, message: fileErrorMessage(error) };
  }
  const format = sniffFormat(bytes);
  if (format !== 'dicom') {
    if (!looksDicom) return { ok: false, notDicom: true };
    return {
      ok: false,
      message:
        bytes.length === 0
          ? 'file is empty'
          : `file is not what its extension says: named as a DICOM file, but ${format === 'unknown' ? 'it has no DICM marker' : `its content is ${format.toUpperCase()}`}`,
    };
  }
  let dicom: DicomImage;
  try {
    dicom = parseDicomImage(bytes);
  } catch (error) {
    return { ok: false, message: (error as Error).message };
  }
  const hash = sha256(dicom.contentKey);
  const hex = toHex(hash);
  const { frame, contentKey: _contentKey, ...metadata } = dicom;
  const image: PreparedImage = {
    hash,
    sourceName: null,
    modality: dicom.modality ?? null,
    organ: dicom.bodyPart ?? null,
    split: splitForImage(hex, split.seed, split.validationFraction),
  };
  if (!context.isKnownImage(hex)) {
    try {
      const decoded =
        frame.kind === 'raw'
          ? await decodeForStore(frame.raw, undefined, { encoderSize: context.encoderSize })
          : await decodeForStore(frame.bytes, undefined, {
              invert: frame.invert,
              encoderSize: context.encoderSize,
            });
      image.stored = {
        sourceFormat: frame.kind === 'raw' ? 'dicom' : 'dicom-jpeg',
        sourceWidth: dicom.width,
        sourceHeight: dicom.height,
        size: decoded.size,
        pixels: decoded.pixels,
        thumbnail: decoded.thumbnail,
        thumbnailType: decoded.thumbnailType,
        ...(decoded.encoderPixels ? { encoderPixels: decoded.encoderPixels } : {}),
      };
    } catch (error) {
      return { ok: false, message: (error as Error).message };
    }
  }
  return { ok: true, hash, hex, dicom: metadata, image };
}
