import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CliError } from '../../core/cli/errors.js';
import type { Adapter } from '../../core/ml/adapter.js';
import { defaultBaseModelDir, loadBaseModel } from '../../core/ml/base-model.node.js';
import type { BaseModel, EvalResult } from '../../core/ml/engine.node.js';
import { ADAPTER_FILES, decodeAdapter, encodeAdapter, type BaseRef } from '../../core/ml/formats.js';
import { makeDir } from '../../core/util/make-dir.node.js';

export async function loadBase(command: string, dir: string | undefined): Promise<BaseModel> {
  try {
    return await loadBaseModel(dir ?? defaultBaseModelDir());
  } catch (error) {
    throw new CliError(`${command}: ${(error as Error).message}`);
  }
}

export async function saveAdapterDir(
  dir: string,
  adapter: Adapter,
  base: BaseRef,
  meta: Record<string, unknown>,
) {
  const { json, weights } = encodeAdapter(adapter, base, meta);
  makeDir(dir);
  await writeFile(join(dir, ADAPTER_FILES.weights), weights);
  await writeFile(join(dir, ADAPTER_FILES.config), json);
}

export function isAdapterDir(dir: string): boolean {
  return existsSync(join(dir, ADAPTER_FILES.config));
}

export async function loadAdapterDir(command: string, dir: string, base: BaseModel) {
  try {
    const json = await readFile(join(dir, ADAPTER_FILES.config), 'utf8');
    const weights = new Uint8Array(await readFile(join(dir, ADAPTER_FILES.weights)));
    const decoded = decodeAdapter(json, weights, base.config);
    if (decoded.baseHash !== base.hash) {
      throw new Error(
        `adapter was trained on base model ${decoded.baseHash.slice(0, 12)}…, not ${base.hash.slice(0, 12)}…`,
      );
    }
    return decoded;
  } catch (error) {
    throw new CliError(`${command}: cannot load adapter from ${dir}: ${(error as Error).message}`);
  }
}

export interface EvalSummary {
  n: number;
  closed: { n: number; acc: number | null };
  open: { n: number; acc: number | null };
  overall_acc: number | null;
  loss: number | null;
}

export function summarize(r: EvalResult): EvalSummary {
  const acc = (c: { n: number; correct: number }) => (c.n > 0 ? round(c.correct / c.n) : null);
  const known = r.n; // loss averaged over all examples with an answer in the set is reported separately
  return {
    n: r.n,
    closed: { n: r.closed.n, acc: acc(r.closed) },
    open: { n: r.open.n, acc: acc(r.open) },
    overall_acc: r.n > 0 ? round((r.closed.correct + r.open.correct) / r.n) : null,
    loss: known > 0 ? round(r.lossSum / known) : null,
  };
}

export const round = (x: number) => Math.round(x * 10000) / 10000;

export function formatSummary(s: EvalSummary): string {
  const pct = (x: number | null) => (x === null ? '—' : `${(x * 100).toFixed(1)}%`);
  return `n=${s.n}  closed ${pct(s.closed.acc)} (n=${s.closed.n})  open ${pct(s.open.acc)} (n=${s.open.n})  overall ${pct(s.overall_acc)}`;
}

/**
 * The majority-answer baseline: per answer type, always answer the most frequent (normalised) answer of
 * the reference records (the training split). Returns accuracies on `evalRecords`.
 */
export function majorityBaseline(
  reference: readonly { answer: string; answerType: string }[],
  evalRecords: readonly { answer: string; answerType: string }[],
): {
  closed_acc: number | null;
  open_acc: number | null;
  overall_acc: number | null;
  closed_answer: string | null;
} {
  const norm = (a: string) => a.trim().replace(/\s+/g, ' ').toLowerCase();
  const top = (type: string) => {
    const counts = new Map<string, number>();
    for (const r of reference)
      if (r.answerType === type) counts.set(norm(r.answer), (counts.get(norm(r.answer)) ?? 0) + 1);
    let best: string | null = null;
    let max = -1;
    for (const [a, c] of [...counts].sort(([x], [y]) => (x < y ? -1 : 1))) if (c > max) [best, max] = [a, c];
    return best;
  };
  const closedAnswer = top('closed');
  const openAnswer = top('open');
  let cn = 0,
    cc = 0,
    on = 0,
    oc = 0;
  for (const r of evalRecords) {
    if (r.answerType === 'closed') {
      cn++;
      if (norm(r.answer) === closedAnswer) cc++;
    } else {
      on++;
      if (norm(r.answer) === openAnswer) oc++;
    }
  }
  return {
    closed_acc: cn ? round(cc / cn) : null,
    open_acc: on ? round(oc / on) : null,
    overall_acc: cn + on ? round((cc + oc) / (cn + on)) : null,
    closed_answer: closedAnswer,
  };
}
