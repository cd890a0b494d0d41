import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCommandArgs, parseIntegerOption, requireOption } from '../../core/cli/args.node.js';
import { CliError } from '../../core/cli/errors.js';
import { initAdapter, unflattenShared } from '../../core/ml/adapter.js';
import { defaultBaseModelDir, loadBaseModel } from '../../core/ml/base-model.node.js';
import {
  ADAPTER_FILES,
  baseRef,
  encodeAdapter,
  exportMergedOnnx,
  exportPeft,
} from '../../core/ml/formats.js';
import { federationConfigSchema } from '../../core/protocol/federation.js';
import { bitsToFloats } from '../../core/protocol/rounds.js';
import { loadCoordinatorConfig } from '../data-dir.js';
import { CoordinatorStore } from '../store/coordinator-store.js';
import { makeDir } from '../../core/util/make-dir.node.js';

const FORMATS = ['cohort', 'peft', 'onnx'] as const;

/**
 * Writes a global version as a model others can use: `cohort` (adapter.json + adapter.safetensors, what
 * `cohort eval --model` reads), `peft` (the layout Hugging Face PEFT reads), or `onnx` (base and adapter
 * merged into one ONNX model for plain onnxruntime). Parts a federation keeps local never reach the
 * coordinator; the export carries their initial values and says so.
 */
export async function run(args: string[]): Promise<number> {
  const command = 'server export';
  const { values } = parseCommandArgs(command, args, {
    'data-dir': { type: 'string' },
    federation: { type: 'string' },
    version: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string' },
    'base-model': { type: 'string' },
  });
  if (values.help) {
    console.log(`usage: cohort ${command} --data-dir DIR --federation ID [--version V] --format cohort|peft|onnx --out DIR
       [--base-model DIR]

Writes a global version of a federation from the coordinator's store (the coordinator need not run):
  --version V     the version to export (default: the latest)
  --format        cohort: adapter.json + adapter.safetensors, what 'cohort eval --model' reads;
                  peft: adapter_config.json + adapter_model.safetensors, the layout Hugging Face PEFT reads;
                  onnx: the base model and the adapter merged into one model.onnx for plain ONNX Runtime
  --base-model    the base model directory (default the embedded models/tinymed-vqa)
Adapter parts the federation keeps at the sites never reach the coordinator: the export holds their
initial values and says so.`);
    return 0;
  }
  const dataDir = requireOption(command, values['data-dir'], '--data-dir');
  const federationId = requireOption(command, values.federation, '--federation');
  const format = requireOption(command, values.format, '--format');
  if (!(FORMATS as readonly string[]).includes(format))
    throw new CliError(`${command}: --format must be one of ${FORMATS.join(', ')}`, 2);
  const out = requireOption(command, values.out, '--out');
  const requested = parseIntegerOption(command, values.version, '--version', 0, Number.MAX_SAFE_INTEGER);

  const { paths } = loadCoordinatorConfig(dataDir);
  const store = new CoordinatorStore(paths.database);
  let federation, version;
  try {
    federation = store.getFederation(federationId);
    if (!federation) throw new CliError(`${command}: no federation '${federationId}'`);
    version = store.getVersion(federationId, requested);
    if (!version) throw new CliError(`${command}: federation '${federationId}' has no version ${requested}`);
  } finally {
    store.close();
  }
  const config = federationConfigSchema.parse(federation.config);
  const base = await loadBaseModel(values['base-model'] ?? defaultBaseModelDir());
  if (base.hash !== config.baseModelHash)
    throw new CliError(
      `${command}: the federation's base model ${config.baseModelHash.slice(0, 12)}… is not the one installed here`,
    );
  const shared = bitsToFloats(new Uint32Array(Uint8Array.from(version.shared).buffer));
  const adapter = unflattenShared(initAdapter(base, config.adapter, config.answers, config.seed), shared);
  const localParts = (['lora', 'prompt', 'head'] as const).filter(
    (part) => config.adapter[part].enabled && !config.adapter[part].shared,
  );
  const meta = {
    federation: federationId,
    version: version.version,
    hash: version.hash,
    round: version.round,
    localPartsAtInitialValues: localParts,
  };

  makeDir(out);
  if (format === 'cohort') {
    const { json, weights } = encodeAdapter(adapter, baseRef(base), meta);
    await writeFile(join(out, ADAPTER_FILES.config), json);
    await writeFile(join(out, ADAPTER_FILES.weights), weights);
  } else if (format === 'peft') {
    const peft = exportPeft(adapter, baseRef(base));
    await writeFile(join(out, 'adapter_config.json'), peft.config);
    await writeFile(join(out, 'adapter_model.safetensors'), peft.weights);
  } else {
    await writeFile(
      join(out, 'model.onnx'),
      exportMergedOnnx(base.config, base.weights, adapter, 1, base.hash),
    );
  }
  console.log(
    `Exported version ${version.version} of '${config.name}' (${version.hash.slice(0, 16)}…) as ${format} to ${out}` +
      (localParts.length
        ? `\nnote: ${localParts.join(', ')} stay at the sites; this export holds their initial values`
        : ''),
  );
  return 0;
}
