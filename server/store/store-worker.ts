import { serveInWorker } from '../../core/util/worker-rpc.node.js';
import { CoordinatorStore } from './coordinator-store.js';

// Every SQL statement of a running coordinator executes on this thread (DESIGN §8).
serveInWorker((data) => new CoordinatorStore((data as { path: string }).path));
