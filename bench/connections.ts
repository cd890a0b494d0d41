/**
 * `cohort bench connections`: one coordinator process holding N authenticated site connections (default
 * 2,000, from 40 loopback addresses, as many hospitals would be): the coordinator's memory, and how long
 * after one more enrollment every connected site has been told (a roster delta).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type WebSocket from 'ws';
import { parseCommandArgs, parseIntegerOption } from '../core/cli/args.node.js';
import { CohortProcess } from '../core/cli/cohort-process.node.js';
import { encodeKey, generateIdentity } from '../core/crypto/identity.js';
import { parseEnrollmentLink } from '../core/protocol/enrollment.js';
import { freePort } from '../core/util/free-port.node.js';
import { connectByHand, coordinatorPin, enrollByHand, memoryOf, type HandDrivenSite } from './hand-site.js';
import { coordinatorPaths, loadCoordinatorConfig } from '../server/data-dir.js';
import { initCoordinator } from '../server/init.js';
import { createInvitation } from '../server/invite.js';
import { CoordinatorStore } from '../server/store/coordinator-store.js';

const usage = `usage: cohort bench connections [--sites N] [--json FILE]

Starts a coordinator (cohort server start) on loopback with N enrolled sites (default 2000), connects
them all from 40 loopback addresses, and reports the coordinator's RSS and how long one more enrollment
takes to reach every connected site.`;

const ADDRESSES = 40;

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs('bench connections', args, {
    sites: { type: 'string' },
    json: { type: 'string' },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const count = parseIntegerOption('bench connections', values.sites, '--sites', 2, 20_000) ?? 2000;
  const root = mkdtempSync(join(tmpdir(), 'cohort-bench-connections-'));
  const dataDir = join(root, 'coordinator');
  const port = await freePort();
  await initCoordinator({ dataDir, name: 'Load consortium', publicUrl: `https://127.0.0.1:${port}` });
  const { config } = loadCoordinatorConfig(dataDir);

  // The sites are enrolled in the store directly: enrollment's own rate limits are not what is measured.
  const sites: HandDrivenSite[] = [];
  const store = new CoordinatorStore(coordinatorPaths(dataDir).database);
  for (let i = 0; i < count; i++) {
    const identity = await generateIdentity();
    const { link } = await createInvitation(store, config, `Load site ${i}`, 3_600_000);
    const { token } = parseEnrollmentLink(link);
    const redeemed = store.redeemInvitation({
      tokenHash: createHash('sha256').update(token).digest('hex'),
      idSuffix: i.toString(16).padStart(6, '0'),
      identityPublicKey: encodeKey(identity.publicKey),
      now: new Date().toISOString(),
    });
    if (!redeemed.ok) throw new Error(`could not enroll load site ${i}: ${redeemed.reason}`);
    sites.push({ siteId: redeemed.site.id, identity });
  }
  store.close();

  const server = new CohortProcess(['server', 'start', '--data-dir', dataDir]);
  const sockets: WebSocket[] = [];
  try {
    await server.waitForEvent((e) => e.event === 'listening', 'the coordinator to listen');
    const url = `https://127.0.0.1:${port}`;
    const pin = coordinatorPin(dataDir);
    const idle = memoryOf(server.child.pid!);
    const connectStart = performance.now();
    let next = 0;
    await Promise.all(
      // 50 handshakes at a time: more only queues them behind each other on a small machine, past the
      // coordinator's 10-second hello limit.
      Array.from({ length: 50 }, async () => {
        while (next < count) {
          const i = next++;
          const from = `127.0.1.${1 + (i % ADDRESSES)}`;
          sockets.push(await connectByHand(url, pin, sites[i]!, from));
        }
      }),
    );
    const connectS = (performance.now() - connectStart) / 1000;
    const held = memoryOf(server.child.pid!);

    // One more enrollment: how long until every connected site has the roster delta naming it.
    const heard: number[] = [];
    const newcomer = 'Newcomer Clinic';
    const enrolled = new Promise<void>((resolve) => {
      for (const socket of sockets)
        socket.on('message', (data, isBinary) => {
          if (isBinary || !data.toString().includes(newcomer)) return;
          heard.push(performance.now());
          if (heard.length === sockets.length) resolve();
        });
    });
    const inviting = new CoordinatorStore(coordinatorPaths(dataDir).database);
    const invitation = await createInvitation(inviting, config, newcomer, 3_600_000);
    inviting.close();
    const enrollStart = performance.now();
    await enrollByHand(invitation.link, pin);
    await Promise.race([enrolled, new Promise((resolve) => setTimeout(resolve, 30_000))]);
    const latencies = heard.map((t) => t - enrollStart).sort((a, b) => a - b);
    const after = memoryOf(server.child.pid!);
    const result = {
      sites: count,
      connected: sockets.length,
      connect_s: Number(connectS.toFixed(2)),
      coordinator_rss_idle_mib: Math.round(idle.rssMiB),
      coordinator_rss_connected_mib: Math.round(held.rssMiB),
      coordinator_peak_mib: Math.round(after.peakMiB),
      announced_to: heard.length,
      announce_median_ms: Math.round(latencies[Math.floor(latencies.length / 2)] ?? NaN),
      announce_max_ms: Math.round(latencies.at(-1) ?? NaN),
    };
    console.log(JSON.stringify(result, null, 2));
    if (values.json) await writeFile(values.json, `${JSON.stringify(result, null, 2)}\n`);
    return 0;
  } finally {
    for (const socket of sockets) socket.terminate();
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
}
