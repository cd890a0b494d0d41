import { ProgressBar } from '../../core/cli/progress.node.js';
import type { ImportProgress, ImportSummary } from '../importers/types.js';

const PHASE_LABELS: Record<ImportProgress['phase'], string> = {
  read: 'reading  ',
  decode: 'decoding ',
  write: 'writing  ',
  features: 'features ',
  done: 'done     ',
};

/**
 * A progress bar per import phase on stderr (silent for --json unless stderr is a terminal). In logs
 * (no terminal) a phase shows up only once it has progressed, so a failing import prints nothing but
 * its one-line error. `clear` wipes an unfinished terminal bar before an error is printed.
 */
export function importProgressPrinter(
  json: boolean,
): ((progress: ImportProgress) => void) & { clear(): void } {
  const tty = Boolean(process.stderr.isTTY);
  const enabled = !json || tty;
  let phase: ImportProgress['phase'] | undefined;
  let bar: ProgressBar | undefined;
  let pending = false;
  const print = (progress: ImportProgress) => {
    if (progress.phase === 'done' || (!tty && progress.done === 0)) return;
    if (progress.phase !== phase) {
      phase = progress.phase;
      bar = new ProgressBar(PHASE_LABELS[phase], progress.total, enabled);
    }
    bar?.update(progress.done);
    pending = enabled && tty && progress.done < progress.total;
  };
  return Object.assign(print, {
    clear() {
      if (pending) process.stderr.write('\r\x1b[2K');
      pending = false;
    },
  });
}

const MAX_ERRORS_SHOWN = 20;

/** The human-readable summary of an import. */
export function formatImportSummary(summary: ImportSummary): string {
  const lines = [summary.message];
  const { split } = summary;
  if (split.train + split.val > 0) {
    lines.push(
      `  split (seed ${split.seed}, ${Math.round(split.validationFraction * 100)}% of images for validation): ` +
        `${split.train.toLocaleString('en-US')} train / ${split.val.toLocaleString('en-US')} val questions added`,
    );
  }
  for (const [reason, n] of Object.entries(summary.skipped))
    lines.push(`  skipped ${n.toLocaleString('en-US')}: ${reason}`);
  if (summary.droppedTags?.length) {
    lines.push('  identifying DICOM attributes dropped (not stored):');
    for (const t of summary.droppedTags)
      lines.push(`    ${t.tag} ${t.name} (${t.files} file${t.files === 1 ? '' : 's'})`);
  }
  for (const note of summary.notes) lines.push(`  note: ${note}`);
  if (summary.errorCount > 0) {
    lines.push(`  errors (${summary.errorCount}; nothing of these items was stored):`);
    for (const e of summary.errors.slice(0, MAX_ERRORS_SHOWN)) {
      lines.push(`    ${e.item}${e.path ? ` [${e.path}]` : ''}: ${e.message}`);
    }
    if (summary.errorCount > MAX_ERRORS_SHOWN) {
      lines.push(`    … and ${summary.errorCount - MAX_ERRORS_SHOWN} more (--json lists them all)`);
    }
  }
  lines.push(`  import #${summary.importId}, ${(summary.durationMs / 1000).toFixed(1)} s`);
  return lines.join('\n');
}
