import { connectWorker, type WorkerHandle } from '../../core/util/worker-rpc.node.js';
import { siblingModule } from '../../core/util/worker.node.js';
import type { SiteStore } from './site-store.js';

export type RemoteSiteStore = WorkerHandle<SiteStore>;

/** Opens the site store in its own worker thread and returns an async proxy to it. */
export async function openSiteStoreWorker(
  path: string,
  options: { encoderDir?: string } = {},
): Promise<RemoteSiteStore> {
  const handle = connectWorker<SiteStore>(siblingModule(import.meta.url, 'store-worker'), {
    path,
    ...options,
  });
  // A first round trip surfaces open errors (database from the future, unreadable file) here.
  await handle.remote.getSetting('schema-probe');
  return handle;
}
