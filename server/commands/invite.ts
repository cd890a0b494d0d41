import { parseCommandArgs, requireOption } from '../../core/cli/args.node.js';
import { CliError } from '../../core/cli/errors.js';
import { siteNameSchema, type AdminInvitationCancellation } from '../../core/protocol/admin.js';
import { loadCoordinatorConfig } from '../data-dir.js';
import { createInvitation, parseDuration } from '../invite.js';
import { CoordinatorStore } from '../store/coordinator-store.js';

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs('server invite', args, {
    'data-dir': { type: 'string' },
    site: { type: 'string' },
    expires: { type: 'string' },
    cancel: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    console.log(`usage: cohort server invite --data-dir DIR --site NAME [--expires 24h] [--json]
       cohort server invite --data-dir DIR --site NAME --cancel [--json]

Prints a one-time enrollment link for a new site. It carries the coordinator's address, a token
(single use, stored hashed, expiring after --expires: 30m, 24h, 7d …) and the TLS certificate
fingerprint the site will pin. Give it to the site's operator over a channel you trust.
--cancel cancels the site name's invitations that have not been used: their links are refused.`);
    return 0;
  }
  const dataDir = requireOption('server invite', values['data-dir'], '--data-dir');
  const name = siteNameSchema.safeParse(requireOption('server invite', values.site, '--site'));
  if (!name.success) throw new CliError(`server invite: --site: ${name.error.issues[0]?.message}`, 2);
  const siteName = name.data;
  if (values.cancel) return cancel(dataDir, siteName, values.json === true);
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

function cancel(dataDir: string, siteName: string, json: boolean): number {
  const { paths } = loadCoordinatorConfig(dataDir);
  const store = new CoordinatorStore(paths.database);
  let cancelled: number;
  try {
    cancelled = store.cancelInvitations(siteName, new Date().toISOString());
  } finally {
    store.close();
  }
  if (cancelled === 0) throw new CliError(`server invite: no open invitation for a site named '${siteName}'`);
  if (json) console.log(JSON.stringify({ siteName, cancelled } satisfies AdminInvitationCancellation));
  else console.log(`Cancelled ${cancelled} invitation(s) for '${siteName}'.`);
  return 0;
}
