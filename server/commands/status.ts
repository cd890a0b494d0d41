import { parseCommandArgs, requireOption } from '../../core/cli/args.node.js';
import type { AdminStatus } from '../../core/protocol/admin.js';
import { AdminClient, URL_HELP } from '../admin-client.js';

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs('server status', args, {
    'data-dir': { type: 'string' },
    url: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    console.log(`usage: cohort server status --data-dir DIR [--url https://HOST:PORT] [--json]

Asks the running coordinator which sites are enrolled and connected (admin token from the data dir).
${URL_HELP}`);
    return 0;
  }
  const dataDir = requireOption('server status', values['data-dir'], '--data-dir');
  const client = new AdminClient('server status', dataDir, values.url);
  const status = await client.get<AdminStatus>('/v1/admin/status');
  if (values.json) {
    console.log(JSON.stringify(status));
    return 0;
  }
  const connected = status.sites.filter((s) => s.connected).length;
  console.log(
    `Coordinator '${status.coordinator.name}' at ${client.url} — identity ${status.coordinator.identityFingerprint}`,
  );
  console.log(`${status.sites.length} site(s) enrolled, ${connected} connected`);
  for (const site of status.sites) {
    const state = site.revoked ? 'revoked' : site.connected ? 'connected' : 'offline';
    console.log(`  ${site.name.padEnd(28)} ${site.id.padEnd(34)} ${state.padEnd(10)} ${site.fingerprint}`);
  }
  return 0;
}
