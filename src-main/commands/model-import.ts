import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseCommandArgs, requireOption } from '../../core/cli/args.node.js';
import { CliError } from '../../core/cli/errors.js';
import { ProgressBar } from '../../core/cli/progress.node.js';
import { CheckpointError } from '../../core/ml/lm/config.js';
import { importCheckpoint, type ImportProgress } from '../../core/ml/lm/registry.node.js';

const COMMAND = 'model import';

const USAGE = `usage: cohort model import --data-dir DIR CHECKPOINT_DIR [--json]

Registers a Hugging Face decoder language model (GPT-2, Llama, Mistral or Qwen2) by content hash: the
checkpoint (config.json, model.safetensors or a sharded model.safetensors.index.json with its shards,
tokenizer.json) is validated, hashed, and copied into DIR/models/<hash>/. Importing the same files
again changes nothing.

options:
  --data-dir DIR   the site's data directory (the registry is DIR/models)
  --json           print the result as JSON on stdout (progress on stderr only on a terminal)`;

const MB = 1024 * 1024;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    COMMAND,
    args,
    { 'data-dir': { type: 'string' }, json: { type: 'boolean' } },
    true,
  );
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const dataDir = requireOption(COMMAND, values['data-dir'], '--data-dir');
  if (positionals.length !== 1) throw new CliError(`${COMMAND}: give exactly one CHECKPOINT_DIR`, 2);
  const source = positionals[0]!;
  if (!existsSync(source) || !statSync(source).isDirectory())
    throw new CliError(`${COMMAND}: ${source} is not a directory`, 2);
  if (existsSync(dataDir) && !statSync(dataDir).isDirectory())
    throw new CliError(`${COMMAND}: ${dataDir} exists and is not a directory`, 2);
  const json = Boolean(values.json);
  const showProgress = !json || Boolean(process.stderr.isTTY);
  const bars = new Map<string, ProgressBar>();
  const onProgress = (p: ImportProgress) => {
    if (!showProgress) return;
    if (p.phase === 'validate') {
      process.stderr.write(`validating ${source}\n`);
      return;
    }
    let bar = bars.get(p.phase);
    if (!bar) {
      bar = new ProgressBar(
        p.phase === 'hash' ? 'hashing MB' : 'copying MB',
        Math.ceil(p.bytesTotal / MB),
        true,
      );
      bars.set(p.phase, bar);
    }
    // Whole MB only until the end, so that small files do not each print a finished bar.
    bar.update(p.bytesDone >= p.bytesTotal ? Math.ceil(p.bytesTotal / MB) : Math.floor(p.bytesDone / MB));
  };
  let result;
  try {
    result = await importCheckpoint(source, join(dataDir, 'models'), onProgress);
  } catch (error) {
    if (error instanceof CheckpointError) throw new CliError(`${COMMAND}: refused: ${error.message}`, 1);
    throw error;
  }
  if (json) console.log(JSON.stringify(result, null, 2));
  else {
    const bytes = result.files.reduce((a, f) => a + f.bytes, 0);
    console.log(
      `${result.alreadyPresent ? 'already registered' : 'registered'} ${result.modelType} model ${result.hash}\n` +
        `  ${(result.parameters / 1e6).toFixed(2)} M parameters, ${result.files.length} files, ${(bytes / MB).toFixed(1)} MB\n` +
        `  ${result.path}`,
    );
  }
  return 0;
}
