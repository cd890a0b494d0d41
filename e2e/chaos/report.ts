import { appendFileSync } from 'node:fs';

/** What the chaos suite reports (issue 13): the totals over every test that ran. */
export interface ChaosCounts {
  faultsInjected: number;
  messagesFuzzed: number;
  filesFuzzed: number;
  crashes: number;
  invalidMessagesAccepted: number;
  recordsLost: number;
  captureHits: number;
}

/**
 * Adds a test's counts to the report file named by COHORT_CHAOS_REPORT (`npm run test:chaos` sets it and
 * prints the totals); without it, nothing is recorded. Tests run in separate processes, hence a file.
 */
export function recordChaos(counts: Partial<ChaosCounts>): void {
  const path = process.env.COHORT_CHAOS_REPORT;
  if (path) appendFileSync(path, `${JSON.stringify(counts)}\n`);
}
