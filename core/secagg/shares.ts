import { combine } from 'shamir-secret-sharing';

/** Shamir reconstruction of each set of shares, one after another on this thread. */
export async function combineAll(sets: readonly Uint8Array[][]): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const set of sets) out.push(await combine(set));
  return out;
}
