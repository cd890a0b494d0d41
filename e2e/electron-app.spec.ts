import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { _electron as electron, expect, test } from '@playwright/test';
import { cleanupTempDirs, tempDir } from './support/temp.js';

const root = join(import.meta.dirname, '..');
const electronPackage = join(root, 'node_modules', 'electron');

/** The Electron binary's path, or undefined where its download was skipped (ELECTRON_SKIP_BINARY_DOWNLOAD). */
function electronBinary(): string | undefined {
  const pathFile = join(electronPackage, 'path.txt');
  if (!existsSync(pathFile)) return undefined;
  const binary = join(electronPackage, 'dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(binary) ? binary : undefined;
}

test.afterEach(cleanupTempDirs);

test('the desktop app opens a locked-down window whose renderer reaches the agent through the preload bridge', async () => {
  const binary = electronBinary();
  const reason =
    'Electron binary not installed (its download is skipped on machines without access to GitHub releases); ' +
    'this test runs wherever node_modules/electron/dist exists';
  if (!binary) console.warn(`skipped: ${reason}`);
  test.skip(!binary, reason);
  const app = await electron.launch({
    executablePath: binary!,
    args: [
      join(root, 'dist', 'src-main', 'electron', 'app.main.js'),
      '--data-dir',
      join(tempDir(), 'site'),
      '--no-sandbox',
    ],
  });
  try {
    const page = await app.firstWindow();
    await expect(page.getByTestId('enroll-link')).toBeVisible();
    expect(page.url()).toBe('app://cohort/index.html');
    // The checklist, observed from inside the page: no Node, and only the named bridge functions.
    expect(await page.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe('undefined');
    expect(
      await page.evaluate(() =>
        Object.keys((globalThis as unknown as { cohortSiteApi: object }).cohortSiteApi).sort(),
      ),
    ).toEqual(['invoke', 'subscribe']);
    const status = await page.evaluate(() =>
      (
        globalThis as unknown as {
          cohortSiteApi: { invoke: (c: string, i: unknown) => Promise<{ connection: { state: string } }> };
        }
      ).cohortSiteApi.invoke('status.get', undefined),
    );
    expect(status.connection.state).toBe('not-enrolled');
    await page.evaluate(() =>
      (globalThis as unknown as { open: (url: string) => unknown }).open('https://example.org'),
    );
    expect(app.windows()).toHaveLength(1);
  } finally {
    await app.close();
  }
});
