import { parseCommandArgs, parseIntegerOption, requireOption } from '../../core/cli/args.node.js';
import { requireSiteStore } from '../agent/site-data-dir.js';
import { SiteStore } from '../store/site-store.js';

/** What left this machine: every message the site sent, with its size, hash and recipient. */
export async function run(args: string[]): Promise<number> {
  const command = 'site audit';
  const { values } = parseCommandArgs(command, args, {
    'data-dir': { type: 'string' },
    limit: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    console.log(`usage: cohort ${command} --data-dir DIR [--limit N] [--json]`);
    return 0;
  }
  const limit = parseIntegerOption(command, values.limit, '--limit', 1, 10_000) ?? 50;
  const store = new SiteStore(
    requireSiteStore(command, requireOption(command, values['data-dir'], '--data-dir')).database,
  );
  try {
    const page = store.auditLog(0, limit);
    if (values.json) {
      console.log(JSON.stringify(page));
      return 0;
    }
    console.log(
      `${page.total} message(s), ${page.totalBytes.toLocaleString('en-US')} bytes sent in all (newest first):`,
    );
    for (const entry of page.entries) {
      console.log(
        `  ${entry.at}  ${entry.kind.padEnd(14)} ${String(entry.bytes).padStart(10)} B  sha256 ${entry.sha256.slice(0, 16)}…  → ${entry.recipient}`,
      );
    }
  } finally {
    store.close();
  }
  return 0;
}
