import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { cohort } from '../core/cli/cohort-process.node.js';
import { initCoordinator, startCoordinator, startProcess, stopProcesses } from './support/processes.js';
import { tempDir } from './support/temp.js';

test.afterEach(stopProcesses);

test('the coordinator console signs in with the admin token, lists sites live and creates invitations', async ({
  browser,
}) => {
  const coordinator = await initCoordinator('Console consortium');
  await startCoordinator(coordinator);

  // The coordinator's certificate is self-signed and pinned by sites; the browser here is told to accept it.
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await page.goto(`${coordinator.url}/console/`);
  await page.getByTestId('admin-token').fill('wrong-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText('That admin token is not valid for this coordinator')).toBeVisible();

  await page.getByTestId('admin-token').fill(coordinator.adminToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText('0 of 0 connected')).toBeVisible();
  await expect(page.getByTestId('sites-empty')).toContainText('No site enrolled yet');

  await page.getByLabel('Site name').fill('Console Clinic');
  await page.getByRole('button', { name: 'Create link' }).click();
  const link = (await page.locator('code.link').textContent())!;
  expect(link).toMatch(/^cohort:\/\/enroll\?/);

  const siteDir = join(tempDir(), 'site');
  cohort('site', 'enroll', '--data-dir', siteDir, link);
  startProcess('site', 'serve', '--data-dir', siteDir);
  await expect(page.getByText('1 of 1 connected')).toBeVisible();
  await expect(page.getByRole('row', { name: /Console Clinic/ })).toContainText('Connected');
  await expect(page.getByTestId('sites-empty')).toHaveCount(0);
  await context.close();
});
