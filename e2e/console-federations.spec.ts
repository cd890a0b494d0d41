import { expect, request as playwrightRequest, test } from '@playwright/test';
import { SYNTHRAD_ANSWERS } from '../core/data/synthrad.js';
import type { AdminFederationList } from '../core/protocol/admin.js';
import { initCoordinator, startCoordinator, stopProcesses } from './support/processes.js';

test.afterEach(stopProcesses);

test('the console lists federations with their rounds and streams a run of rounds', async ({ browser }) => {
  const coordinator = await initCoordinator('Console consortium');
  await startCoordinator(coordinator);
  const token = coordinator.adminToken;

  // Created through the admin API, as an operator's script would.
  const api = await playwrightRequest.newContext({
    baseURL: coordinator.url,
    ignoreHTTPSErrors: true,
    extraHTTPHeaders: { authorization: `Bearer ${token}` },
  });
  const created = await api.post('/v1/admin/federations', {
    data: {
      id: 'thorax-vqa',
      name: 'Thorax VQA',
      answers: [...SYNTHRAD_ANSWERS],
      overrides: { minSites: 2 },
    },
  });
  expect(created.status(), await created.text()).toBe(200);
  const list = (await (await api.get('/v1/admin/federations')).json()) as AdminFederationList;
  expect(list.federations.map((f) => f.id)).toEqual(['thorax-vqa']);
  await api.dispose();

  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await page.goto(`${coordinator.url}/console/`);
  await page.getByTestId('admin-token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText('0 of 0 connected')).toBeVisible();
  await page.getByTestId('tab-federations').click();

  const row = page.getByTestId('federation-thorax-vqa');
  await expect(row).toContainText('Thorax VQA');
  await expect(row).toContainText('v0');
  const detail = page.getByTestId('federation-detail');
  await expect(detail).toHaveAttribute('data-federation', 'thorax-vqa');
  await expect(page.getByTestId('federation-latest-version')).toHaveText('v0');
  await expect(detail).toContainText('secure aggregation');
  await expect(detail).toContainText('No rounds yet.');

  // With no site connected the coordinator cannot run a round: the stream says why, and ends.
  await page.getByTestId('rounds-count').fill('2');
  await page.getByTestId('rounds-run').click();
  await expect(page.getByTestId('rounds-progress')).toContainText('stopped: only 0 site(s) connected');
  await expect(page.getByTestId('rounds-progress-title')).toHaveText(/^Finished 0 of 2 rounds/);
  await expect(page.getByTestId('rounds-run')).toBeEnabled();
  await context.close();
});
