import { afterEach, describe, expect, it } from 'vitest';
import { CLOSE_CODES } from '../../core/protocol/session.js';
import { initCoordinator, inviteLink, startCoordinator, stopProcesses } from '../support/processes.js';
import { auditRows, closed, floodEnrollment, sendOversizedFrame } from './hostile-client.js';
import { connectByHand, coordinatorPin, enrollByHand, memoryOf } from '../../bench/hand-site.js';
import { recordChaos } from './report.js';

// A real coordinator process on loopback, attacked the way the probes did (issue 13).

afterEach(stopProcesses);

const MiB = 1024 * 1024;

describe('limits before trust', () => {
  it('30 unauthenticated sockets each sending a 60 MiB frame: the coordinator stays under 300 MiB', async () => {
    const coordinator = await initCoordinator();
    const server = await startCoordinator(coordinator);
    const before = memoryOf(server.child.pid!);
    const results = await Promise.all(
      Array.from({ length: 30 }, () => sendOversizedFrame(coordinator.url, 60 * MiB)),
    );
    const after = memoryOf(server.child.pid!);
    console.log(
      `coordinator RSS ${before.rssMiB.toFixed(0)} → ${after.rssMiB.toFixed(0)} MiB (peak ${after.peakMiB.toFixed(0)} MiB); ` +
        `payload written before the close: max ${(Math.max(...results.map((r) => r.written)) / MiB).toFixed(1)} MiB`,
    );
    recordChaos({ faultsInjected: 30, messagesFuzzed: 30 });
    expect(after.peakMiB).toBeLessThan(300);
    // Each connection is cut as soon as the frame's header arrives, long before its 60 MiB.
    for (const { written } of results) expect(written).toBeLessThan(60 * MiB);
    expect(server.child.exitCode).toBeNull();
  });

  it('10,000 refused enrollments and 50,000 invalid frames from an enrolled site grow the audit by a few hundred rows at most, and the site is disconnected', async () => {
    const coordinator = await initCoordinator();
    const server = await startCoordinator(coordinator);
    const pin = coordinatorPin(coordinator.dataDir);
    const site = await enrollByHand(inviteLink(coordinator, 'Noisy Clinic'), pin);
    const start = auditRows(coordinator.dataDir);

    const statuses = await floodEnrollment(coordinator.url, 10_000);
    expect(Object.values(statuses).reduce((a, b) => a + b, 0)).toBe(10_000);
    expect(statuses[200]).toBeUndefined();
    // Past the burst, attempts are turned away before any signature check or store lookup.
    expect(statuses[429]).toBeGreaterThan(9_000);

    const socket = await connectByHand(coordinator.url, pin, site);
    const whenClosed = closed(socket);
    let sent = 0;
    for (; sent < 50_000 && socket.readyState === socket.OPEN; sent++) socket.send(Buffer.from([1, 2, 3]));
    const { code, reason } = await whenClosed;
    expect(code).toBe(CLOSE_CODES.protocolError);
    expect(reason).toMatch(/too many invalid messages/);
    // The disconnected site is refused for a while rather than let straight back in.
    await expect(connectByHand(coordinator.url, pin, site)).rejects.toThrow(/invalid messages/);

    // Summaries are written when the window ends, or at shutdown.
    await server.stop();
    const grown = auditRows(coordinator.dataDir) - start;
    console.log(
      `audit grew by ${grown} rows for 10,000 refused enrollments and ${sent} frames sent (statuses ${JSON.stringify(statuses)})`,
    );
    expect(grown).toBeLessThan(300);
    expect(auditRows(coordinator.dataDir, 'site-disconnected-abuse')).toBe(1);
    expect(auditRows(coordinator.dataDir, 'refusals-summary')).toBeGreaterThan(0);
    recordChaos({ faultsInjected: 2, messagesFuzzed: 10_000 + sent });
  });
});
