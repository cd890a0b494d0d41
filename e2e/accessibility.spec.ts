import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
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

const screenshots = join(import.meta.dirname, '..', 'test-results', 'screenshots');

/**
 * Runs axe-core (WCAG 2.1 A and AA rules) on what the page shows now, saves a screenshot of it, and
 * returns the serious and critical violations as readable lines (rule, impact, the first offending nodes).
 */
async function audit(page: Page, name: string): Promise<string[]> {
  mkdirSync(screenshots, { recursive: true });
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
  const result = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${name}: ${v.id} (${v.impact}) ${v.help}: ${v.nodes
          .slice(0, 3)
          .map((n) => n.target.join(' '))
          .join(', ')}`,
    );
}

test('every page of the site app and of the console has no serious or critical axe-core violation', async ({
  page,
  browser,
}) => {
  const coordinator = await initCoordinator('Accessible consortium');
  const link = inviteLink(coordinator, 'Harbour Hospital');
  await startCoordinator(coordinator);
  const siteDir = join(tempDir(), 'site');
  cohort('site', 'enroll', '--data-dir', siteDir, link);
  cohort('site', 'synth', '--data-dir', siteDir, '--preset', 'general', '--n', '120');
  const site = startProcess('site', 'serve', '--data-dir', siteDir);
  const url = String((await site.waitForEvent((e) => e.event === 'ready', 'site agent ready')).url);

  const violations: string[] = [];
  await page.goto(url);
  await expect(page.getByTestId('connection-state')).toHaveText('Connected');
  violations.push(...(await audit(page, 'site-overview')));
  await page.getByTestId('nav-data').click();
  await expect(page.getByTestId('record-browser').getByTestId('record-row').first()).toBeVisible();
  violations.push(...(await audit(page, 'site-data')));
  await page.getByTestId('nav-training').click();
  await expect(page.getByTestId('participate-switch')).toBeVisible();
  violations.push(...(await audit(page, 'site-training')));
  await page.getByTestId('nav-privacy').click();
  await expect(page.locator('[data-testid=audit-row]').first()).toBeVisible();
  violations.push(...(await audit(page, 'site-privacy')));

  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const console = await context.newPage();
  await console.goto(`${coordinator.url}/console/`);
  await expect(console.getByTestId('admin-token')).toBeVisible();
  violations.push(...(await audit(console, 'console-sign-in')));
  await console.getByTestId('admin-token').fill(coordinator.adminToken);
  await console.getByRole('button', { name: 'Sign in' }).click();
  await expect(console.getByText('1 of 1 connected')).toBeVisible();
  violations.push(...(await audit(console, 'console-sites')));
  await console.getByTestId('tab-federations').click();
  await expect(console.getByTestId('tab-federations')).toHaveAttribute('aria-current', 'page');
  violations.push(...(await audit(console, 'console-federations')));
  await context.close();

  expect(violations).toEqual([]);
});
