import { parseCommandArgs, parseIntegerOption, requireOption } from '../../core/cli/args.node.js';
import { CliError } from '../../core/cli/errors.js';
import { SYNTHRAD_PRESETS } from '../../core/data/synthrad.js';
import { ensureSiteDataDir } from '../agent/site-data-dir.js';
import { runImportJob } from './site-store.js';

const COMMAND = 'site synth';

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(COMMAND, args, {
    'data-dir': { type: 'string' },
    preset: { type: 'string' },
    n: { type: 'string' },
    seed: { type: 'string' },
    'val-fraction': { type: 'string' },
    json: { type: 'boolean' },
  });
  const presets = Object.entries(SYNTHRAD_PRESETS)
    .map(([name, p]) => `  ${name.padEnd(18)} ${p.description}`)
    .join('\n');
  if (values.help) {
    console.log(`usage: cohort site synth --data-dir DIR --preset NAME --n N [--seed N] [--val-fraction F] [--json]

Generates N SynthRad-VQA question records (synthetic radiographs, no real patient) into the site's store,
for demos and tests. The same preset, N and seed give the same records; generating them again adds nothing.

presets:
${presets}`);
    return 0;
  }
  const dataDir = requireOption(COMMAND, values['data-dir'], '--data-dir');
  const preset = requireOption(COMMAND, values.preset, '--preset');
  if (!SYNTHRAD_PRESETS[preset]) {
    throw new CliError(
      `${COMMAND}: unknown preset '${preset}' (known: ${Object.keys(SYNTHRAD_PRESETS).join(', ')})`,
      2,
    );
  }
  const n = parseIntegerOption(COMMAND, requireOption(COMMAND, values.n, '--n'), '--n', 1, 1_000_000)!;
  const seed = parseIntegerOption(COMMAND, values.seed, '--seed', 0, 2 ** 31 - 1);
  let validationFraction: number | undefined;
  if (values['val-fraction'] !== undefined) {
    validationFraction = Number(values['val-fraction']);
    if (values['val-fraction'].trim() === '' || !(validationFraction >= 0 && validationFraction < 1)) {
      throw new CliError(
        `${COMMAND}: --val-fraction must be a number with 0 <= F < 1 (got '${values['val-fraction']}')`,
        2,
      );
    }
  }
  const json = Boolean(values.json);
  const paths = ensureSiteDataDir(dataDir);
  return runImportJob(COMMAND, paths.database, json, (service, onProgress) =>
    service.generateSynthRad(
      {
        preset,
        n,
        ...(seed !== undefined ? { seed } : {}),
        ...(validationFraction !== undefined ? { validationFraction } : {}),
      },
      onProgress,
    ),
  );
}
