import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateIdentity, signDomain } from '../core/crypto/identity.js';
import { writeIdentityKeyFile } from '../core/crypto/key-file.node.js';
import { toBase64 } from '../core/crypto/sodium.js';
import { requestJson } from '../core/net/pinned-https.node.js';
import { ENROLL_DOMAIN, parseEnrollmentLink } from '../core/protocol/enrollment.js';
import type { RunningCoordinator } from '../server/coordinator.js';
import { coordinatorPaths } from '../server/data-dir.js';
import { initCoordinator } from '../server/init.js';
import type { SiteAgent } from '../src-main/agent/site-agent.js';
import { invite, makeCoordinator, openSite, start, waitForConnection } from './support/federation.js';
import { cleanupTempDirs, tempDir } from './support/temp.js';

const running: RunningCoordinator[] = [];
const agents: SiteAgent[] = [];
const track = <T extends RunningCoordinator | SiteAgent>(thing: T): T => {
  if ('sessions' in thing) running.push(thing);
  else agents.push(thing);
  return thing;
};

afterEach(async () => {
  await Promise.all(agents.splice(0).map((agent) => agent.close()));
  await Promise.all(running.splice(0).map((coordinator) => coordinator.close()));
  cleanupTempDirs();
});

describe('enrollment', () => {
  it('enrolls a site, pins the coordinator, and connects', async () => {
    const coordinator = await makeCoordinator('Northern consortium');
    const server = track(await start(coordinator));
    const site = track(await openSite());
    const enrolled = await site.enroll(await invite(coordinator.dataDir, 'General Hospital'));
    expect(enrolled.site?.name).toBe('General Hospital');
    expect(enrolled.coordinator?.name).toBe('Northern consortium');
    expect(enrolled.site?.fingerprint).toMatch(/^([0-9a-f]{4} ){7}[0-9a-f]{4}$/);
    const connected = await waitForConnection(site, 'connected');
    expect(connected.connection.detail).toBeNull();
    expect(server.sessions.connectedIds()).toEqual([connected.site!.id]);
  });

  it('refuses a token that was already used', async () => {
    const coordinator = await makeCoordinator();
    track(await start(coordinator));
    const link = await invite(coordinator.dataDir, 'General Hospital');
    await track(await openSite()).enroll(link);
    await expect(track(await openSite()).enroll(link)).rejects.toThrow(/already been used/);
  });

  it('refuses an expired token', async () => {
    const coordinator = await makeCoordinator();
    track(await start(coordinator));
    const link = await invite(coordinator.dataDir, 'Late Clinic', 60_000, new Date(Date.now() - 120_000));
    await expect(track(await openSite()).enroll(link)).rejects.toThrow(/has expired/);
  });

  it('refuses a forged token', async () => {
    const coordinator = await makeCoordinator();
    track(await start(coordinator));
    const real = parseEnrollmentLink(await invite(coordinator.dataDir, 'General Hospital'));
    const forged = (await invite(coordinator.dataDir, 'Other')).replace(
      /token=[^&]+/,
      `token=${toBase64(new Uint8Array(32).fill(7))}`,
    );
    expect(forged).not.toContain(real.token);
    await expect(track(await openSite()).enroll(forged)).rejects.toThrow(/knows no such token/);
  });

  it('refuses a malformed link before any network traffic', async () => {
    const site = track(await openSite());
    await expect(site.enroll('https://example.org/not-a-cohort-link')).rejects.toThrow(
      /invalid enrollment link/,
    );
    await expect(
      site.enroll('cohort://enroll?coordinator=http%3A%2F%2Fx&token=a&fingerprint=b'),
    ).rejects.toThrow(/must use https/);
    expect((await site.status()).connection.state).toBe('not-enrolled');
  });

  it('refuses an enrollment request whose signature does not match its key', async () => {
    const coordinator = await makeCoordinator();
    track(await start(coordinator));
    const link = parseEnrollmentLink(await invite(coordinator.dataDir, 'General Hospital'));
    const key = await generateIdentity();
    const other = await generateIdentity();
    const publicKey = toBase64(key.publicKey);
    const { readFileSync } = await import('node:fs');
    const pin = {
      certificatePem: readFileSync(coordinatorPaths(coordinator.dataDir).tlsCertificate, 'utf8'),
      fingerprint: link.certificateFingerprint,
    };
    const response = await requestJson(`${link.coordinatorUrl}/v1/enroll`, {
      pin,
      body: {
        token: link.token,
        publicKey,
        signature: await signDomain(other.secretKey, ENROLL_DOMAIN, link.token, publicKey),
      },
    });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: { code: 'bad_signature' } });
  });

  it('refuses a coordinator whose certificate is not the one in the link', async () => {
    const coordinator = await makeCoordinator();
    track(await start(coordinator));
    const link = (await invite(coordinator.dataDir, 'General Hospital')).replace(
      /fingerprint=[0-9a-f]{64}/,
      `fingerprint=${'ab'.repeat(32)}`,
    );
    await expect(track(await openSite()).enroll(link)).rejects.toThrow(/not the pinned one/);
  });
});

describe('connection', () => {
  it('is refused when the site signs with a key the coordinator did not enroll', async () => {
    const coordinator = await makeCoordinator();
    track(await start(coordinator));
    const first = await openSite();
    await first.enroll(await invite(coordinator.dataDir, 'General Hospital'));
    await waitForConnection(first, 'connected');
    await first.close();
    // Same enrollment, different identity key: what an attacker with a copy of the database would have.
    rmSync(first.paths.identityKey);
    writeIdentityKeyFile(first.paths.identityKey, await generateIdentity());
    const impostor = track(await openSite(first.paths.dataDir));
    const refused = await waitForConnection(impostor, 'refused');
    expect(refused.connection.detail).toMatch(/signature verification failed/);
  });

  it('refuses a coordinator whose certificate differs from the pinned one', async () => {
    const coordinator = await makeCoordinator();
    const server = track(await start(coordinator));
    const site = track(await openSite());
    await site.enroll(await invite(coordinator.dataDir, 'General Hospital'));
    await waitForConnection(site, 'connected');
    await server.close();
    running.splice(running.indexOf(server), 1);
    // An impostor on the same address with its own certificate (and identity).
    const impostorDir = join(tempDir(), 'impostor');
    await initCoordinator({
      dataDir: impostorDir,
      name: 'Impostor',
      publicUrl: `https://127.0.0.1:${coordinator.port}`,
    });
    copyFileSync(coordinatorPaths(coordinator.dataDir).database, coordinatorPaths(impostorDir).database);
    track(await start({ dataDir: impostorDir, port: coordinator.port }));
    const refused = await waitForConnection(site, 'refused');
    expect(refused.connection.detail).toMatch(/not the pinned one/);
  });

  it('reconnects after the coordinator restarts', async () => {
    const coordinator = await makeCoordinator();
    const server = track(await start(coordinator));
    const site = track(await openSite());
    await site.enroll(await invite(coordinator.dataDir, 'General Hospital'));
    await waitForConnection(site, 'connected');
    await server.close();
    running.splice(running.indexOf(server), 1);
    const down = await waitForConnection(site, 'disconnected');
    expect(down.connection.detail).toMatch(/shut down|closed|nothing is listening/);
    const restarted = track(await start(coordinator));
    const back = await waitForConnection(site, 'connected');
    expect(restarted.sessions.connectedIds()).toEqual([back.site!.id]);
  });
});

describe('roster', () => {
  it('a connected site learns of sites enrolled after it, without reconnecting', async () => {
    const coordinator = await makeCoordinator();
    track(await start(coordinator));
    const first = track(await openSite());
    await first.enroll(await invite(coordinator.dataDir, 'First Clinic'));
    await waitForConnection(first, 'connected');
    expect((await first.status()).roster).toEqual([]);
    const announced = new Promise<string[]>((resolve) =>
      first.on('event', (event) => {
        if (event.type === 'status' && event.status.roster.length > 0)
          resolve(event.status.roster.map((s) => s.name));
      }),
    );
    const second = track(await openSite());
    await second.enroll(await invite(coordinator.dataDir, 'Second Clinic'));
    expect(await announced).toEqual(['Second Clinic']);
    expect((await first.requireFederation().view()).roster.pending).toEqual([
      expect.objectContaining({ name: 'Second Clinic', keyChanged: false }),
    ]);
  });
});
