import { parseCommandArgs, requireOption } from '../../core/cli/args.node.js';
import { CliError } from '../../core/cli/errors.js';
import { loadCoordinatorConfig } from '../data-dir.js';
import { createInvitation, parseDuration } from '../invite.js';
import { CoordinatorStore } from '../store/coordinator-store.js';

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs('server invite', args, {
    'data-dir': { type: 'string' },
    site: { type: 'string' },
    expires: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    console.log(`usage: cohort server invite --data-dir DIR --site NAME [--expires 24h] [--json]

Prints a one-time enrollment link for a new site. It carries the coordinator's address, a token
(single use, stored hashed, expiring after --expires: 30m, 24h, 7d …) and the TLS certificate
fingerprint the site will pin. Give it to the site's operator over a channel you trust.`);
    return 0;
  }
  const dataDir = requireOption('server invite', values['data-dir'], '--data-dir');
  const siteName = requireOption('server invite', values.site?.trim(), '--site');
  if (siteName.length > 100) throw new CliError('server invite: --site must be at most 100 characters', 2);
  const ttl = parseDuration(values.expires ?? '24h');
  if (ttl === undefined)
    throw new CliError(
      `server invite: --expires '${values.expires}' is not a duration such as 30m, 24h or 7d`,
      2,
    );
  const { paths, config } = loadCoordinatorConfig(dataDir);
  const store = new CoordinatorStore(paths.database);
  try {
    const invitation = await createInvitation(store, config, siteName, ttl);
    if (values.json) console.log(JSON.stringify(invitation));
    else
      console.log(
        `Enrollment link for '${siteName}' (single use, expires ${invitation.expiresAt}):\n\n${invitation.link}\n`,
      );
  } catch (error) {
    throw new CliError(`server invite: ${(error as Error).message}`);
  } finally {
    store.close();
  }
  return 0;
}
