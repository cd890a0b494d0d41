import { readFile, stat } from 'node:fs/promises';
import { DataInputError, decodeUtf8Text } from '../../core/data/text.js';

/** Question files larger than this are refused: VQA-RAD's is 0.8 MB, SLAKE's largest about 10 MB. */
export const MAX_TEXT_FILE_BYTES = 512 * 1024 * 1024;

/** Reads a UTF-8 question file, turning every way that fails into one whole-import error. */
export async function readTextFile(path: string, label: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new DataInputError(`${label} is not a file`);
    if (info.size > MAX_TEXT_FILE_BYTES)
      throw new DataInputError(`${label} is larger than ${MAX_TEXT_FILE_BYTES / 2 ** 20} MiB`);
    bytes = await readFile(path);
  } catch (error) {
    if (error instanceof DataInputError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new DataInputError(
      code === 'ENOENT' ? `${label} not found` : `cannot read ${label} (${code ?? (error as Error).message})`,
    );
  }
  return decodeUtf8Text(bytes, label);
}
