import { serveInWorker } from '../../core/util/worker-rpc.node.js';
import { SiteStore } from './site-store.js';

// The site store's thread: every SQL statement of a running agent executes here, off the event loop
// that serves the UI and the federation connection (DESIGN §8).
serveInWorker((data, emit) => {
  const { path, encoderDir } = data as { path: string; encoderDir?: string };
  return new SiteStore(path, { emit, ...(encoderDir ? { encoderDir } : {}) });
});
