/**
 * Splits a stream of newline-delimited JSON (as the admin API streams round events) into objects,
 * whatever the chunk boundaries: a line may arrive in pieces, several may arrive at once.
 */
export class JsonLines<T = unknown> {
  private rest = '';

  /** Feeds a decoded chunk; returns the complete lines' objects (blank lines are skipped). */
  push(chunk: string): T[] {
    const text = this.rest + chunk;
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    return lines.filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as T);
  }

  /** The last line, if the stream ended without a newline. */
  end(): T[] {
    const last = this.rest;
    this.rest = '';
    return last.trim() === '' ? [] : [JSON.parse(last) as T];
  }
}
