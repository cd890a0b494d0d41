import { app, BrowserWindow } from 'electron';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startAgentBridge } from './agent-bridge.main.js';
import {
  APP_ORIGIN,
  denyAllPermissions,
  lockDown,
  registerAppScheme,
  secureWebPreferences,
  serveRenderer,
} from './security.main.js';

/**
 * The desktop shell: one locked-down window over the renderer, and the site agent in a utilityProcess.
 * Everything a site does lives in the agent, which also runs headless (`cohort site serve`).
 */
const here = import.meta.dirname; // dist/src-main/electron
const distDir = join(here, '..', '..');
const { values } = parseArgs({
  args: process.argv.slice(app.isPackaged ? 1 : 2),
  options: { 'data-dir': { type: 'string' } },
  strict: false,
});
const dataDir =
  typeof values['data-dir'] === 'string' ? values['data-dir'] : join(app.getPath('userData'), 'site');

if (!app.requestSingleInstanceLock()) app.quit();
registerAppScheme();

app.whenReady().then(() => {
  serveRenderer(join(distDir, 'renderer'));
  denyAllPermissions();
  const window = new BrowserWindow({
    width: 1200,
    height: 820,
    title: 'Cohort',
    show: false,
    webPreferences: secureWebPreferences(join(here, 'bridge.preload.cjs')),
  });
  lockDown(window.webContents);
  const agent = startAgentBridge(join(distDir, 'src-main', 'agent', 'agent-process.js'), dataDir, window);
  window.once('ready-to-show', () => window.show());
  void window.loadURL(`${APP_ORIGIN}/index.html`);
  app.on('before-quit', () => agent.kill());
});

app.on('window-all-closed', () => app.quit());
