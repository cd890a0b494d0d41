import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { cohort } from '../core/cli/cohort-process.node.js';
import type { FederationView } from '../core/site-api/contract.js';
import {
  initCoordinator,
  inviteLink,
  startCoordinator,
  startProcess,
  stopProcesses,
} from './support/processes.js';
import { tempDir } from './support/temp.js';

test.afterEach(stopProcesses);

async function serveSite(siteDir: string) {
  const site = startProcess('site', 'serve', '--data-dir', siteDir);
  const ready = await site.waitForEvent((e) => e.event === 'ready', 'site agent ready');
  const url = String(ready.url);
  return { url, origin: new URL(url).origin, token: url.split('token=')[1]! };
}

/**
 * Records every import phase the page ever renders: a small import can pass through its phases faster
 * than a test could poll for them, so the page itself notes them as they appear.
 */
async function watchImportPhases(page: Page): Promise<() => Promise<string[]>> {
  // Runs in the page (a string: this file is type-checked without the DOM library).
  await page.addInitScript(`
    window.importPhases = new Set();
    new MutationObserver(() => {
      for (const element of document.querySelectorAll('[data-testid=import-phase]'))
        window.importPhases.add(element.getAttribute('data-phase') ?? '');
      if (document.querySelector('[data-testid=import-progress-bar]')) window.importPhases.add('bar');
    }).observe(document, { subtree: true, childList: true, attributes: true });
  `);
  return () => page.evaluate<string[]>('[...window.importPhases]');
}

test('the data screen generates SynthRad records with progress, counts and browses them, and explains a bad path', async ({
  page,
}) => {
  const siteDir = join(tempDir(), 'site');
  const site = await serveSite(siteDir);
  const phases = await watchImportPhases(page);

  await page.goto(site.url);
  await page.getByTestId('nav-data').click();
  await expect(page.getByTestId('data-empty')).toBeVisible();
  await expect(page.getByTestId('count-questions')).toHaveText('0');

  await page.getByTestId('import-mode-synth').click();
  await page.getByTestId('synth-preset').selectOption('chest-clinic');
  await expect(page.getByTestId('synth-description')).toContainText('Chest clinic');
  await page.getByTestId('synth-count').fill('240');
  await page.getByTestId('synth-submit').click();
  await expect(page.getByTestId('import-summary')).toContainText('imported');
  await expect(page.getByTestId('summary-questions')).toContainText('240');
  expect(await phases()).toEqual(expect.arrayContaining(['bar']));
  expect((await phases()).some((phase) => ['read', 'decode', 'write', 'done'].includes(phase))).toBe(true);

  await expect(page.getByTestId('count-questions')).toHaveText('240');
  const train = Number(await page.getByTestId('count-train').textContent());
  const val = Number(await page.getByTestId('count-val').textContent());
  expect(train + val).toBe(240);
  expect(val).toBeGreaterThan(0);
  await expect(page.getByTestId('counts-by-organ').locator('tbody tr')).not.toHaveCount(0);

  // Browsing: a page of questions, each with its image's thumbnail; paging and a filter.
  const browser = page.getByTestId('record-browser');
  await expect(browser.getByTestId('record-row')).toHaveCount(25);
  await expect(browser.getByTestId('record-thumbnail').first()).toHaveAttribute(
    'src',
    /^data:image\/jpeg;base64,/,
  );
  expect(
    await browser
      .getByTestId('record-thumbnail')
      .first()
      .evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth),
  ).toBeGreaterThan(0);
  await expect(page.getByTestId('records-pager-range')).toHaveText('1–25 of 240');
  await page.getByTestId('records-pager-next').click();
  await expect(page.getByTestId('records-pager-range')).toHaveText('26–50 of 240');
  await page.getByTestId('records-split').selectOption('val');
  await expect(page.getByTestId('records-pager-range')).toHaveText(`1–${Math.min(25, val)} of ${val}`);
  await expect(browser.getByTestId('record-row').first()).toContainText('validation');
  await browser
    .getByRole('button', { name: /^Open image/ })
    .first()
    .click();
  await expect(page.getByTestId('image-model-input')).toHaveAttribute('src', /^data:image\/png;base64,/);
  await page.getByTestId('image-detail').getByRole('button', { name: 'Close' }).click();

  // The same generation again adds nothing, and says so.
  await page.getByTestId('synth-submit').click();
  await expect(page.getByTestId('import-summary')).toHaveAttribute('data-nothing-new', 'true');
  await expect(page.getByTestId('import-message')).toContainText('Nothing new');

  // A path that does not exist: a clear error, nothing stored.
  await page.getByTestId('import-mode-file').click();
  await page.getByTestId('import-format').selectOption('vqa-rad');
  // The importer reads trainset.json unless told otherwise, and the UI cannot tell it otherwise.
  await expect(page.locator('.field', { has: page.getByTestId('import-path') })).toContainText(
    'questions from trainset.json only (testset.json is not read)',
  );
  const missing = join(siteDir, 'no-such-dataset');
  await page.getByTestId('import-path').fill(missing);
  await page.getByTestId('import-submit').click();
  await expect(page.getByTestId('import-error')).toHaveText(
    `The import stored nothing: ${missing} does not exist`,
  );
  await page.getByTestId('import-path').fill(siteDir);
  await page.getByTestId('import-format').selectOption('csv');
  await page.getByTestId('import-submit').click();
  await expect(page.getByTestId('import-error')).toContainText('The import stored nothing');
  await expect(page.getByTestId('count-questions')).toHaveText('240');
  await expect(page.getByTestId('import-history-row')).toHaveCount(3);
  await expect(page.getByTestId('import-history-row').first()).toHaveAttribute('data-status', 'failed');
});

test('the training screen keeps the participate switch, the audit page lists what left the machine, and a refusal shows a banner', async ({
  page,
  request,
}) => {
  const coordinator = await initCoordinator('Audit consortium');
  const link = inviteLink(coordinator, 'Harbour Hospital');
  await startCoordinator(coordinator);
  const siteDir = join(tempDir(), 'site');
  cohort('site', 'enroll', '--data-dir', siteDir, link);
  const site = await serveSite(siteDir);
  const federationGet = async () => {
    const response = await request.post(`${site.origin}/api/federation.get`, {
      data: {},
      headers: { authorization: `Bearer ${site.token}` },
    });
    expect(response.status()).toBe(200);
    return ((await response.json()) as { result: FederationView }).result;
  };

  await page.goto(site.url);
  await expect(page.getByTestId('connection-state')).toHaveText('Connected');
  await page.getByTestId('nav-training').click();
  const participate = page.getByTestId('participate-switch');
  await expect(participate).toHaveAttribute('aria-checked', 'false');
  await expect(page.getByTestId('participation-state')).toHaveText('Paused');
  await participate.click();
  await expect(participate).toHaveAttribute('aria-checked', 'true');
  await expect(page.getByTestId('participation-state')).toHaveText('Joining rounds');
  expect((await federationGet()).participation).toEqual({
    participate: true,
    window: null,
    autoAcceptRoster: false,
  });

  await page.getByTestId('window-switch').click();
  await expect(page.getByTestId('window-start')).toHaveValue('20:00');
  await page.getByTestId('window-end').fill('05:30');
  await expect
    .poll(async () => (await federationGet()).participation.window)
    .toEqual({ start: '20:00', end: '05:30' });

  await page.reload();
  await expect(page.getByTestId('participate-switch')).toHaveAttribute('aria-checked', 'true');
  await expect(page.getByTestId('window-end')).toHaveValue('05:30');
  await expect(page.getByTestId('no-federations')).toBeVisible();

  await page.getByTestId('nav-privacy').click();
  const hello = page.locator('[data-testid=audit-row][data-kind=hello]');
  await expect(hello.first()).toContainText('Audit consortium');
  await expect(hello.first()).toContainText(/\d+ B/);
  expect(Number(await page.getByTestId('audit-total').textContent())).toBeGreaterThanOrEqual(1);
  await expect(page.getByText('Patient records never leave this site')).toBeVisible();

  // A refused global version: the refusal itself (bad signature, wrong base model) is the federation
  // client's and tested there; the UI must say so prominently whenever federation.get reports one.
  const message = "version 3 of 'chest' is not signed by the pinned coordinator key";
  await page.route('**/api/federation.get', async (route) => {
    const response = await route.fetch();
    const body = (await response.json()) as { result: FederationView };
    body.result.refusal = { at: new Date().toISOString(), message };
    await route.fulfill({ response, json: body });
  });
  await page.getByTestId('nav-training').click();
  await expect(page.getByTestId('refusal-banner')).toContainText('This site refused a global model');
  await expect(page.getByTestId('refusal-message')).toHaveText(message);
  await page.getByTestId('refusal-dismiss').click();
  await expect(page.getByTestId('refusal-banner')).toHaveCount(0);
  // The agent stops before the page closes: calls still in flight then must not fail the test.
  await page.unrouteAll({ behavior: 'ignoreErrors' });
});

test('the training screen fits the window with a long round history and long abort reasons', async ({
  page,
}) => {
  const coordinator = await initCoordinator('Layout consortium');
  const link = inviteLink(coordinator, 'Riverside Clinic');
  await startCoordinator(coordinator);
  const siteDir = join(tempDir(), 'site');
  cohort('site', 'enroll', '--data-dir', siteDir, link);
  const site = await serveSite(siteDir);

  // Rounds as this site records them; the layout, not the round engine, is under test here.
  const reason =
    'the round was aborted: only 2 of the 3 sites needed for the threshold sent their masked input before ' +
    'the deadline (session 5f0c2a9e81d4b7c3a6e2f9d0c1b8a7e6f5d4c3b2a1908f7e6d5c4b3a29180f7e)';
  const figures = {
    trainExamples: 1234,
    trainLoss: 1.2345,
    validation: { n: 321, closedAcc: 0.8123, openAcc: 0.4567, overallAcc: 0.6789 },
    trainMs: 65_432,
    secaggClientMs: 4321,
    uploadBytes: 9_876_543,
  };
  const rounds: FederationView['federations'][number]['rounds'] = [1, 2, 3, 4].map((round) => ({
    round,
    status: round % 2 ? 'completed' : 'aborted',
    reason: round % 2 ? null : reason,
    startedAt: new Date(Date.UTC(2026, 10, 25, 3, round)).toISOString(),
    finishedAt: new Date(Date.UTC(2026, 10, 25, 3, round, 50)).toISOString(),
    startingVersion: round,
    publishedVersion: round % 2 ? round + 1 : null,
    details: figures,
  }));
  await page.route('**/api/federation.get', async (route) => {
    const response = await route.fetch();
    const body = (await response.json()) as { result: FederationView };
    body.result.federations = [
      {
        id: 'radiology',
        name: 'Radiology VQA',
        version: 5,
        hash: 'e52115cff1ad813a6b1e'.repeat(3),
        receivedAt: new Date().toISOString(),
        strategy: 'fedavg',
        secure: true,
        parts: [
          { part: 'lora', shared: true },
          { part: 'prompt', shared: true },
          { part: 'head', shared: true },
        ],
        rounds,
      },
    ];
    await route.fulfill({ response, json: body });
  });

  await page.goto(site.url);
  await page.getByTestId('nav-training').click();
  await expect(page.getByTestId('round-history-row')).toHaveCount(4);
  for (const width of [1280, 1024]) {
    await page.setViewportSize({ width, height: 800 });
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow, `the page is ${overflow} px wider than a ${width} px window`).toBeLessThanOrEqual(0);
    // The whole reason is shown, under its round.
    await expect(page.getByTestId('round-reason').first()).toHaveText(reason);
  }
  await page.unrouteAll({ behavior: 'ignoreErrors' });
});

test('the training screen shows the site policy, a configuration awaiting approval, approves it, and shows a change field by field', async ({
  page,
}) => {
  const coordinator = await initCoordinator('Pinning consortium');
  const link = inviteLink(coordinator, 'Harbour Hospital');
  await startCoordinator(coordinator);
  const siteDir = join(tempDir(), 'site');
  cohort('site', 'enroll', '--data-dir', siteDir, link);
  // Created before the site connects: its configuration reaches the site with the catch-up on connect.
  const created = JSON.parse(
    cohort(
      'server',
      'federation',
      'create',
      '--data-dir',
      coordinator.dataDir,
      '--id',
      'thorax',
      '--name',
      'Thorax VQA',
      '--answers',
      'synth',
      '--json',
    ),
  ) as { version: { configHash: string } };
  const site = await serveSite(siteDir);

  await page.goto(site.url);
  await page.getByTestId('nav-training').click();
  const security = page.getByTestId('security');
  await expect(security.getByTestId('security-policy')).toContainText('required');
  await expect(security.getByTestId('security-policy')).toContainText('more than 2/3 of the roster');
  const pending = security.getByTestId('config-pending');
  await expect(pending).toContainText('First configuration');
  await expect(pending).toContainText(created.version.configHash.slice(0, 12));
  await expect(pending.getByTestId('config-diff')).toContainText('Secure aggregation');
  await pending.getByTestId('config-approve').click();
  await expect(security.getByTestId('config-pinned')).toContainText(created.version.configHash.slice(0, 12));
  await expect(security.getByTestId('config-pending')).toHaveCount(0);
  const shown = JSON.parse(
    cohort('site', 'federation', 'show', '--data-dir', siteDir, '--json'),
  ) as FederationView['security'];
  expect(shown.pinned.map((p) => p.configHash)).toEqual([created.version.configHash]);

  // A later change, as the agent reports it: each field with the approved and the offered value.
  await page.route('**/api/federation.get', async (route) => {
    const response = await route.fetch();
    const body = (await response.json()) as { result: FederationView };
    body.result.security.pending = [
      {
        federationId: 'thorax',
        configHash: 'ab'.repeat(32),
        config: shown.pinned[0]!.config,
        receivedAt: new Date().toISOString(),
        changes: [
          { field: 'secure.threshold', approved: 5, offered: 2, weakens: true },
          { field: 'strategy.kind', approved: 'fedavg', offered: 'fedprox', weakens: false },
        ],
        policyProblems: [],
      },
    ];
    await route.fulfill({ response, json: body });
  });
  await page.getByTestId('nav-privacy').click();
  await page.getByTestId('nav-training').click();
  const diff = page.getByTestId('config-diff');
  await expect(diff.locator('tr.row-bad')).toContainText('secure.threshold');
  await expect(diff.locator('tr.row-bad')).toContainText('weakens security');
  await expect(diff).toContainText('fedprox');
  await page.unrouteAll({ behavior: 'ignoreErrors' });
});
