/** How figures read in the UI: one place, so every screen says the same thing the same way. */

const integer = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });

export function formatCount(value: number): string {
  return integer.format(value);
}

/** 0.8123 → "81.2 %"; null (no examples) → "–". */
export function formatPercent(value: number | null | undefined): string {
  return value == null || !Number.isFinite(value) ? '–' : `${(value * 100).toFixed(1)} %`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** 850 → "850 ms", 12_300 → "12.3 s", 192_000 → "3 min 12 s". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return `${minutes} min${seconds ? ` ${seconds} s` : ''}`;
}

export function formatTime(iso: string): string {
  return new Date(iso).toLocaleTimeString();
}

export function formatDateTime(iso: string): string {
  return new Date(iso).toLocaleString();
}

/** "1–50 of 3,064" for a page of a longer list. */
export function pageRange(offset: number, shown: number, total: number): string {
  if (total === 0 || shown === 0) return `0 of ${formatCount(total)}`;
  return `${formatCount(offset + 1)}–${formatCount(offset + shown)} of ${formatCount(total)}`;
}

/** A progress fraction in [0, 1], or null when the total is not known yet. */
export function fraction(done: number, total: number): number | null {
  if (!(total > 0)) return null;
  return Math.min(1, Math.max(0, done / total));
}

/** The first and last few characters of a long hex digest, for tables (the full value goes in a title). */
export function shortHash(hex: string, head = 12): string {
  return hex.length <= head + 6 ? hex : `${hex.slice(0, head)}…${hex.slice(-4)}`;
}
