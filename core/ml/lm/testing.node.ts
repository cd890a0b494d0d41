/** The committed PyTorch fixtures (bench/lm_reference.py) for the language-model tests. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeSafetensors } from '../safetensors.js';

export const FIXTURES = fileURLToPath(new URL('../../../test-fixtures/lm/', import.meta.url));

/** A fixture's reference inputs and outputs (ids and labels are stored as F32). */
export function readReference(name: string) {
  const { tensors, metadata } = decodeSafetensors(
    new Uint8Array(readFileSync(`${FIXTURES}${name}.reference.safetensors`)),
  );
  const get = (n: string) => tensors.get(n) ?? fail(n);
  const ids = get('input_ids');
  const [batch, seq] = ids.shape as [number, number];
  return {
    tensors,
    get,
    batch,
    seq,
    rank: Number(metadata.rank),
    alpha: Number(metadata.alpha),
    ids: Int32Array.from(ids.data),
    labels: Int32Array.from(get('labels').data),
  };
}

function fail(name: string): never {
  throw new Error(`reference lacks ${name}`);
}
