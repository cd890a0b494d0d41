/**
 * The demo's figures over several seeds. On a small validation union (VQA-RAD: 347 closed questions, so
 * one question is 0.3 points) a model's accuracy moves by several points with its seed alone; a
 * comparison between federated, local-only and centralized training means something only as a mean over
 * seeds, next to its spread, and as paired differences (every model of one seed sees the same data split).
 */

/** Accuracy on the union of the sites' validation splits, per answer type and overall (fractions). */
export interface Accuracies {
  closed_acc: number | null;
  open_acc: number | null;
  overall_acc: number | null;
}

/** One demo run's final figures: the federated model's and, with --baselines, the baselines'. */
export interface SeedRun {
  seed: number;
  federated: Accuracies | null;
  baselines?: { local_only: ({ site: string } & Accuracies)[]; centralized: Accuracies };
}

/** Mean and sample standard deviation (n − 1) of the figures that exist; null when none does. */
export interface Spread {
  mean: number | null;
  sd: number | null;
  n: number;
}

export type AccuracySpread = Record<keyof Accuracies, Spread>;

export interface SeedSummary {
  seeds: number[];
  federated: AccuracySpread;
  local_only?: ({ site: string } & AccuracySpread)[];
  centralized?: AccuracySpread;
  /**
   * Closed accuracy, federated minus the baseline, per seed and then over seeds (paired: each seed's models
   * are compared with each other, so the split's own luck cancels).
   */
  closed_gap?: { vs_centralized: Spread; vs_best_local_only: Spread };
}

const KEYS = ['closed_acc', 'open_acc', 'overall_acc'] as const;

export function spread(values: readonly (number | null | undefined)[]): Spread {
  const present = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const n = present.length;
  if (n === 0) return { mean: null, sd: null, n };
  const mean = present.reduce((s, v) => s + v, 0) / n;
  const sd = n < 2 ? null : Math.sqrt(present.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  return { mean, sd, n };
}

function accuracySpread(runs: readonly (Accuracies | null | undefined)[]): AccuracySpread {
  return Object.fromEntries(KEYS.map((key) => [key, spread(runs.map((r) => r?.[key]))])) as AccuracySpread;
}

/** Closed-accuracy difference a − b, or null when either is missing. */
const closedGap = (a: Accuracies | null | undefined, b: Accuracies | null | undefined) =>
  a?.closed_acc != null && b?.closed_acc != null ? a.closed_acc - b.closed_acc : null;

export function summariseSeeds(runs: readonly SeedRun[]): SeedSummary {
  const summary: SeedSummary = {
    seeds: runs.map((run) => run.seed),
    federated: accuracySpread(runs.map((run) => run.federated)),
  };
  const withBaselines = runs.filter((run) => run.baselines);
  if (withBaselines.length === 0) return summary;
  const sites = withBaselines[0]!.baselines!.local_only.map((local) => local.site);
  summary.local_only = sites.map((site) => ({
    site,
    ...accuracySpread(withBaselines.map((run) => run.baselines!.local_only.find((l) => l.site === site))),
  }));
  summary.centralized = accuracySpread(withBaselines.map((run) => run.baselines!.centralized));
  summary.closed_gap = {
    vs_centralized: spread(withBaselines.map((run) => closedGap(run.federated, run.baselines!.centralized))),
    vs_best_local_only: spread(
      withBaselines.map((run) => {
        const locals = run.baselines!.local_only.map((l) => l.closed_acc).filter((v) => v != null);
        if (locals.length === 0) return null;
        return closedGap(run.federated, {
          closed_acc: Math.max(...locals),
          open_acc: null,
          overall_acc: null,
        });
      }),
    ),
  };
  return summary;
}

/** "53.1 ± 1.2%" (or "53.1%" for one figure, "–" for none). */
export function formatPercentSpread(s: Spread): string {
  if (s.mean === null) return '–';
  return s.sd === null
    ? `${(s.mean * 100).toFixed(1)}%`
    : `${(s.mean * 100).toFixed(1)} ± ${(s.sd * 100).toFixed(1)}%`;
}

/** "+1.3 ± 2.0 points" for a difference of fractions. */
export function formatPointsSpread(s: Spread): string {
  if (s.mean === null) return '–';
  const points = Number((s.mean * 100).toFixed(1)); // signed after rounding: no "−0.0"
  const mean = `${points >= 0 ? '+' : '−'}${Math.abs(points).toFixed(1)}`;
  return s.sd === null ? `${mean} points` : `${mean} ± ${(s.sd * 100).toFixed(1)} points`;
}

/** The summary as the lines of a table (model, closed, open, overall) and the paired closed gaps. */
export function summaryLines(summary: SeedSummary): string[] {
  const rows: [string, AccuracySpread][] = [['federated (final version)', summary.federated]];
  for (const local of summary.local_only ?? []) rows.push([`local only: ${local.site}`, local]);
  if (summary.centralized) rows.push(['centralized (all data pooled)', summary.centralized]);
  const width = Math.max(...rows.map(([name]) => name.length));
  const cell = 14;
  const lines = [
    `  ${'model'.padEnd(width)}  ${'closed'.padStart(cell)}  ${'open'.padStart(cell)}  ${'overall'.padStart(cell)}`,
  ];
  for (const [name, s] of rows) {
    lines.push(
      `  ${name.padEnd(width)}  ${KEYS.map((key) => formatPercentSpread(s[key]).padStart(cell)).join('  ')}`,
    );
  }
  if (summary.closed_gap) {
    lines.push(
      `  closed accuracy, federated minus centralized:       ${formatPointsSpread(summary.closed_gap.vs_centralized)}`,
      `  closed accuracy, federated minus best local-only:   ${formatPointsSpread(summary.closed_gap.vs_best_local_only)}`,
    );
  }
  return lines;
}
