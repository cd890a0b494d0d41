import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCommandArgs, parseIntegerOption } from '../core/cli/args.node.js';
import { CohortProcess, cohort } from '../core/cli/cohort-process.node.js';
import { freePort } from '../core/util/free-port.node.js';

const SITE_NAMES = [
  'Northgate General',
  'Riverside Children’s',
  'St. Lucia University Hospital',
  'Harbor Community',
  'Valley Regional',
  'Lakeside Medical',
];

/**
 * `cohort demo`: a coordinator and N sites as separate processes on loopback, each with its own
 * temporary data directory: init, invite, enroll, connect. Stays up until Ctrl-C, then stops every
 * process and removes the temporary directories.
 */
export async function run(_command: string, args: string[]): Promise<number> {
  const { values } = parseCommandArgs('demo', args, { sites: { type: 'string' } });
  if (values.help) {
    console.log(`usage: cohort demo [--sites N]

Starts a coordinator and N hospital sites (default 3) on this machine, enrolls them, waits until all
are connected, and prints the site UI addresses and the coordinator status. Ctrl-C stops everything.`);
    return 0;
  }
  const siteCount = parseIntegerOption('demo', values.sites, '--sites', 1, SITE_NAMES.length) ?? 3;
  const root = mkdtempSync(join(tmpdir(), 'cohort-demo-'));
  const processes: CohortProcess[] = [];
  const stopAll = async () => {
    await Promise.all(processes.map((p) => p.stop()));
    rmSync(root, { recursive: true, force: true });
  };
  let interrupted = false;
  const interrupt = new Promise<void>((resolve) =>
    process.once('SIGINT', () => {
      interrupted = true;
      resolve();
    }),
  );
  process.once('SIGTERM', () => process.emit('SIGINT'));

  try {
    const port = await freePort();
    const coordinatorDir = join(root, 'coordinator');
    step(`coordinator: initialising in ${coordinatorDir}`);
    cohort(
      'server',
      'init',
      '--data-dir',
      coordinatorDir,
      '--name',
      'Cohort demo consortium',
      '--public-url',
      `https://127.0.0.1:${port}`,
    );
    const coordinator = new CohortProcess(['server', 'start', '--data-dir', coordinatorDir]);
    processes.push(coordinator);
    await coordinator.waitForEvent((e) => e.event === 'listening', 'the coordinator to listen');
    step(`coordinator: listening on https://127.0.0.1:${port}`);

    const uis: { name: string; url: string }[] = [];
    for (const name of SITE_NAMES.slice(0, siteCount)) {
      const siteDir = join(root, `site-${uis.length + 1}`);
      const { link } = JSON.parse(
        cohort('server', 'invite', '--data-dir', coordinatorDir, '--site', name, '--json'),
      ) as { link: string };
      cohort('site', 'enroll', '--data-dir', siteDir, link);
      const site = new CohortProcess(['site', 'serve', '--data-dir', siteDir]);
      processes.push(site);
      const ready = await site.waitForEvent((e) => e.event === 'ready', `${name}'s agent to start`);
      await site.waitForEvent(
        (e) => e.event === 'connection' && e.state === 'connected',
        `${name} to connect`,
      );
      step(`${name}: enrolled and connected`);
      uis.push({ name, url: String(ready.url) });
    }

    console.log('\nSite UIs (open in a browser; each link carries that agent’s launch token):');
    for (const ui of uis) console.log(`  ${ui.name.padEnd(32)} ${ui.url}`);
    console.log('');
    process.stdout.write(cohort('server', 'status', '--data-dir', coordinatorDir));
    console.log('\nAll running. Press Ctrl-C to stop the demo.');
    await interrupt;
    console.log('\nStopping…');
  } catch (error) {
    if (!interrupted) throw error;
  } finally {
    await stopAll();
  }
  console.log('Demo stopped; temporary data removed.');
  return 0;
}

function step(message: string): void {
  console.log(`• ${message}`);
}
