import { parseCommandArgs, parseIntegerOption, requireOption } from '../../core/cli/args.node.js';
import type { AdminRoundsCancellation } from '../../core/protocol/admin.js';
import { AdminClient, URL_HELP } from '../admin-client.js';
import type { RoundEvent, RoundOutcome } from '../rounds/round-engine.js';

const pct = (value: number | null | undefined) =>
  value == null ? '   –  ' : `${(value * 100).toFixed(1).padStart(5)}%`;

/** One line per finished round, for terminals and logs. */
export function describeOutcome(outcome: RoundOutcome): string {
  const m = outcome.metrics;
  const head = `round ${String(outcome.round).padStart(3)}  ${outcome.status.padEnd(9)}`;
  if (outcome.status !== 'completed' || !m) return `${head} ${outcome.reason ?? ''}`;
  return (
    `${head} v${m.startingVersion}→v${outcome.version!.version}  sites ${outcome.included.length}/${outcome.participants.length}` +
    `  accuracy of v${m.startingVersion}: closed ${pct(m.closedAcc)} open ${pct(m.openAcc)} overall ${pct(m.overallAcc)}` +
    `  val loss ${m.valLoss?.toFixed(3) ?? '–'}  ${(outcome.timings.totalMs / 1000).toFixed(1)}s`
  );
}

export async function run(args: string[]): Promise<number> {
  const command = 'server rounds';
  const { values } = parseCommandArgs(command, args, {
    'data-dir': { type: 'string' },
    federation: { type: 'string' },
    count: { type: 'string' },
    cancel: { type: 'boolean' },
    url: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    console.log(`usage: cohort ${command} --data-dir DIR --federation ID [--count N] [--url https://HOST:PORT] [--json]
       cohort ${command} --data-dir DIR --cancel [--url https://HOST:PORT] [--json]

Runs N rounds (default 1) on the running coordinator and follows them live: which stage each round is
in, who is still awaited, and each round's federation-wide accuracy (of the version it started from).
The rounds go on if this command is stopped; --cancel aborts the running round and stops the batches
of rounds in progress. --json prints the events as JSON lines.
${URL_HELP}`);
    return 0;
  }
  const dataDir = requireOption(command, values['data-dir'], '--data-dir');
  if (values.cancel) {
    const client = new AdminClient(command, dataDir, values.url);
    const cancelled = await client.post<AdminRoundsCancellation>('/v1/admin/rounds/cancel', {});
    if (values.json) console.log(JSON.stringify(cancelled));
    else if (!cancelled.round && cancelled.batches === 0) console.log('No round was running.');
    else
      console.log(
        (cancelled.round
          ? `Cancelled round ${cancelled.round.round} of ${cancelled.round.federationId}. `
          : '') + `Stopped ${cancelled.batches} batch(es) of rounds.`,
      );
    return 0;
  }
  const federation = requireOption(command, values.federation, '--federation');
  const count = parseIntegerOption(command, values.count, '--count', 1, 1000) ?? 1;
  const client = new AdminClient(command, dataDir, values.url);
  let failed = 0;
  let stopped: string | undefined;
  await client.stream(`/v1/admin/federations/${encodeURIComponent(federation)}/rounds`, { count }, (raw) => {
    const event = raw as RoundEvent | { type: 'rounds-stopped'; reason: string } | { type: 'rounds-done' };
    // The exit status says the same with --json as without.
    if (event.type === 'round-finished' && event.outcome.status !== 'completed') failed++;
    else if (event.type === 'rounds-stopped') stopped = event.reason;
    if (values.json) return console.log(JSON.stringify(event));
    if (event.type === 'round-started')
      console.log(`round ${event.round}: asking ${event.participants.length} site(s)`);
    else if (event.type === 'round-stage')
      process.stderr.write(`  ${event.stage.padEnd(14)} waiting for ${event.waitingFor.length} site(s)\n`);
    else if (event.type === 'round-finished') console.log(describeOutcome(event.outcome));
  });
  if (stopped) {
    console.error(`cohort: error: ${command}: stopped: ${stopped}`);
    return 1;
  }
  return failed > 0 && failed === count ? 1 : 0;
}
