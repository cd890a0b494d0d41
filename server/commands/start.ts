import { parseCommandArgs, parsePort, requireOption } from '../../core/cli/args.node.js';
import { displayCertificateFingerprint } from '../../core/protocol/enrollment.js';
import { startCoordinator } from '../coordinator.js';
import { loadCoordinatorConfig } from '../data-dir.js';
import { defaultListenHost, hostMismatch } from '../listen-address.js';

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs('server start', args, {
    'data-dir': { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    'base-model': { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    console.log(`usage: cohort server start --data-dir DIR [--port PORT] [--host ADDRESS] [--base-model DIR] [--json]

Serves the coordinator API (HTTPS + WebSocket under /v1) and the web console (/console/). It listens
where the public URL given at init points: its address and port (a host name is resolved; one that is
not this machine's means every address). Sites and invitation links always use the public URL, so
another --port or --host only suits a port forward or NAT, and start warns when they disagree.
  --host ADDRESS  listen on this address instead (0.0.0.0 or :: for every address)
  --port PORT     listen on this port instead
One coordinator runs per data directory (it holds DIR/coordinator.lock). While it runs, the address it
listens on is in DIR/listening.json, where the other 'cohort server' commands find it. --json prints one
JSON event per line. --base-model names the base model directory its federations train on (default
the embedded models/tinymed-vqa; models/feat-vqa is FeatVQA over the embedded image encoder's features).`);
    return 0;
  }
  const dataDir = requireOption('server start', values['data-dir'], '--data-dir');
  const { config } = loadCoordinatorConfig(dataDir);
  const publicPort = Number(new URL(config.publicUrl).port || 443);
  const port = parsePort('server start', values.port) ?? publicPort;
  const chosen = values.host === undefined ? await defaultListenHost(config.publicUrl) : undefined;
  if (chosen?.note) console.error(`cohort: note: ${chosen.note}`);
  const mismatch = values.host === undefined ? undefined : await hostMismatch(values.host, config.publicUrl);
  if (mismatch) console.error(`cohort: warning: ${mismatch}`);
  const coordinator = await startCoordinator({
    dataDir,
    port,
    host: values.host ?? chosen!.host,
    ...(values['base-model'] ? { baseModelDir: values['base-model'] } : {}),
  });
  if (coordinator.port !== publicPort)
    console.error(
      `cohort: warning: listening on port ${coordinator.port}, not on the public URL's ${config.publicUrl}: sites and invitation links use the public URL`,
    );
  const emit = (event: Record<string, unknown>) =>
    console.log(JSON.stringify({ at: new Date().toISOString(), ...event }));
  if (values.json) {
    emit({ event: 'listening', url: coordinator.url, port: coordinator.port, name: config.name });
    coordinator.sessions.on('connected', (s) => emit({ event: 'site-connected', siteId: s.siteId }));
    coordinator.sessions.on('disconnected', (siteId) => emit({ event: 'site-disconnected', siteId }));
    coordinator.rounds.on('event', (roundEvent) => emit({ ...roundEvent, event: roundEvent.type }));
  } else {
    console.log(`Coordinator '${config.name}' listening on ${coordinator.url}
  certificate (SHA-256): ${displayCertificateFingerprint(config.certificateFingerprint)}
  console: ${coordinator.url}/console/ (sign in with the token in ${dataDir}/admin.token)
Press Ctrl-C to stop.`);
    coordinator.sessions.on('connected', (s) =>
      console.log(`site ${s.siteId} connected from ${s.remoteAddress}`),
    );
    coordinator.sessions.on('disconnected', (siteId) => console.log(`site ${siteId} disconnected`));
    coordinator.rounds.on('event', (roundEvent) => {
      if (roundEvent.type === 'round-started')
        console.log(
          `round ${roundEvent.round} of ${roundEvent.federationId}: asking ${roundEvent.participants.length} site(s)`,
        );
      else if (roundEvent.type === 'round-stage')
        console.log(
          `round ${roundEvent.round}: ${roundEvent.stage} (waiting for ${roundEvent.waitingFor.length})`,
        );
      else {
        const { outcome } = roundEvent;
        const accuracy = outcome.metrics?.overallAcc;
        console.log(
          `round ${outcome.round}: ${outcome.status}${outcome.reason ? ` — ${outcome.reason}` : ''}` +
            (outcome.version ? `; published version ${outcome.version.version}` : '') +
            (accuracy != null
              ? `; accuracy of version ${outcome.metrics!.startingVersion}: ${(accuracy * 100).toFixed(1)}%`
              : ''),
        );
      }
    });
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await coordinator.close();
  if (values.json) emit({ event: 'stopped' });
  else console.log('Coordinator stopped.');
  return 0;
}
