import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type {
  SiteApiChannel,
  SiteApiClient,
  SiteApiInput,
  SiteApiOutput,
  SiteEvent,
} from '../../core/site-api/contract.js';
import { SITE_API_EVENT, SITE_API_INVOKE } from '../../core/site-api/ipc-channels.js';

/**
 * The renderer's only door: two named functions. Never ipcRenderer itself, never the IPC event object.
 */
const bridge: SiteApiClient = {
  async invoke<C extends SiteApiChannel>(channel: C, input: SiteApiInput<C>): Promise<SiteApiOutput<C>> {
    const reply = (await ipcRenderer.invoke(SITE_API_INVOKE, channel, input)) as
      { ok: true; value: SiteApiOutput<C> } | { ok: false; error: { code: string; message: string } };
    if (reply.ok) return reply.value;
    throw Object.assign(new Error(reply.error.message), { code: reply.error.code });
  },
  subscribe(listener: (event: SiteEvent) => void) {
    const forward = (_event: IpcRendererEvent, payload: SiteEvent) => listener(payload);
    ipcRenderer.on(SITE_API_EVENT, forward);
    return () => ipcRenderer.off(SITE_API_EVENT, forward);
  },
};

contextBridge.exposeInMainWorld('cohortSiteApi', bridge);
