import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CoordinatorStore, type VersionRow } from './coordinator-store.js';

const tempDb = () => join(mkdtempSync(join(tmpdir(), 'cohort-coordinator-')), 'coordinator.db');

const version = (n: number, parent: string | null): VersionRow => ({
  federationId: 'fed',
  version: n,
  hash: String(n).repeat(64).slice(0, 64),
  parentHash: parent,
  round: n === 0 ? null : n,
  shared: new Uint8Array([n, n, n, n]),
  optimizerState: null,
  signature: 's'.repeat(86),
  createdAt: new Date().toISOString(),
});

function withFederation() {
  const store = new CoordinatorStore(tempDb());
  const { federationId: _f, version: _v, round: _r, parentHash: _p, ...initial } = version(0, null);
  store.createFederation(
    {
      id: 'fed',
      name: 'Fed',
      config: { any: 'thing' },
      configHash: 'c'.repeat(64),
      createdAt: new Date().toISOString(),
    },
    initial,
  );
  return store;
}

describe('CoordinatorStore', () => {
  it('keeps the database, its WAL and shared-memory files owner-only', () => {
    const path = tempDb();
    const store = new CoordinatorStore(path);
    store.audit('probe', null);
    for (const file of [path, `${path}-wal`, `${path}-shm`])
      expect(statSync(file).mode & 0o777, file).toBe(0o600);
    store.close();
  });

  it('spends an invitation once, refuses expired and unknown tokens, and keeps names unique', () => {
    const store = new CoordinatorStore(tempDb());
    const now = new Date('2026-01-01T00:00:00Z');
    const later = (ms: number) => new Date(now.getTime() + ms).toISOString();
    store.createInvitation({
      tokenHash: 'a',
      siteName: 'North',
      createdAt: now.toISOString(),
      expiresAt: later(60_000),
    });
    store.createInvitation({
      tokenHash: 'b',
      siteName: 'South',
      createdAt: now.toISOString(),
      expiresAt: later(60_000),
    });
    const redeem = (tokenHash: string, key: string, at: number) =>
      store.redeemInvitation({ tokenHash, idSuffix: 'x1', identityPublicKey: key, now: later(at) });
    expect(redeem('a', 'k1', 1000)).toMatchObject({ ok: true, site: { id: 'north-x1', name: 'North' } });
    expect(redeem('a', 'k2', 2000)).toEqual({ ok: false, reason: 'used' });
    expect(redeem('zzz', 'k2', 2000)).toEqual({ ok: false, reason: 'unknown' });
    expect(redeem('b', 'k1', 2000)).toEqual({ ok: false, reason: 'key-in-use' });
    expect(redeem('b', 'k3', 120_000)).toMatchObject({ ok: false, reason: 'expired' });
    expect(() =>
      store.createInvitation({
        tokenHash: 'c',
        siteName: 'North',
        createdAt: now.toISOString(),
        expiresAt: later(1),
      }),
    ).toThrow(/already enrolled/);
  });

  it('publishes a version and completes its round together, or neither', () => {
    const store = withFederation();
    const round = store.nextRound('fed');
    expect(round).toBe(1);
    store.beginRound({
      federationId: 'fed',
      round,
      baseVersion: 0,
      startedAt: new Date().toISOString(),
      participants: ['a', 'b'],
    });
    // A duplicate version number violates the primary key: the round must stay 'running', no version added.
    expect(() =>
      store.completeRound(
        {
          federationId: 'fed',
          round,
          finishedAt: 'now',
          included: ['a'],
          dropped: [],
          metrics: {},
          timings: {},
        },
        version(0, null),
      ),
    ).toThrow();
    expect(store.listRounds('fed')[0]!.state).toBe('running');
    store.completeRound(
      {
        federationId: 'fed',
        round,
        finishedAt: 'now',
        included: ['a', 'b'],
        dropped: [],
        metrics: { acc: 1 },
        timings: {},
      },
      version(1, '0'.repeat(64)),
    );
    expect(store.getVersion('fed')!.version).toBe(1);
    expect(store.listRounds('fed')[0]).toMatchObject({
      state: 'completed',
      included: ['a', 'b'],
      metrics: { acc: 1 },
    });
    expect(store.nextRound('fed')).toBe(2);
  });

  it('closes rounds left running by a dead coordinator as aborted, without a version', () => {
    const store = withFederation();
    store.beginRound({
      federationId: 'fed',
      round: 1,
      baseVersion: 0,
      startedAt: new Date().toISOString(),
      participants: ['a'],
    });
    expect(store.abortInterruptedRounds(new Date().toISOString())).toEqual([
      { federationId: 'fed', round: 1 },
    ]);
    expect(store.listRounds('fed')[0]).toMatchObject({
      state: 'aborted',
      error: 'the coordinator restarted during the round',
    });
    expect(store.getVersion('fed')!.version).toBe(0);
    expect(store.nextRound('fed')).toBe(2);
  });
});

describe('the roster as numbered changes', () => {
  const enroll = (store: CoordinatorStore, name: string, key: string) => {
    const now = new Date().toISOString();
    store.createInvitation({
      tokenHash: `h-${name}`,
      siteName: name,
      createdAt: now,
      expiresAt: '9999-01-01T00:00:00Z',
    });
    const result = store.redeemInvitation({
      tokenHash: `h-${name}`,
      idSuffix: '000000',
      identityPublicKey: key,
      now,
    });
    if (!result.ok) throw new Error(result.reason);
    return result.site.id;
  };

  it('numbers enrollments and revocations, and gives the changes after a version', () => {
    const store = new CoordinatorStore(tempDb());
    const [a, b, c] = ['A', 'B', 'C'].map((name) => enroll(store, name, `key-${name}`));
    expect(store.revokeSite(b!, new Date().toISOString()).ok).toBe(true);
    expect(store.rosterVersion()).toBe(4);
    const all = store.rosterDelta(0);
    expect(all.changes.map(({ change, site }) => [change, site.id])).toEqual([
      ['added', a],
      ['added', b],
      ['added', c],
      ['removed', b],
    ]);
    expect(store.rosterDelta(3)).toMatchObject({
      from: 3,
      to: 4,
      changes: [{ change: 'removed', site: { id: b } }],
    });
    expect(store.rosterDelta(4)).toMatchObject({ from: 4, to: 4, changes: [] });
    // A site that knew a version this store never reached (a reset coordinator) gets everything again.
    expect(store.rosterDelta(9)).toMatchObject({ from: 0, to: 4 });
    expect(store.cancelInvitations('A', new Date().toISOString())).toBe(0);
    store.close();
  });
});
