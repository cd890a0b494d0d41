import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { parseCommandArgs } from '../core/cli/args.node.js';
import { CliError } from '../core/cli/errors.js';
import { ProgressBar } from '../core/cli/progress.node.js';
import { SecAggError } from '../core/secagg/errors.js';
import {
  DEFAULT_CHUNK_WORDS,
  InThreadMaskEngine,
  type MaskEngine,
  type MaskTerm,
} from '../core/secagg/mask.js';
import { createWorkerMaskEngine, nativeMaskEngine } from '../core/secagg/mask-engine.node.js';
import { resolveParams } from '../core/secagg/params.js';
import { libsodiumPrg, type PrgFactory } from '../core/secagg/prg.js';
import { nativePrg } from '../core/secagg/native.node.js';
import { opensslPrg } from '../core/secagg/prg.node.js';
import {
  makeIdentities,
  replayCoordinator,
  simulateRound,
  stagesFor,
  type SimulateOptions,
} from '../core/secagg/simulate.js';
import { sodium } from '../core/secagg/sodium.js';
import { split } from 'shamir-secret-sharing';

const COMMAND = 'bench secagg';
/** Replays of the coordinator alone (median reported). */
const REPLAYS = 5;
/** Above this many bytes of masked inputs the round is not recorded, and the coordinator not replayed. */
const MAX_RECORDED_BYTES = 2 ** 31;
const USAGE = `usage: cohort ${COMMAND} --sites N --params M [--dropout F] [--neighbours K] [--json FILE]
                   [--neighbourhood-threshold T] [--workers W] [--client-workers W] [--one-by-one]

Runs one secure-aggregation round in-process (real client and coordinator state machines, every site in
turn) and reports per-site and coordinator time, mask throughput next to raw ChaCha20 throughput, and
upload size. A fraction F of the sites drops after ShareKeys (before sending its masked input), the
costly case for the coordinator, which must then remove their pairwise masks.

The coordinator's figure (server ms) is timed alone: the messages it received in the round are handed to
a fresh coordinator again, back to back (${REPLAYS} times, median), as a coordinator process sees them,
without the simulated sites' work running between its calls on the same thread, heap and caches. The
figure measured inside the round is printed too (server ms in the round).

  --sites N           number of sites (2…${10_000})
  --params M          vector length in 32-bit words (1…${100_000_000})
  --dropout F         fraction of sites dropping after ShareKeys (0 ≤ F < 1, default 0)
  --neighbours K      SecAgg+ degree (even); default: complete graph up to 100 sites, 100 above
  --neighbourhood-threshold T
                      shares needed per SecAgg+ neighbourhood (default ⌊2(K+1)/3⌋ + 1; lower values
                      tolerate fewer corrupt sites, see core/secagg/README.md)
  --workers W         coordinator threads (default ${availableParallelism()}; 0 = on the main thread)
  --client-workers W  threads a site masks with (default 0 = on its main thread, so the mask throughput
                      and the raw ChaCha20 throughput it is compared with are both one thread)
  --one-by-one        hand the coordinator every message with receive(), instead of draining each signed
                      stage (adverts, consistency signatures) with receiveAll as the round engine does
  --json FILE         also write the figures as JSON`;

function parseNumber(
  flag: string,
  value: string | undefined,
  min: number,
  max: number,
  integer: boolean,
): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || (integer && !Number.isInteger(parsed)) || parsed < min || parsed > max) {
    throw new CliError(
      `${COMMAND}: ${flag} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max} (got '${value}')`,
      2,
    );
  }
  return parsed;
}

/**
 * Raw keystream generation on this thread: `bytes` bytes of one fresh stream in 64 KiB reads (the mask
 * engine's chunk), returning the milliseconds it took.
 */
function keystreamBurst(prg: PrgFactory, bytes: number): number {
  const reads = Math.max(1, Math.round(bytes / (DEFAULT_CHUNK_WORDS * 4)));
  const reader = prg.open(sodium.randombytes_buf(32));
  let sink = 0;
  const started = performance.now();
  for (let i = 0; i < reads; i++) sink ^= reader.next(DEFAULT_CHUNK_WORDS)[0]!;
  const ms = performance.now() - started;
  if (sink === 0.5) console.log(); // keeps the reads observable to the optimiser
  return ms * (bytes / (reads * DEFAULT_CHUNK_WORDS * 4));
}

/**
 * Raw keystream throughput of one PRG on this thread, MB/s: total bytes over total time of `reps` passes
 * of 64 KiB reads (the same aggregate statistic as the protocol's mask throughput).
 */
function keystreamThroughput(prg: PrgFactory, megabytes: number, reps = 3): number {
  const reads = Math.ceil((megabytes * 1e6) / (DEFAULT_CHUNK_WORDS * 4));
  let seconds = 0;
  let sink = 0;
  for (let rep = 0; rep < reps; rep++) {
    const reader = prg.open(sodium.randombytes_buf(32));
    // A PRG that writes in place is read the way the masks read it: into one reused chunk.
    const chunk = new Int32Array(DEFAULT_CHUNK_WORDS);
    const read = reader.nextInto
      ? () => (reader.nextInto!(chunk), chunk)
      : () => reader.next(DEFAULT_CHUNK_WORDS);
    const started = performance.now();
    for (let i = 0; i < reads; i++) sink ^= read()[0]!;
    seconds += (performance.now() - started) / 1000;
  }
  if (sink === 0.5) console.log(); // keeps the reads observable to the optimiser
  return (reps * reads * DEFAULT_CHUNK_WORDS * 4) / 1e6 / seconds;
}

function randomTerms(count: number, plus: number): MaskTerm[] {
  return Array.from({ length: count }, (_, i) => ({
    key: sodium.randombytes_buf(32),
    sign: i < plus ? 1 : -1,
  }));
}

/** Time one mask job of the given shape on an engine, ms (best of `reps`). */
async function timeJob(engine: MaskEngine, length: number, terms: MaskTerm[], reps = 2): Promise<number> {
  let best = Infinity;
  for (let rep = 0; rep < reps; rep++) {
    const target = engine.allocate(length);
    const started = performance.now();
    await engine.apply(target, terms);
    best = Math.min(best, performance.now() - started);
  }
  return best;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(COMMAND, args, {
    sites: { type: 'string' },
    params: { type: 'string' },
    dropout: { type: 'string' },
    neighbours: { type: 'string' },
    'neighbourhood-threshold': { type: 'string' },
    'one-by-one': { type: 'boolean' },
    workers: { type: 'string' },
    'client-workers': { type: 'string' },
    json: { type: 'string' },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const sites = parseNumber('--sites', values.sites, 2, 10_000, true);
  const params = parseNumber('--params', values.params, 1, 100_000_000, true);
  if (sites === undefined || params === undefined)
    throw new CliError(`${COMMAND}: --sites and --params are required`, 2);
  const dropout = parseNumber('--dropout', values.dropout, 0, 0.999, false) ?? 0;
  const neighbours = parseNumber('--neighbours', values.neighbours, 2, 254, true);
  const neighbourhoodThreshold = parseNumber(
    '--neighbourhood-threshold',
    values['neighbourhood-threshold'],
    2,
    255,
    true,
  );
  const workers = parseNumber('--workers', values.workers, 0, 64, true) ?? availableParallelism();
  const clientWorkers = parseNumber('--client-workers', values['client-workers'], 0, 64, true) ?? 0;
  const oneByOne = values['one-by-one'] === true;
  let roundParams;
  try {
    roundParams = resolveParams(sites, { vectorLength: params, neighbours, neighbourhoodThreshold });
  } catch (error) {
    // The protocol's error code is for programs; the person at the terminal gets the explanation.
    if (error instanceof SecAggError)
      throw new CliError(`${COMMAND}: ${error.message.replace(`${error.code}: `, '')}`, 2);
    throw error;
  }
  const dropped = Math.round(dropout * sites);
  const json = values.json !== undefined;
  const log = (line: string) => console.log(line);

  // Raw ChaCha20 throughput, on this thread, in the same run (ratios, not absolute figures, are what matter).
  log(
    `secagg bench: ${sites} sites, ${params} params, dropout ${dropout} (${dropped} sites), ${roundParams.neighbours === undefined ? 'complete graph' : `k = ${roundParams.neighbours}`}, t = ${roundParams.threshold}${roundParams.neighbours === undefined ? '' : `, ${roundParams.neighbourhoodThreshold} of ${roundParams.neighbours + 1} per neighbourhood`}`,
  );
  // Measured before and after the round and averaged, so a change in machine load during the run shifts
  // the raw figure and the protocol's figure alike.
  const opensslBefore = keystreamThroughput(opensslPrg, 128);
  const libsodiumBefore = keystreamThroughput(libsodiumPrg, 16);
  const nativeBefore = keystreamThroughput(nativePrg, 128);

  const cpuNow = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  // The sites' engine, with the CPU time of its apply calls counted too (all threads of the process).
  const innerClientEngine =
    clientWorkers > 0 ? createWorkerMaskEngine({ workers: clientWorkers }) : nativeMaskEngine();
  let maskCpuMs = 0;
  const clientEngine: MaskEngine = {
    name: innerClientEngine.name,
    stats: innerClientEngine.stats,
    allocate: (length) => innerClientEngine.allocate(length),
    async apply(target, terms) {
      const started = cpuNow();
      try {
        await innerClientEngine.apply(target, terms);
      } finally {
        maskCpuMs += cpuNow() - started;
      }
    },
    close: () => innerClientEngine.close(),
  };
  const serverEngine = workers > 0 ? createWorkerMaskEngine({ workers }) : nativeMaskEngine();
  try {
    // Long-running agents keep their worker threads: start them and let the JIT settle before timing.
    const perSite = (roundParams.neighbours ?? sites - 1) + 1;
    const warmTerms = randomTerms(Math.min(perSite, 8), 4);
    const warmKeys = sodium.crypto_sign_keypair();
    const warmMessage = sodium.randombytes_buf(64);
    const warmJobs = Array.from({ length: 64 }, () => ({
      signature: sodium.crypto_sign_detached(warmMessage, warmKeys.privateKey),
      message: warmMessage,
      publicKey: warmKeys.publicKey,
    }));
    const warmShares = await split(sodium.randombytes_buf(32), 5, 3);
    for (let i = 0; i < 3; i++) {
      await timeJob(clientEngine, Math.max(params, 1 << 17), warmTerms, 1);
      await timeJob(serverEngine, Math.max(params, 1 << 17), warmTerms, 1);
      await serverEngine.verifySignatures?.(warmJobs);
      await serverEngine.combineShares?.(Array.from({ length: 256 }, () => warmShares.slice(0, 3)));
    }
    clientEngine.stats.ms = 0;
    clientEngine.stats.keystreamBytes = 0;
    maskCpuMs = 0;
    serverEngine.stats.ms = 0;
    serverEngine.stats.keystreamBytes = 0;

    const identities = makeIdentities(sites);
    const dropList = Array.from({ length: dropped }, (_, i) =>
      Math.floor((i * sites) / Math.max(dropped, 1)),
    );
    const stages = stagesFor(roundParams.neighbours);
    const bar = new ProgressBar('secagg round', stages.length * sites, true);
    // The raw figure the mask throughput is compared with, measured side by side: after each site masked
    // (outside its timed call, before the next site's), as many raw keystream bytes as it just applied, on
    // the same thread, in the same 64 KiB reads. Both figures then see the same machine load.
    let rawBytes = 0;
    let rawMs = 0;
    let rawCpuMs = 0;
    const interleaveRaw = () => {
      const pending = clientEngine.stats.keystreamBytes - rawBytes;
      if (pending <= 0) return;
      const started = cpuNow();
      rawMs += keystreamBurst(opensslPrg, pending);
      rawCpuMs += cpuNow() - started;
      rawBytes += pending;
    };
    const wallStarted = performance.now();
    const record = sites * params * 4 <= MAX_RECORDED_BYTES;
    const simulation: SimulateOptions = {
      identities,
      params,
      neighbours,
      neighbourhoodThreshold,
      batchSigned: !oneByOne,
      dropouts: { 'masked-input': dropList },
      serverEngine,
      cpuClock: cpuNow,
    };
    let sim;
    try {
      sim = await simulateRound({
        ...simulation,
        record,
        clientEngine,
        progress: (stage, done) => {
          if (stage === 'masked-input' || stage === 'consistency') interleaveRaw();
          bar.update(stages.indexOf(stage) * sites + done, stage);
        },
      });
    } catch (error) {
      if (error instanceof SecAggError)
        throw new CliError(`${COMMAND}: the round aborted: ${error.message}`, 1);
      throw error;
    }
    bar.update(5 * sites, 'done');
    const wallMs = performance.now() - wallStarted;
    const alone = [];
    for (let i = 0; record && i < REPLAYS; i++) alone.push(await replayCoordinator(simulation, sim));
    sim.received = undefined; // the recorded masked inputs, no longer needed
    const aloneMedian = alone.length > 0 ? median(alone.map((replay) => replay.serverMs)) : undefined;
    const typical = alone.find((replay) => replay.serverMs === aloneMedian);
    interleaveRaw();
    const rawSideBySideMbS = rawBytes / 1e6 / (rawMs / 1000);
    const opensslAfter = keystreamThroughput(opensslPrg, 128);
    const libsodiumAfter = keystreamThroughput(libsodiumPrg, 16);
    const nativeAfter = keystreamThroughput(nativePrg, 128);
    const libsodiumMbS = (libsodiumBefore + libsodiumAfter) / 2;
    const completed = sim.result.sets.u5;
    const clientMs = median(completed.map((site) => sim.clientMs.get(site)!));
    const upload = median(completed.map((site) => sim.uploadBytes.get(site)!));
    const maskMbS = clientEngine.stats.keystreamBytes / 1e6 / (clientEngine.stats.ms / 1000);
    const serverMaskMbS =
      serverEngine.stats.ms > 0
        ? serverEngine.stats.keystreamBytes / 1e6 / (serverEngine.stats.ms / 1000)
        : 0;

    // Does spreading the unmasking over threads help here? The same job shape (one self-mask stream per alive
    // site, one pair stream per dead–alive neighbour pair) on this thread and on the worker pool, side by side.
    const included = new Set(sim.result.included);
    const alive = included.size;
    const deadPairs = sim.result.sets.u2
      .filter((site) => !included.has(site))
      .reduce((sum, v) => sum + sim.server.neighboursOf(v).filter((u) => included.has(u)).length, 0);
    const unmaskTerms = randomTerms(alive + deadPairs, deadPairs);
    const inThread = new InThreadMaskEngine(opensslPrg);
    await timeJob(inThread, Math.max(params, 1 << 16), warmTerms, 3); // warm this thread's JIT too
    const unmaskInThreadMs = await timeJob(inThread, params, unmaskTerms, 2);
    const pool = workers > 0 ? serverEngine : createWorkerMaskEngine({ workers: 2 });
    const unmaskWorkersMs = await timeJob(pool, params, unmaskTerms, 2);
    if (pool !== serverEngine) await pool.close();
    // And the same for one site's masking job.
    const siteTerms = randomTerms(perSite, Math.ceil(perSite / 2));
    const maskInThreadMs = await timeJob(inThread, params, siteTerms);
    const siteMb = (params * 4 * perSite) / 1e6;

    const figures = {
      sites,
      params,
      dropout,
      neighbours: roundParams.neighbours ?? null,
      threshold: roundParams.threshold,
      neighbourhood_threshold: roundParams.neighbourhoodThreshold,
      exact: sim.exact && alone.every((replay) => replay.exact),
      included: sim.result.included.length,
      dropped: sim.result.dropped.length,
      client_ms: round(clientMs),
      client_stage_ms: Object.fromEntries(
        stages.map((stage) => [
          stage,
          round(median(completed.map((site) => sim.clientStageMs.get(site)![stage] ?? 0)), 2),
        ]),
      ),
      client_cpu_ms: round(median(completed.map((site) => sim.clientCpuMs.get(site)!))),
      // The coordinator alone (median of the replays), or in the round when the round was too big to record.
      server_ms: round(typical?.serverMs ?? sim.serverMs),
      server_cpu_ms: round(typical?.serverCpuMs ?? sim.serverCpuMs),
      server_stage_ms: stageFigures(typical?.serverStageMs ?? sim.serverStageMs),
      server_measured: typical
        ? `coordinator alone: the round's messages replayed back to back, median of ${alone.length}`
        : `inside the round (masked inputs over ${MAX_RECORDED_BYTES / 2 ** 30} GiB are not recorded for a replay)`,
      server_alone_ms_runs: alone.map((replay) => round(replay.serverMs)),
      server_alone_exact: alone.every((replay) => replay.exact),
      server_in_round_ms: round(sim.serverMs),
      server_in_round_cpu_ms: round(sim.serverCpuMs),
      server_in_round_stage_ms: stageFigures(sim.serverStageMs),
      mask_mb_s: round(maskMbS),
      mask_threads: clientWorkers > 0 ? clientWorkers : 1,
      openssl_chacha20_mb_s: round(rawSideBySideMbS),
      openssl_threads: 1,
      openssl_measured: 'interleaved with the sites masking: same thread, same bytes, same 64 KiB reads',
      openssl_chacha20_mb_s_before_after: [round(opensslBefore), round(opensslAfter)],
      libsodium_wasm_chacha20_mb_s: round(libsodiumMbS),
      // The masks' own PRG (native libsodium where it loads), raw, alone before and after the round.
      native_prg: nativePrg.name,
      native_chacha20_mb_s: round((nativeBefore + nativeAfter) / 2),
      mask_vs_openssl: round(maskMbS / rawSideBySideMbS, 3),
      // The same two figures over CPU time instead of wall time (less sensitive to other jobs' load).
      mask_mb_s_cpu: round(clientEngine.stats.keystreamBytes / 1e3 / maskCpuMs),
      openssl_chacha20_mb_s_cpu: round(rawBytes / 1e3 / rawCpuMs),
      mask_vs_openssl_cpu: round(clientEngine.stats.keystreamBytes / maskCpuMs / (rawBytes / rawCpuMs), 3),
      server_receive: oneByOne ? 'receive, one message at a time' : 'receiveAll per signed stage',
      mask_in_thread_mb_s: round(siteMb / (maskInThreadMs / 1000)),
      server_mask_mb_s: round(serverMaskMbS),
      unmask_streams: unmaskTerms.length,
      unmask_in_thread_ms: round(unmaskInThreadMs),
      unmask_workers_ms: round(unmaskWorkersMs),
      unmask_worker_speedup: round(unmaskInThreadMs / unmaskWorkersMs, 2),
      upload_bytes_per_site: upload,
      expansion: round(upload / (4 * params), 5),
      wall_ms: round(wallMs),
      client_engine: clientEngine.name,
      server_engine: serverEngine.name,
      machine: {
        cpus: cpus().length,
        model: cpus()[0]?.model ?? 'unknown',
        load_average: loadavg().map((l) => round(l, 2)),
        node: process.version,
      },
    };
    if (json) writeFileSync(values.json!, `${JSON.stringify(figures, null, 2)}\n`);
    const rows: [string, string][] = [
      ['exact (sum = plain sum)', String(figures.exact)],
      ['sites included / dropped', `${figures.included} / ${figures.dropped}`],
      ['client ms (median site, all stages)', fmt(figures.client_ms)],
      ['  by stage (medians)', stageLine(figures.client_stage_ms)],
      ['client CPU ms (median site, all threads)', fmt(figures.client_cpu_ms)],
      [
        'server ms (all stages, unmasking incl.)',
        `${fmt(figures.server_ms)} (${typical ? `alone, median of ${figures.server_alone_ms_runs.map(fmt).join(' / ')}` : 'in the round'})`,
      ],
      ['  by stage', stageLine(figures.server_stage_ms)],
      ['server CPU ms (all threads)', fmt(figures.server_cpu_ms)],
      ['server ms in the round (sites between its calls)', fmt(figures.server_in_round_ms)],
      ['  by stage', stageLine(figures.server_in_round_stage_ms)],
      ['mask MB/s inside the protocol', `${fmt(figures.mask_mb_s)} (${clientEngine.name})`],
      [
        'raw OpenSSL ChaCha20 MB/s (1 thread, side by side)',
        `${fmt(figures.openssl_chacha20_mb_s)} (alone before ${fmt(round(opensslBefore))}, after ${fmt(round(opensslAfter))})`,
      ],
      ['raw libsodium WASM ChaCha20 MB/s', fmt(figures.libsodium_wasm_chacha20_mb_s)],
      [
        `raw ${figures.native_prg} ChaCha20 MB/s (alone)`,
        `${fmt(figures.native_chacha20_mb_s)} (before ${fmt(round(nativeBefore))}, after ${fmt(round(nativeAfter))})`,
      ],
      ['mask / raw OpenSSL', fmt(figures.mask_vs_openssl)],
      [
        '  the same over CPU time',
        `${fmt(figures.mask_mb_s_cpu)} / ${fmt(figures.openssl_chacha20_mb_s_cpu)} = ${fmt(figures.mask_vs_openssl_cpu)}`,
      ],
      ['mask MB/s, one site on 1 thread', fmt(figures.mask_in_thread_mb_s)],
      [
        `unmask job (${figures.unmask_streams} streams): 1 thread / workers ms`,
        `${fmt(figures.unmask_in_thread_ms)} / ${fmt(figures.unmask_workers_ms)} (×${figures.unmask_worker_speedup})`,
      ],
      ['upload bytes per site', String(figures.upload_bytes_per_site)],
      ['expansion (upload / 4·params)', String(figures.expansion)],
      ['wall ms (whole simulation)', fmt(figures.wall_ms)],
    ];
    const width = Math.max(...rows.map(([label]) => label.length));
    for (const [label, value] of rows) log(`  ${label.padEnd(width)}  ${value}`);
    if (json) log(`wrote ${values.json}`);
    return sim.exact ? 0 : 1;
  } finally {
    await clientEngine.close();
    await serverEngine.close();
  }
}

function stageFigures(stageMs: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(stageMs).map(([stage, ms]) => [stage, round(ms)]));
}

function stageLine(stageMs: Record<string, number>): string {
  return Object.entries(stageMs)
    .map(([stage, ms]) => `${stage} ${fmt(ms)}`)
    .join(', ');
}

function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function fmt(value: number): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: 3 });
}
