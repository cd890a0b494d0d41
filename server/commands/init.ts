import { parseCommandArgs, requireOption } from '../../core/cli/args.node.js';
import { displayCertificateFingerprint } from '../../core/protocol/enrollment.js';
import { initCoordinator } from '../init.js';

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs('server init', args, {
    'data-dir': { type: 'string' },
    name: { type: 'string' },
    'public-url': { type: 'string' },
    'alt-name': { type: 'string', multiple: true },
    json: { type: 'boolean' },
  });
  if (values.help) {
    console.log(`usage: cohort server init --data-dir DIR [--name NAME] [--public-url https://HOST:PORT] [--alt-name HOST]... [--json]

Creates a coordinator: its SQLite store, Ed25519 identity key, a self-signed TLS certificate (whose
fingerprint enrollment links carry) and an admin token. --public-url is the address sites will use
(default https://127.0.0.1:8443).`);
    return 0;
  }
  const dataDir = requireOption('server init', values['data-dir'], '--data-dir');
  const { config, identityFingerprint } = await initCoordinator({
    dataDir,
    name: values.name ?? 'Cohort coordinator',
    publicUrl: values['public-url'] ?? 'https://127.0.0.1:8443',
    altNames: values['alt-name'] ?? [],
  });
  if (values.json) {
    console.log(JSON.stringify({ dataDir, ...config, identityFingerprint }));
  } else {
    console.log(`Initialised coordinator '${config.name}' in ${dataDir}
  address:              ${config.publicUrl}
  certificate (SHA-256): ${displayCertificateFingerprint(config.certificateFingerprint)}
  identity fingerprint: ${identityFingerprint}
Next: cohort server start --data-dir ${dataDir}`);
  }
  return 0;
}
