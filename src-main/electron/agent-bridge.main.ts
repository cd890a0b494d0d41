import {
  ipcMain,
  utilityProcess,
  type BrowserWindow,
  type IpcMainInvokeEvent,
  type UtilityProcess,
} from 'electron';
import { SITE_API_EVENT, SITE_API_INVOKE } from '../../core/site-api/ipc-channels.js';
import { APP_ORIGIN } from './security.main.js';

type AgentReply =
  { kind: 'result'; id: number; result: unknown } | { kind: 'event'; event: unknown } | { kind: 'ready' };

/**
 * Starts the site agent in a utilityProcess and bridges the window to it. Main holds no business logic:
 * it checks who is calling (the app's own frame only, checklist item 17) and forwards the call; the agent
 * validates the channel and input against the SiteApi schemas.
 */
export function startAgentBridge(
  agentModule: string,
  dataDir: string,
  window: BrowserWindow,
  onEvent: (event: unknown) => void = () => undefined,
): UtilityProcess {
  const agent = utilityProcess.fork(agentModule, ['--data-dir', dataDir], {
    serviceName: 'Cohort site agent',
    stdio: 'inherit',
  });
  const pending = new Map<number, (result: unknown) => void>();
  let nextId = 1;

  agent.on('message', (message: AgentReply) => {
    if (message.kind === 'result') {
      pending.get(message.id)?.(message.result);
      pending.delete(message.id);
    } else if (message.kind === 'event') {
      onEvent(message.event);
      if (!window.isDestroyed()) window.webContents.send(SITE_API_EVENT, message.event);
    }
  });
  agent.on('exit', (code) => {
    for (const resolve of pending.values())
      resolve({
        ok: false,
        error: { code: 'agent_exited', message: `the site agent stopped (code ${code})` },
      });
    pending.clear();
  });

  ipcMain.handle(SITE_API_INVOKE, (event: IpcMainInvokeEvent, channel: unknown, input: unknown) => {
    const senderUrl = event.senderFrame?.url ?? '';
    if (event.sender !== window.webContents || !senderUrl.startsWith(`${APP_ORIGIN}/`)) {
      return {
        ok: false,
        error: { code: 'forbidden', message: 'SiteApi calls are accepted from the Cohort window only' },
      };
    }
    const id = nextId++;
    return new Promise((resolve) => {
      pending.set(id, resolve);
      agent.postMessage({ kind: 'call', id, channel, input });
    });
  });
  return agent;
}
