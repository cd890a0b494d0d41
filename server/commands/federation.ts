import { parseCommandArgs, parseIntegerOption, requireOption } from '../../core/cli/args.node.js';
import { CliError } from '../../core/cli/errors.js';
import { adapterConfigFor, DEFAULT_ADAPTER_CONFIG, type AdapterPart } from '../../core/ml/adapter.js';
import type { Strategy } from '../../core/fl/strategies.js';
import { configHash, type FederationConfig } from '../../core/protocol/federation.js';
import { AdminClient, URL_HELP } from '../admin-client.js';
import { readAnswerSet } from '../../core/data/answers.node.js';
import { parseDuration } from '../invite.js';

const PARTS: readonly AdapterPart[] = ['lora', 'prompt', 'head'];

function parseParts(command: string, text: string, flag: string): AdapterPart[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  for (const part of parts)
    if (!PARTS.includes(part as AdapterPart))
      throw new CliError(`${command}: ${flag} takes ${PARTS.join(', ')} (got '${part}')`, 2);
  return parts as AdapterPart[];
}

/** fedavg | fedprox[:mu] | fedadam[:lr] */
export function parseStrategy(command: string, text: string): Strategy {
  const [kind, value] = text.split(':');
  const number = (fallback: number) => {
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!(parsed > 0))
      throw new CliError(`${command}: --strategy ${kind}:${value} needs a positive number`, 2);
    return parsed;
  };
  if (kind === 'fedavg') return { kind: 'fedavg' };
  if (kind === 'fedprox') return { kind: 'fedprox', mu: number(0.01) };
  if (kind === 'fedadam') return { kind: 'fedadam', lr: number(0.01), beta1: 0.9, beta2: 0.99, tau: 1e-3 };
  throw new CliError(
    `${command}: --strategy must be fedavg, fedprox[:MU] or fedadam[:LR] (got '${text}')`,
    2,
  );
}

function durationMs(command: string, flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined)
    throw new CliError(`${command}: ${flag} '${text}' is not a duration such as 90s, 30m or 2h`, 2);
  return ms;
}

const createOptions = {
  'data-dir': { type: 'string' },
  id: { type: 'string' },
  name: { type: 'string' },
  answers: { type: 'string' },
  strategy: { type: 'string' },
  rounds: { type: 'string' },
  'min-sites': { type: 'string' },
  epochs: { type: 'string' },
  batch: { type: 'string' },
  lr: { type: 'string' },
  secure: { type: 'string' },
  threshold: { type: 'string' },
  neighbours: { type: 'string' },
  clip: { type: 'string' },
  parts: { type: 'string' },
  local: { type: 'string' },
  'training-deadline': { type: 'string' },
  'stage-deadline': { type: 'string' },
  seed: { type: 'string' },
  url: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** The overrides a `federation create` command line asks for (shared with `cohort demo`). */
export function federationOverrides(
  command: string,
  values: Partial<Record<keyof typeof createOptions, string | boolean | undefined>>,
): Partial<FederationConfig> {
  const str = (key: keyof typeof createOptions) =>
    typeof values[key] === 'string' ? (values[key] as string) : undefined;
  const overrides: Partial<FederationConfig> = {};
  if (str('strategy')) overrides.strategy = parseStrategy(command, str('strategy')!);
  const rounds = parseIntegerOption(command, str('rounds'), '--rounds', 1, 10_000);
  if (rounds) overrides.rounds = rounds;
  const minSites = parseIntegerOption(command, str('min-sites'), '--min-sites', 1, 100_000);
  if (minSites) overrides.minSites = minSites;
  const epochs = parseIntegerOption(command, str('epochs'), '--epochs', 1, 100);
  const batch = parseIntegerOption(command, str('batch'), '--batch', 1, 1024);
  const lr = str('lr') === undefined ? undefined : Number(str('lr'));
  if (lr !== undefined && !(lr > 0 && lr <= 1))
    throw new CliError(`${command}: --lr must be a number in (0, 1] (got '${str('lr')}')`, 2);
  if (epochs || batch || lr) {
    overrides.local = {
      epochs: epochs ?? 2,
      batchSize: batch ?? 32,
      lr: lr ?? 3e-3,
      weightDecay: 0.01,
      gradClip: 1,
    };
  }
  const secure = str('secure');
  if (secure !== undefined && secure !== 'on' && secure !== 'off')
    throw new CliError(`${command}: --secure takes on or off`, 2);
  const clip = str('clip') === undefined ? undefined : Number(str('clip'));
  if (clip !== undefined && !(clip > 0))
    throw new CliError(`${command}: --clip must be a positive number (got '${str('clip')}')`, 2);
  const threshold = parseIntegerOption(command, str('threshold'), '--threshold', 2, 100_000);
  const neighbours = parseIntegerOption(command, str('neighbours'), '--neighbours', 2, 254);
  if (secure !== undefined || clip || threshold || neighbours) {
    overrides.secure = {
      enabled: secure !== 'off',
      clipNorm: clip ?? 1,
      ...(threshold ? { threshold } : {}),
      ...(neighbours ? { neighbours } : {}),
    };
  }
  if (str('parts') || str('local')) {
    const parts = str('parts') ? parseParts(command, str('parts')!, '--parts') : PARTS.slice();
    const local = str('local') ? parseParts(command, str('local')!, '--local') : [];
    const adapter = adapterConfigFor(parts, DEFAULT_ADAPTER_CONFIG);
    overrides.adapter = {
      lora: { ...adapter.lora, shared: !local.includes('lora') },
      prompt: { ...adapter.prompt, shared: !local.includes('prompt') },
      head: { ...adapter.head, shared: !local.includes('head') },
    };
  }
  const training = durationMs(command, '--training-deadline', str('training-deadline'));
  const stage = durationMs(command, '--stage-deadline', str('stage-deadline'));
  if (training || stage)
    overrides.deadlines = { trainingMs: training ?? 30 * 60_000, stageMs: stage ?? 60_000 };
  const seed = parseIntegerOption(command, str('seed'), '--seed', 0, 2 ** 31 - 1);
  if (seed !== undefined) overrides.seed = seed;
  return overrides;
}

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'list') return list(rest);
  if (sub === 'create') return create(rest);
  console.log(`usage: cohort server federation create|list --data-dir DIR …

  create   create a federation (its config and version 0) on the running coordinator
  list     list federations with their latest version and completed rounds`);
  return sub === '--help' || sub === '-h' ? 0 : 2;
}

async function create(args: string[]): Promise<number> {
  const command = 'server federation create';
  const { values } = parseCommandArgs(command, args, createOptions);
  if (values.help) {
    console.log(`usage: cohort ${command} --data-dir DIR --id ID --name NAME --answers synth|vqa-rad:DIR|FILE.json
       [--strategy fedavg|fedprox[:MU]|fedadam[:LR]] [--rounds N] [--min-sites N]
       [--epochs E] [--batch B] [--lr LR] [--secure on|off] [--threshold T] [--neighbours K] [--clip C]
       [--parts lora,prompt,head] [--local PARTS] [--training-deadline 30m] [--stage-deadline 60s] [--seed S]
       [--url https://HOST:PORT] [--json]

Creates a federation on the running coordinator. The answer set is public: SynthRad-VQA's template
answers, a VQA-RAD-style directory's answer_all_list.json, or a JSON list. --local names adapter parts
that stay at each site (personalisation); the others are securely aggregated. --rounds is the planned
number of rounds: what the console offers to run.
${URL_HELP}`);
    return 0;
  }
  const dataDir = requireOption(command, values['data-dir'], '--data-dir');
  const id = requireOption(command, values.id, '--id');
  const name = values.name ?? id;
  let answers: string[];
  try {
    answers = await readAnswerSet(requireOption(command, values.answers, '--answers'));
  } catch (error) {
    throw new CliError(`${command}: ${(error as Error).message}`);
  }
  const overrides = federationOverrides(command, values);
  const client = new AdminClient(command, dataDir, values.url);
  const created = await client.post<{ id: string; config: FederationConfig; version: { hash: string } }>(
    '/v1/admin/federations',
    {
      id,
      name,
      answers,
      overrides,
    },
  );
  // Sites approve exactly this configuration (pinned by hash) before they join: give it to their operators.
  const hash = await configHash(created.config);
  if (values.json) console.log(JSON.stringify({ ...created, configHash: hash }));
  else {
    const { config } = created;
    console.log(`Created federation '${config.name}' (${created.id}): ${config.answers.length} answers, ${config.strategy.kind}, secure aggregation ${config.secure.enabled ? 'on' : 'OFF (insecure)'}
  version 0: ${created.version.hash.slice(0, 16)}…   base model: ${config.baseModelHash.slice(0, 16)}…
  configuration hash: ${hash}
Each site approves it: cohort site federation approve --data-dir SITE --federation ${created.id} --hash ${hash}
Next: cohort server rounds --data-dir ${dataDir} --federation ${created.id} --count ${config.rounds}`);
  }
  return 0;
}

async function list(args: string[]): Promise<number> {
  const command = 'server federation list';
  const { values } = parseCommandArgs(command, args, {
    'data-dir': { type: 'string' },
    url: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    console.log(`usage: cohort ${command} --data-dir DIR [--url https://HOST:PORT] [--json]\n\n${URL_HELP}`);
    return 0;
  }
  const client = new AdminClient(
    command,
    requireOption(command, values['data-dir'], '--data-dir'),
    values.url,
  );
  const result = await client.get<{
    federations: { id: string; name: string; latestVersion: number; completedRounds: number }[];
  }>('/v1/admin/federations');
  if (values.json) console.log(JSON.stringify(result));
  else if (result.federations.length === 0)
    console.log('No federations yet (create one with cohort server federation create).');
  else
    for (const f of result.federations)
      console.log(
        `  ${f.id.padEnd(24)} ${f.name.padEnd(32)} version ${f.latestVersion}, ${f.completedRounds} round(s) completed`,
      );
  return 0;
}
