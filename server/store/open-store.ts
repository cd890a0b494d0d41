import { connectWorker, type WorkerHandle } from '../../core/util/worker-rpc.node.js';
import { siblingModule } from '../../core/util/worker.node.js';
import type { CoordinatorStore } from './coordinator-store.js';

export type RemoteCoordinatorStore = WorkerHandle<CoordinatorStore>;

export async function openCoordinatorStoreWorker(path: string): Promise<RemoteCoordinatorStore> {
  const handle = connectWorker<CoordinatorStore>(siblingModule(import.meta.url, 'store-worker'), { path });
  await handle.remote.getSetting('schema-probe');
  return handle;
}
