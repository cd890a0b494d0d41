import { parseCommandArgs, requireOption } from '../../core/cli/args.node.js';
import { CliError } from '../../core/cli/errors.js';
import type { AdminRevocation } from '../../core/protocol/admin.js';
import { AdminClient, URL_HELP } from '../admin-client.js';
import { coordinatorPaths, loadCoordinatorConfig, readListeningUrl } from '../data-dir.js';
import { CoordinatorStore } from '../store/coordinator-store.js';

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'revoke') return revoke(rest);
  console.log(`usage: cohort server site revoke --data-dir DIR --site ID …

  revoke   remove a site: its connection is closed, it is refused from then on, the other sites'
           rosters drop it, and its identity key can never enroll again`);
  return sub === '--help' || sub === '-h' ? 0 : 2;
}

async function revoke(args: string[]): Promise<number> {
  const command = 'server site revoke';
  const { values } = parseCommandArgs(command, args, {
    'data-dir': { type: 'string' },
    site: { type: 'string' },
    url: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    console.log(`usage: cohort ${command} --data-dir DIR --site ID [--url https://HOST:PORT] [--json]

Revokes the site with this id (see 'cohort server status'). The running coordinator closes its
connection at once, refuses it from then on and tells the other sites; with no coordinator running,
the revocation is written to the data directory and applies from the next start. The site's name can be
invited again; its identity key cannot enroll again.
${URL_HELP}`);
    return 0;
  }
  const dataDir = requireOption(command, values['data-dir'], '--data-dir');
  const siteId = requireOption(command, values.site, '--site');
  let revoked: AdminRevocation;
  if (values.url === undefined && readListeningUrl(coordinatorPaths(dataDir)) === undefined) {
    const { paths } = loadCoordinatorConfig(dataDir);
    const store = new CoordinatorStore(paths.database);
    try {
      const result = store.revokeSite(siteId, new Date().toISOString());
      if (!result.ok)
        throw new CliError(
          `${command}: ${result.reason === 'unknown' ? `no site '${siteId}'` : `site '${siteId}' is already revoked`}`,
        );
      revoked = { siteId, name: result.site.name, revokedAt: result.site.revokedAt! };
    } finally {
      store.close();
    }
  } else {
    const client = new AdminClient(command, dataDir, values.url);
    revoked = await client.post<AdminRevocation>(`/v1/admin/sites/${encodeURIComponent(siteId)}/revoke`, {});
  }
  if (values.json) console.log(JSON.stringify(revoked));
  else console.log(`Revoked '${revoked.name}' (${revoked.siteId}) at ${revoked.revokedAt}.`);
  return 0;
}
