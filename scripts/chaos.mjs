// `npm run test:chaos`: the fault and fuzz suite (e2e/chaos, also part of `npx vitest run`), then the
// totals its tests reported. `-- --long` is the benchmark form (COHORT_CHAOS_LONG=1: more messages, files
// and rounds); `-- --json` prints the totals as one JSON object.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const report = join(tmpdir(), `cohort-chaos-${process.pid}.jsonl`);
const env = {
  ...process.env,
  COHORT_CHAOS_REPORT: report,
  ...(args.includes('--long') ? { COHORT_CHAOS_LONG: '1' } : {}),
};
const started = Date.now();
const run = spawnSync('npx', ['vitest', 'run', 'e2e/chaos'], { stdio: 'inherit', env });
const totals = {
  faultsInjected: 0,
  messagesFuzzed: 0,
  filesFuzzed: 0,
  crashes: 0,
  invalidMessagesAccepted: 0,
  recordsLost: 0,
  captureHits: 0,
};
if (existsSync(report)) {
  for (const line of readFileSync(report, 'utf8').split('\n').filter(Boolean)) {
    const counts = JSON.parse(line);
    for (const key of Object.keys(totals)) totals[key] += counts[key] ?? 0;
  }
  rmSync(report);
}
const summary = {
  ...totals,
  testsPassed: run.status === 0,
  seconds: Math.round((Date.now() - started) / 1000),
};
if (args.includes('--json')) console.log(JSON.stringify(summary));
else {
  console.log('\nchaos suite');
  for (const [key, value] of Object.entries(summary)) console.log(`  ${key.padEnd(24)} ${value}`);
}
process.exit(run.status ?? 1);
