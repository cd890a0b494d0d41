import { existsSync } from 'node:fs';
import { parseCommandArgs, requireOption } from '../../core/cli/args.node.js';
import { CliError } from '../../core/cli/errors.js';
import { SiteAgent } from '../agent/site-agent.js';
import { siteFilesToUndo } from '../agent/site-data-dir.js';

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'site enroll',
    args,
    { 'data-dir': { type: 'string' }, json: { type: 'boolean' } },
    true,
  );
  if (values.help) {
    console.log(`usage: cohort site enroll --data-dir DIR LINK [--json]

Enrolls this site with a coordinator using the one-time link from 'cohort server invite': creates the
site's identity key, pins the coordinator's TLS certificate and identity key, and registers.`);
    return 0;
  }
  const dataDir = requireOption('site enroll', values['data-dir'], '--data-dir');
  if (positionals.length !== 1)
    throw new CliError('site enroll: give exactly one enrollment link (quote it)', 2);
  const undoCreated = siteFilesToUndo(dataDir);
  const newDirectory = !existsSync(dataDir);
  let agent: SiteAgent;
  try {
    agent = await SiteAgent.open({ dataDir });
  } catch (error) {
    // Without the agent lock, files in an existing directory may be another agent's: touch none of them.
    if (newDirectory) undoCreated();
    throw error;
  }
  let enrolled = false;
  try {
    const status = await agent.enroll(positionals[0]!);
    if (values.json) console.log(JSON.stringify(status));
    else {
      console.log(`Enrolled as '${status.site?.name}' (${status.site?.id}) with '${status.coordinator?.name}' at ${status.coordinator?.url}
  this site's fingerprint:      ${status.site?.fingerprint}
  coordinator identity:         ${status.coordinator?.identityFingerprint}
  coordinator certificate:      ${status.coordinator?.certificateFingerprint}
Compare these with the coordinator's operator over a channel you trust.
Next: cohort site serve --data-dir ${dataDir}`);
    }
    enrolled = true;
  } catch (error) {
    throw new CliError(`site enroll: ${(error as Error).message}`);
  } finally {
    await agent.close();
    // A refused or unreachable enrollment leaves no half-made site (an identity key, an empty store).
    if (!enrolled) undoCreated();
  }
  return 0;
}
