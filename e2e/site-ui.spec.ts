import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { cohort } from '../core/cli/cohort-process.node.js';
import {
  initCoordinator,
  inviteLink,
  startCoordinator,
  startProcess,
  stopProcesses,
} from './support/processes.js';
import { tempDir } from './support/temp.js';

test.afterEach(stopProcesses);

async function coordinatorWithInvitation(siteName: string) {
  const coordinator = await initCoordinator();
  return { ...coordinator, link: inviteLink(coordinator, siteName) };
}

test('the site UI shows the connection going up and down with the coordinator', async ({ page }) => {
  const coordinator = await coordinatorWithInvitation('General Hospital');
  let server = await startCoordinator(coordinator);
  const siteDir = join(tempDir(), 'site');
  cohort('site', 'enroll', '--data-dir', siteDir, coordinator.link);
  const site = startProcess('site', 'serve', '--data-dir', siteDir, '--reconnect-max-ms', '1000');
  const ready = await site.waitForEvent((e) => e.event === 'ready', 'site agent ready');

  await page.goto(String(ready.url));
  const badge = page.getByTestId('connection-state');
  await expect(badge).toHaveText('Connected');
  await expect(page.getByTestId('site-name')).toHaveText('General Hospital');
  await expect(page.getByTestId('coordinator-name')).toHaveText('Test consortium');
  await expect(page.getByTestId('site-fingerprint')).toHaveText(/^([0-9a-f]{4} ){7}[0-9a-f]{4}$/);
  // The launch token leaves the address bar once the page has it.
  expect(page.url()).not.toContain('token=');

  await server.stop();
  await expect(badge).toHaveText('Disconnected');
  await expect(page.getByTestId('connection-detail')).toContainText(/shut down|closed|nothing is listening/);

  server = startProcess('server', 'start', '--data-dir', coordinator.dataDir);
  await expect(badge).toHaveText('Connected');
});

test('a site can enroll from the UI by pasting the link, and a bad link is explained', async ({ page }) => {
  const coordinator = await coordinatorWithInvitation('Riverside Clinic');
  await startCoordinator(coordinator);
  const site = startProcess('site', 'serve', '--data-dir', join(tempDir(), 'site'));
  const ready = await site.waitForEvent((e) => e.event === 'ready', 'site agent ready');

  await page.goto(String(ready.url));
  await page
    .getByTestId('enroll-link')
    .fill('cohort://enroll?coordinator=https%3A%2F%2Fexample.org&token=x&fingerprint=y');
  await page.getByTestId('enroll-submit').click();
  await expect(page.getByTestId('enroll-error')).toContainText('token is missing or malformed');

  await page.getByTestId('enroll-link').fill(coordinator.link);
  await page.getByTestId('enroll-submit').click();
  await expect(page.getByTestId('connection-state')).toHaveText('Connected');
  await expect(page.getByTestId('site-name')).toHaveText('Riverside Clinic');
});

test('the API refuses calls without the launch token', async ({ request }) => {
  const site = startProcess('site', 'serve', '--data-dir', join(tempDir(), 'site'));
  const ready = await site.waitForEvent((e) => e.event === 'ready', 'site agent ready');
  const origin = new URL(String(ready.url)).origin;
  const anonymous = await request.post(`${origin}/api/status.get`, { data: {} });
  expect(anonymous.status()).toBe(401);
  const token = String(ready.url).split('token=')[1];
  const authorised = await request.post(`${origin}/api/status.get`, {
    data: {},
    headers: { authorization: `Bearer ${token}` },
  });
  expect(authorised.status()).toBe(200);
  expect(
    ((await authorised.json()) as { result: { connection: { state: string } } }).result.connection.state,
  ).toBe('not-enrolled');
  const rebound = await request.post(`${origin}/api/status.get`, {
    data: {},
    headers: { authorization: `Bearer ${token}`, host: 'evil.example:80' },
  });
  expect(rebound.status()).toBe(421);
});

test('a wrong, stale or missing launch token is explained instead of waited on', async ({ context }) => {
  const site = startProcess('site', 'serve', '--data-dir', join(tempDir(), 'site'));
  const ready = await site.waitForEvent((e) => e.event === 'ready', 'site agent ready');
  // An earlier launch's address: the token changes every time an agent starts.
  const earlier = startProcess('site', 'serve', '--data-dir', join(tempDir(), 'site'));
  const earlierUrl = String(
    (await earlier.waitForEvent((e) => e.event === 'ready', 'other agent ready')).url,
  );
  const origin = new URL(String(ready.url)).origin;
  const staleToken = earlierUrl.split('#')[1]!;
  // Each in a fresh tab: a tab keeps the token it was opened with.
  for (const address of [`${origin}/#${staleToken}`, `${origin}/#token=wrong`, `${origin}/`]) {
    const page = await context.newPage();
    await page.goto(address);
    await expect(page.getByTestId('agent-failure')).toHaveText(
      'This link has expired or is incomplete. Open the address printed by `cohort site serve` (the token changes each time the agent starts).',
    );
    await expect(page.getByTestId('loading')).toHaveCount(0);
    await page.close();
  }
});
