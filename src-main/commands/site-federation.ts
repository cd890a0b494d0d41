import { parseCommandArgs, parseIntegerOption, requireOption } from '../../core/cli/args.node.js';
import { CliError } from '../../core/cli/errors.js';
import { federationConfigSchema } from '../../core/protocol/federation.js';
import type { FederationSecurity, SitePolicy } from '../../core/site-api/contract.js';
import { requireSiteStore } from '../agent/site-data-dir.js';
import { approvePendingConfig, securityView } from '../federation/config-approval.js';
import { formatFraction } from '../../core/secagg/index.js';
import { SiteStore } from '../store/site-store.js';

const USAGE = `usage: cohort site federation show --data-dir DIR [--json]
       cohort site federation approve --data-dir DIR --federation ID [--hash HEX] [--wait SECONDS] [--json]
       cohort site federation policy --data-dir DIR [--insecure-for-benchmarks on|off] [--min-threshold N/D]
              [--min-neighbours K] [--min-sites N] [--auto-accept-config on|off] [--json]

show     this site's security policy, the federation configuration its operator approved (pinned by hash),
         any configuration the coordinator offers that awaits approval (field by field), recent declines.
approve  approves the configuration awaiting approval for federation ID. --hash: the hash (or its first
         characters) you reviewed; approval fails if the offer changed since. With nothing offered yet,
         a full 64-digit --hash (circulated by the consortium out of band) approves in advance: the first
         offer with exactly that hash is pinned. --wait: wait up to SECONDS for an offer first. A
         configuration below the policy is refused.
policy   changes the policy. Only this site's operator can: no coordinator message touches it.
         --insecure-for-benchmarks on: allow rounds without secure aggregation (updates and counters in
         the clear, for measuring its overhead only). --min-threshold: the least t as a fraction of the
         roster (t > N/D · n; at least 1/2). --min-neighbours: the least SecAgg+ neighbourhood.
         --min-sites: the least sites per round. --auto-accept-config on: approve changes that weaken no
         security field without asking.`;

const onOff = (command: string, flag: string, value: string) => {
  if (value !== 'on' && value !== 'off')
    throw new CliError(`${command}: ${flag} takes on or off (got '${value}')`, 2);
  return value === 'on';
};

/** The operator's side of config pinning and the site security policy (the desktop UI has the same). */
export async function run(args: string[]): Promise<number> {
  const command = 'site federation';
  const { values, positionals } = parseCommandArgs(
    command,
    args,
    {
      'data-dir': { type: 'string' },
      federation: { type: 'string' },
      hash: { type: 'string' },
      wait: { type: 'string' },
      'insecure-for-benchmarks': { type: 'string' },
      'min-threshold': { type: 'string' },
      'min-neighbours': { type: 'string' },
      'min-sites': { type: 'string' },
      'auto-accept-config': { type: 'string' },
      json: { type: 'boolean' },
    },
    true,
  );
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const [action, ...extra] = positionals;
  if (!action || !['show', 'approve', 'policy'].includes(action) || extra.length > 0)
    throw new CliError(`${command}: expected show, approve or policy (see --help)`, 2);
  const sub = `${command} ${action}`;
  const dataDir = requireOption(sub, values['data-dir'], '--data-dir');
  const store = new SiteStore(requireSiteStore(sub, dataDir).database);
  try {
    if (action === 'approve') {
      const federationId = requireOption(sub, values.federation, '--federation');
      if (values.hash !== undefined && !/^[0-9a-f]{4,64}$/.test(values.hash))
        throw new CliError(`${sub}: --hash takes 4 to 64 hex digits`, 2);
      const waitSeconds = parseIntegerOption(sub, values.wait, '--wait', 0, 3600) ?? 0;
      const deadline = Date.now() + waitSeconds * 1000;
      while (store.pendingConfigs(federationId).length === 0 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 100));
      let row;
      try {
        row = await approvePendingConfig(store, federationId, values.hash);
      } catch (error) {
        throw new CliError(`${sub}: ${(error as Error).message}`);
      }
      console.log(
        values.json
          ? JSON.stringify({ federationId, ...row })
          : row.inAdvance
            ? `Approved configuration ${row.configHash} of federation '${federationId}' in advance: the first offer with exactly this hash is pinned.`
            : `Approved configuration ${row.configHash} of federation '${federationId}'.`,
      );
      return 0;
    }
    if (action === 'policy') {
      const next: SitePolicy = { ...store.sitePolicy() };
      if (values['insecure-for-benchmarks'] !== undefined)
        next.secureRequired = !onOff(sub, '--insecure-for-benchmarks', values['insecure-for-benchmarks']);
      if (values['min-threshold'] !== undefined) {
        const match = /^(\d+)\/(\d+)$/.exec(values['min-threshold']);
        if (!match) throw new CliError(`${sub}: --min-threshold takes a fraction N/D such as 2/3`, 2);
        next.minThreshold = { numerator: Number(match[1]), denominator: Number(match[2]) };
      }
      const neighbours = parseIntegerOption(sub, values['min-neighbours'], '--min-neighbours', 2, 254);
      if (neighbours !== undefined) next.minNeighbours = neighbours;
      const sites = parseIntegerOption(sub, values['min-sites'], '--min-sites', 2, 100_000);
      if (sites !== undefined) next.minSites = sites;
      if (values['auto-accept-config'] !== undefined)
        next.autoAcceptConfig = onOff(sub, '--auto-accept-config', values['auto-accept-config']);
      try {
        store.setSitePolicy(next);
      } catch (error) {
        const issue = (error as { issues?: { message: string }[] }).issues?.[0]?.message;
        throw new CliError(`${sub}: ${issue ?? (error as Error).message}`, 2);
      }
      console.log(values.json ? JSON.stringify(next) : formatPolicy(next));
      return 0;
    }
    const view = await securityView(store);
    console.log(values.json ? JSON.stringify(view) : formatSecurity(view));
    return 0;
  } finally {
    store.close();
  }
}

function formatPolicy(policy: SitePolicy): string {
  return [
    'Security policy (set at this site only):',
    `  secure aggregation   ${policy.secureRequired ? 'required' : 'NOT required (insecure mode allowed, for benchmarks only)'}`,
    `  least threshold      t > ${formatFraction(policy.minThreshold)} of the roster, and a strict majority`,
    `  least neighbourhood  ${policy.minNeighbours} sites (SecAgg+)`,
    `  least sites a round  ${policy.minSites}`,
    `  config changes       ${policy.autoAcceptConfig ? 'approved automatically when no security field weakens' : 'need your approval'}`,
  ].join('\n');
}

/** The fields an operator checks first, in the order that matters for what leaves the site. */
function summarise(raw: Record<string, unknown>): string[] {
  const config = federationConfigSchema.parse(raw);
  const parts = (['lora', 'prompt', 'head'] as const)
    .filter((part) => config.adapter[part].enabled)
    .map((part) => `${part} (${config.adapter[part].shared ? 'shared' : 'stays here'})`);
  return [
    `name '${config.name}', strategy ${config.strategy.kind}, ${config.answers.length} answers`,
    `adapter: ${parts.join(', ') || 'none'}`,
    `secure aggregation ${config.secure.enabled ? 'on' : 'OFF'}, threshold ${config.secure.threshold ?? 'default (> 2n/3)'}, neighbours ${config.secure.neighbours ?? 'default'}, clip ${config.secure.clipNorm}, minSites ${config.minSites}`,
  ];
}

const show = (value: unknown) => (value === undefined ? '(unset)' : JSON.stringify(value));

function formatSecurity(view: FederationSecurity): string {
  const lines = [formatPolicy(view.policy), ''];
  if (view.pinned.length === 0) lines.push('No federation configuration approved yet.');
  for (const early of view.preapproved)
    lines.push(`Approved in advance for '${early.federationId}': ${early.configHash} (${early.approvedAt})`);
  for (const pinned of view.pinned) {
    lines.push(
      `Approved configuration of '${pinned.federationId}': ${pinned.configHash} (${pinned.approvedBy}, ${pinned.approvedAt})`,
    );
    for (const line of summarise(pinned.config)) lines.push(`  ${line}`);
  }
  for (const pending of view.pending) {
    lines.push(
      '',
      `AWAITING APPROVAL for '${pending.federationId}': ${pending.configHash} (offered ${pending.receivedAt})`,
    );
    if (pending.changes === null) for (const line of summarise(pending.config)) lines.push(`  ${line}`);
    else
      for (const change of pending.changes)
        lines.push(
          `  ${change.weakens ? '! ' : '  '}${change.field}: ${show(change.approved)} → ${show(change.offered)}${change.weakens ? '  (weakens security)' : ''}`,
        );
    for (const problem of pending.policyProblems) lines.push(`  below the policy: ${problem}`);
    lines.push(
      `  approve with: cohort site federation approve --data-dir DIR --federation ${pending.federationId} --hash ${pending.configHash.slice(0, 12)}`,
    );
  }
  if (view.declines.length > 0) {
    lines.push('', 'Recent declines (newest first):');
    for (const decline of view.declines.slice(0, 10))
      lines.push(
        `  ${decline.at}  ${decline.federationId}${decline.round !== null ? ` round ${decline.round}` : ''}${decline.version !== null ? ` version ${decline.version}` : ''}: ${decline.reason}`,
      );
  }
  return lines.join('\n');
}
