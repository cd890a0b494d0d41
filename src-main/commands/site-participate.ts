import { parseCommandArgs, requireOption } from '../../core/cli/args.node.js';
import { CliError } from '../../core/cli/errors.js';
import type { ParticipationSettings } from '../../core/site-api/contract.js';
import { requireSiteStore } from '../agent/site-data-dir.js';
import { DEFAULT_PARTICIPATION, PARTICIPATION_SETTING } from '../federation/federation-client.js';
import { SiteStore } from '../store/site-store.js';

const onOff = (command: string, flag: string, value: string) => {
  if (value !== 'on' && value !== 'off')
    throw new CliError(`${command}: ${flag} takes on or off (got '${value}')`, 2);
  return value === 'on';
};

/**
 * The operator's participation switch from the command line (the desktop UI has the same controls).
 * It takes effect at the next round, even while `cohort site serve` runs.
 */
export async function run(args: string[]): Promise<number> {
  const command = 'site participate';
  const { values, positionals } = parseCommandArgs(
    command,
    args,
    {
      'data-dir': { type: 'string' },
      window: { type: 'string' },
      'auto-accept-roster': { type: 'string' },
      json: { type: 'boolean' },
    },
    true,
  );
  if (values.help) {
    console.log(`usage: cohort ${command} --data-dir DIR [on|off] [--window HH:MM-HH:MM|any] [--auto-accept-roster on|off] [--json]

Whether this site joins federated rounds (off by default: the operator decides), optionally only inside
a daily time window (local time; it may wrap midnight, e.g. 22:00-06:00), and whether sites the
coordinator adds are accepted without asking. With no arguments, prints the current settings.
Rounds are joined only under the federation configuration you approved and within this site's
security policy: see 'cohort site federation --help'.`);
    return 0;
  }
  const dataDir = requireOption(command, values['data-dir'], '--data-dir');
  if (positionals.length > 1)
    throw new CliError(`${command}: expected on or off, not '${positionals.join(' ')}'`, 2);
  const store = new SiteStore(requireSiteStore(command, dataDir).database);
  try {
    const current: ParticipationSettings = {
      ...DEFAULT_PARTICIPATION,
      ...store.getSetting<Partial<ParticipationSettings>>(PARTICIPATION_SETTING),
    };
    const next: ParticipationSettings = { ...current };
    if (positionals[0] !== undefined) next.participate = onOff(command, 'the switch', positionals[0]);
    if (values.window !== undefined) {
      const match = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$/.exec(values.window);
      if (values.window === 'any') next.window = null;
      else if (match) next.window = { start: values.window.slice(0, 5), end: values.window.slice(6) };
      else throw new CliError(`${command}: --window must be HH:MM-HH:MM or any (got '${values.window}')`, 2);
    }
    if (values['auto-accept-roster'] !== undefined)
      next.autoAcceptRoster = onOff(command, '--auto-accept-roster', values['auto-accept-roster']);
    if (JSON.stringify(next) !== JSON.stringify(current)) store.setSetting(PARTICIPATION_SETTING, next);
    if (values.json) console.log(JSON.stringify(next));
    else {
      console.log(
        `Participation: ${next.participate ? 'on' : 'off'}${next.window ? `, ${next.window.start}–${next.window.end} daily` : ''}; ` +
          `new sites: ${next.autoAcceptRoster ? 'accepted automatically' : 'need your approval'}`,
      );
    }
  } finally {
    store.close();
  }
  return 0;
}
