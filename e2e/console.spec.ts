import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { CohortProcess, cohort } from '../core/cli/cohort-process.node.js';
import { cleanupTempDirs, freePort, tempDir } from './support/temp.js';

const running: CohortProcess[] = [];
test.afterEach(async () => {
  await Promise.all(running.splice(0).map((process) => process.stop()));
  cleanupTempDirs();
});

test('the coordinator console signs in with the admin token, lists sites live and creates invitations', async ({
  browser,
}) => {
  const port = await freePort();
  const dataDir = join(tempDir(), 'coordinator');
  cohort(
    'server',
    'init',
    '--data-dir',
    dataDir,
    '--name',
    'Console consortium',
    '--public-url',
    `https://127.0.0.1:${port}`,
  );
  const server = new CohortProcess(['server', 'start', '--data-dir', dataDir]);
  running.push(server);
  await server.waitForEvent((e) => e.event === 'listening', 'coordinator listening');

  // The coordinator's certificate is self-signed and pinned by sites; the browser here is told to accept it.
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await page.goto(`https://127.0.0.1:${port}/console/`);
  await page.getByTestId('admin-token').fill('wrong-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText('needs the coordinator admin token')).toBeVisible();

  await page.getByTestId('admin-token').fill(readFileSync(join(dataDir, 'admin.token'), 'utf8'));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText('0 of 0 connected')).toBeVisible();

  await page.getByLabel('Site name').fill('Console Clinic');
  await page.getByRole('button', { name: 'Create link' }).click();
  const link = (await page.locator('code.link').textContent())!;
  expect(link).toMatch(/^cohort:\/\/enroll\?/);

  const siteDir = join(tempDir(), 'site');
  cohort('site', 'enroll', '--data-dir', siteDir, link);
  const site = new CohortProcess(['site', 'serve', '--data-dir', siteDir]);
  running.push(site);
  await expect(page.getByText('1 of 1 connected')).toBeVisible();
  await expect(page.getByRole('row', { name: /Console Clinic/ })).toContainText('Connected');
  await context.close();
});
