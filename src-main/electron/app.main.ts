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
import { SiteTray } from './tray.main.js';

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

// One app per user: a second launch focuses the running window instead of starting a second agent on
// the same data directory (the agent's own lock would refuse it anyway).
if (!app.requestSingleInstanceLock()) app.quit();
registerAppScheme();
let quitting = false;

app.whenReady().then(() => {
  serveRenderer(join(distDir, 'renderer'));
  denyAllPermissions();
  const window = new BrowserWindow({
    width: 1200,
    height: 820,
    title: 'Cohort',
    show: false,
    icon: join(distDir, 'icons', 'icon.png'),
    webPreferences: secureWebPreferences(join(here, 'bridge.preload.cjs')),
  });
  lockDown(window.webContents);
  const tray = new SiteTray(join(distDir, 'icons', 'tray.png'), window, () => app.quit());
  const agent = startAgentBridge(
    join(distDir, 'src-main', 'agent', 'agent-process.js'),
    dataDir,
    window,
    (event) => tray.onAgentEvent(event),
  );
  window.once('ready-to-show', () => window.show());
  // Closing the window hides it to the tray: the site keeps taking part in rounds until the operator
  // quits from the tray menu.
  window.on('close', (event) => {
    if (quitting) return;
    event.preventDefault();
    window.hide();
  });
  app.on('second-instance', () => tray.show());
  void window.loadURL(`${APP_ORIGIN}/index.html`);
  app.on('before-quit', () => {
    quitting = true;
    tray.destroy();
    agent.kill();
  });
});
