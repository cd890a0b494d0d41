import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { RunningCoordinator } from '../../server/coordinator.js';
import type { SiteAgent } from '../../src-main/agent/site-agent.js';
import { createFederation, federationOf } from '../support/federation-rounds.js';
import { cleanupTempDirs } from '../support/temp.js';
import { recordChaos } from './report.js';

// Every round frame an enrolled, participating site sends is followed by a damaged copy from the same
// authenticated connection, at every stage of two secure rounds. Each copy must be refused (counted by
// the coordinator's sessions), and the rounds must complete with every site included.

const running: { server: RunningCoordinator; sites: SiteAgent[] }[] = [];
const restores: (() => void)[] = [];
afterEach(async () => {
  for (const restore of restores.splice(0)) restore();
  for (const { server, sites } of running.splice(0)) {
    await Promise.all(sites.map((site) => site.close()));
    await server.close();
  }
  cleanupTempDirs();
});

const LONG = process.env.COHORT_CHAOS_LONG === '1';

/** After each binary frame a site (a WebSocket client) sends, sends a copy with a few bytes overwritten. */
function duplicateDamaged(): { byType: Record<string, number>; total: () => number } {
  const byType: Record<string, number> = {};
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (
    this: WebSocket & { _isServer: boolean },
    data: unknown,
    ...rest: never[]
  ) {
    (send as (...args: unknown[]) => void).call(this, data, ...rest);
    if (this._isServer || !(data instanceof Uint8Array)) return;
    const copy = Uint8Array.from(data);
    // The frame's JSON header names its type: damage the header or the payload, a few bytes each time.
    const type = /"type":"([a-z-]+)"/.exec(Buffer.from(copy.subarray(0, 200)).toString('latin1'))?.[1] ?? '?';
    for (let i = 0; i < 1 + Math.floor(Math.random() * 8); i++)
      copy[Math.floor(Math.random() * copy.length)] = Math.floor(Math.random() * 256);
    byType[type] = (byType[type] ?? 0) + 1;
    (send as (...args: unknown[]) => void).call(this, copy);
  } as typeof send;
  restores.push(() => (WebSocket.prototype.send = send));
  return { byType, total: () => Object.values(byType).reduce((a, b) => a + b, 0) };
}

describe('mutated frames from enrolled sites', () => {
  it('a damaged copy of every frame, at every stage, is refused and the rounds complete', async () => {
    const federation = await federationOf(2, 40);
    running.push(federation);
    const rejected: string[] = [];
    federation.server.sessions.on('rejected', (_session, reason) => rejected.push(reason));
    await createFederation(federation, 'mutated');
    const damaged = duplicateDamaged();
    const rounds = LONG ? 5 : 2;
    for (let round = 1; round <= rounds; round++) {
      const outcome = await federation.server.rounds.runRound('mutated');
      expect(outcome.status, outcome.reason ?? '').toBe('completed');
      expect(outcome.included).toHaveLength(2);
    }
    // The last copies may still be on their way when the round ends.
    await expect.poll(() => rejected.length).toBe(damaged.total());
    console.log(
      `damaged copies by frame type: ${JSON.stringify(damaged.byType)}; all ${rejected.length} refused`,
    );
    for (const type of ['round-join', 'advertise', 'share-keys', 'masked-input', 'consistency', 'unmask'])
      expect(damaged.byType[type], type).toBeGreaterThan(0);
    recordChaos({
      messagesFuzzed: damaged.total(),
      invalidMessagesAccepted: damaged.total() - rejected.length,
    });
  });
});
