import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { normalizeAnswerSet } from '../ml/adapter.js';
import { SYNTHRAD_ANSWERS } from './synthrad.js';

/**
 * A public answer set (the label space a federation's head classifies over), named by a spec:
 * `synth` (SynthRad-VQA's template answers), `vqa-rad:<dir>` (that directory's published
 * `answer_all_list.json`), or the path of a JSON file holding an array of answers. Normalised.
 */
export async function readAnswerSet(spec: string): Promise<string[]> {
  if (spec === 'synth') return normalizeAnswerSet(SYNTHRAD_ANSWERS);
  const path = spec.startsWith('vqa-rad:')
    ? join(spec.slice('vqa-rad:'.length), 'answer_all_list.json')
    : spec;
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new Error(`cannot read an answer list from ${path}: ${reason}`);
  }
  // VQA-RAD's list is an array; some copies are an object keyed by answer.
  const list = Array.isArray(parsed)
    ? parsed
    : parsed && typeof parsed === 'object'
      ? Object.keys(parsed)
      : undefined;
  if (!list || !list.every((a) => typeof a === 'string' || typeof a === 'number'))
    throw new Error(`${path} is not a JSON list of answers`);
  return normalizeAnswerSet(list.map(String));
}
