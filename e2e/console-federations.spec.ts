import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, request as playwrightRequest, test } from '@playwright/test';
import { SYNTHRAD_ANSWERS } from '../core/data/synthrad.js';
import type { AdminFederationList } from '../core/protocol/admin.js';
import { ProcessFederation } from './support/process-federation.js';
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
      overrides: { minSites: 2, rounds: 3 },
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
  // The run defaults to the federation's configured rounds.
  await expect(page.getByTestId('rounds-count')).toHaveValue('3');
  await expect(page.getByTestId('rounds-run')).toHaveText('Run 3 rounds');

  // With no site connected the coordinator cannot run a round: the stream says why, and ends.
  await page.getByTestId('rounds-count').fill('2');
  await page.getByTestId('rounds-run').click();
  await expect(page.getByTestId('rounds-progress')).toContainText('stopped: only 0 site(s) connected');
  await expect(page.getByTestId('rounds-progress-title')).toHaveText(/^Finished 0 of 2 rounds/);
  await expect(page.getByTestId('rounds-run')).toBeEnabled();
  await context.close();
});

let federation: ProcessFederation | undefined;
test.afterEach(async () => {
  await federation?.stop();
  federation = undefined;
});

test('a round started outside the page appears live, with its stage, then its new version', async ({
  browser,
}) => {
  federation = await ProcessFederation.start(3);
  // The default threshold (3 of 3): each site's policy requires more than two thirds of the roster.
  await federation.createFederation('live', { minSites: 2 });
  const token = readFileSync(join(federation.coordinatorDataDir, 'admin.token'), 'utf8').trim();

  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await page.goto(`${federation.admin.url}/console/#federations`);
  await page.getByTestId('admin-token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('federation-latest-version')).toHaveText('v0');
  await expect(page.getByTestId('federation-detail')).toContainText('No rounds yet.');

  // A frozen site holds the round in its join stage, long enough to see it running.
  const frozen = federation.sites[2]!.process.child;
  frozen.kill('SIGSTOP');
  const outcomes = federation.runRounds('live', 1);
  try {
    const running = page.getByTestId('round-1');
    await expect(running).toHaveAttribute('data-state', 'running');
    await expect(running).toContainText('3 asked');
    await expect(page.getByTestId('round-running-elsewhere')).toContainText(
      'Join & local training: waiting for',
    );
  } finally {
    // A stopped process cannot take the SIGINT that ends the test.
    frozen.kill('SIGCONT');
  }

  const [outcome] = await outcomes;
  expect(outcome!.status, outcome!.reason ?? '').toBe('completed');
  await expect(page.getByTestId('round-1')).toHaveAttribute('data-state', 'completed');
  await expect(page.getByTestId('federation-latest-version')).toHaveText('v1');
  await expect(page.getByTestId('federation-live')).toContainText('v1');
  await expect(page.getByTestId('metrics-chart-empty')).toBeVisible();

  // A second round measures v1: the chart of federation-wide figures by version appears.
  const [second] = await federation.runRounds('live', 1);
  expect(second!.status, second!.reason ?? '').toBe('completed');
  const chart = page.getByTestId('metrics-chart');
  await expect(chart).toHaveAttribute('data-points', '2');
  await expect(chart.locator('.recharts-line')).toHaveCount(4);
  await page.screenshot({
    path: join('test-results', 'screenshots', 'console-federation-chart.png'),
    fullPage: true,
  });
  await context.close();
});
