/**
 * A progress line for long work on a terminal. On a TTY it redraws one line; elsewhere (CI logs, pipes)
 * it prints at most one line per `logEveryMs` so logs stay readable. Silent when `enabled` is false
 * (for --json runs, whose stdout belongs to the JSON).
 */
export class ProgressBar {
  private lastPrint = 0;
  private readonly started = Date.now();
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly enabled = true,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly logEveryMs = 2000,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  update(done: number, detail = ''): void {
    if (!this.enabled) return;
    const now = Date.now();
    const finished = done >= this.total;
    if (!finished && now - this.lastPrint < (this.tty ? 80 : this.logEveryMs)) return;
    this.lastPrint = now;
    const fraction = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const width = 24;
    const filled = Math.round(fraction * width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    const elapsed = (now - this.started) / 1000;
    const line = `${this.label} ${bar} ${done}/${this.total} ${(fraction * 100).toFixed(0)}% ${elapsed.toFixed(1)}s${detail ? ` ${detail}` : ''}`;
    if (this.tty) this.stream.write(`\r\x1b[2K${line}${finished ? '\n' : ''}`);
    else this.stream.write(`${line}\n`);
  }
}
