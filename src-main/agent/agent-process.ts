import { parseArgs } from 'node:util';
import { SiteAgent } from './site-agent.js';
import { handleSiteApiCall } from './site-api-handlers.js';

/**
 * The site agent as Electron's utilityProcess runs it (desktop mode). Electron main forwards SiteApi
 * calls over the parent port and relays the agent's events to the window; the agent itself never sees
 * Electron. Messages: {kind:'call', id, channel, input} in; {kind:'result', id, result} and
 * {kind:'event', event} out.
 */
interface ParentPort {
  on(event: 'message', listener: (message: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
}

const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;
if (!parentPort) {
  console.error(
    'agent-process: must be started by Electron (utilityProcess); use `cohort site serve` for headless mode',
  );
  process.exit(2);
}

const { values } = parseArgs({ options: { 'data-dir': { type: 'string' } }, strict: false });
const dataDir = values['data-dir'];
if (typeof dataDir !== 'string') {
  console.error('agent-process: --data-dir is required');
  process.exit(2);
}

let agent: SiteAgent | undefined;
let failure = '';
try {
  agent = await SiteAgent.open({ dataDir });
  agent.on('event', (event) => parentPort.postMessage({ kind: 'event', event }));
} catch (error) {
  // E.g. `cohort site serve` already runs on this data directory. Staying up to answer every call with
  // the reason lets the window say why, where an exited agent would only leave it waiting.
  failure = (error as Error).message;
}
parentPort.on('message', ({ data }) => {
  const message = data as { kind?: unknown; id?: unknown; channel?: unknown; input?: unknown };
  if (message.kind !== 'call' || typeof message.id !== 'number') return;
  const reply = (result: unknown) => parentPort.postMessage({ kind: 'result', id: message.id, result });
  if (!agent) return reply({ ok: false, error: { code: 'agent_unavailable', message: failure } });
  void handleSiteApiCall(agent, message.channel, message.input).then(reply);
});
parentPort.postMessage({ kind: 'ready' });
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void (agent?.close() ?? Promise.resolve()).then(() => process.exit(0)));
}
