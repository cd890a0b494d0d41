import { parseCommandArgs, parsePort, requireOption } from '../../core/cli/args.node.js';
import { CliError } from '../../core/cli/errors.js';
import { SiteAgent } from '../agent/site-agent.js';
import { startLoopbackServer } from '../agent/loopback-server.js';

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs('site serve', args, {
    'data-dir': { type: 'string' },
    port: { type: 'string' },
    json: { type: 'boolean' },
    'reconnect-max-ms': { type: 'string' },
    'base-model': { type: 'string' },
  });
  if (values.help) {
    console.log(`usage: cohort site serve --data-dir DIR [--port PORT] [--base-model DIR] [--json]

Runs the site agent headless: keeps the outbound connection to the coordinator (reconnecting with
backoff) and serves the site UI on 127.0.0.1, protected by a token printed in its URL.
--port 0 (default) picks a free port. --base-model: the base model directory (default the embedded
models/tinymed-vqa); a round whose federation names another base is declined. --json prints one JSON
event per line.`);
    return 0;
  }
  const dataDir = requireOption('site serve', values['data-dir'], '--data-dir');
  const port = parsePort('site serve', values.port) ?? 0;
  const reconnectMax = values['reconnect-max-ms'] ? Number(values['reconnect-max-ms']) : 10_000;
  if (!(reconnectMax >= 100)) throw new CliError('site serve: --reconnect-max-ms must be at least 100', 2);
  const agent = await SiteAgent.open({
    dataDir,
    ...(values['base-model'] ? { baseModelDir: values['base-model'] } : {}),
    reconnect: { initialMs: Math.min(500, reconnectMax), maxMs: reconnectMax },
  });
  let server;
  try {
    server = await startLoopbackServer(agent, port);
  } catch (error) {
    await agent.close();
    throw new CliError(`site serve: ${(error as Error).message}`);
  }
  // Listening before announcing readiness: a stop that follows the announcement at once is still clean.
  const stopRequested = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  const emit = (event: Record<string, unknown>) =>
    console.log(JSON.stringify({ at: new Date().toISOString(), ...event }));
  if (values.json) {
    emit({ event: 'ready', url: server.uiUrl, port: server.port, enrolled: agent.isEnrolled });
    let lastState = '';
    let lastProgress = 0;
    agent.on('event', (event) => {
      if (event.type === 'federation') {
        // Progress ticks are many; a few per second are enough for anyone following along.
        const { event: federationEvent } = event;
        if (federationEvent.type === 'round' && federationEvent.progress) {
          const now = Date.now();
          const last = federationEvent.progress.done >= federationEvent.progress.total;
          if (!last && now - lastProgress < 250) return;
          lastProgress = now;
        }
        return emit({ ...federationEvent, event: federationEvent.type });
      }
      if (event.type === 'log' && event.level === 'error')
        return emit({ event: 'error', message: event.message });
      if (event.type !== 'status' || event.status.connection.state === lastState) return;
      lastState = event.status.connection.state;
      emit({ event: 'connection', state: lastState, detail: event.status.connection.detail });
    });
  } else {
    const status = await agent.status();
    console.log(`Site agent for ${status.site ? `'${status.site.name}'` : 'a site not yet enrolled'} running.
  Site UI: ${server.uiUrl}
Press Ctrl-C to stop.`);
    agent.on('event', (event) => {
      if (event.type === 'log') console.log(`[${event.level}] ${event.message}`);
    });
  }
  await stopRequested;
  await server.close();
  await agent.close();
  if (values.json) emit({ event: 'stopped' });
  return 0;
}
