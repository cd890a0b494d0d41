// Builds the embedded base model `models/tinymed-vqa/` reproducibly: generates the SynthRad-VQA pretraining
// corpus from fixed seeds, pretrains TinyMed-VQA (every weight trainable) with one ORT thread (so every
// float is deterministic), and writes config.json + model.safetensors + SHA256.
//
//   npm run build:base-model                 # rebuild models/tinymed-vqa
//   npm run build:base-model -- --check      # rebuild into a temp dir and compare with the committed hash
//   npm run build:base-model -- --out DIR --records N --epochs E
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateSynthRad, SYNTHRAD_ANSWERS } from '../core/data/synthrad.js';
import type { VqaDataset, VqaRecord } from '../core/data/types.js';
import { BASE_MODEL_FILES, defaultBaseModelDir, saveBaseModel } from '../core/ml/base-model.node.js';
import { evaluate, pretrainBase } from '../core/ml/engine.node.js';
import { encodeExamples } from '../core/ml/features.js';
import { initBaseWeights, type TinyMedConfig } from '../core/ml/model.js';

export const BASE_CONFIG: TinyMedConfig = {
  arch: 'tinymed-vqa',
  version: 1,
  imageSize: 64,
  patchSize: 8,
  maxTokens: 24,
  ngramSlots: 8,
  hashBuckets: 4096,
  sketchDim: 512,
  dim: 64,
  heads: 4,
  layers: 4,
  mlpDim: 256,
  lnEps: 1e-5,
  answers: [...SYNTHRAD_ANSWERS],
};

/** The pretraining corpus: the broad `pretrain` mix plus every hospital preset, each from its own seed. */
const CORPUS = [
  { preset: 'pretrain', share: 0.5, seed: 1001 },
  { preset: 'general', share: 0.1, seed: 1002 },
  { preset: 'chest-clinic', share: 0.1, seed: 1003 },
  { preset: 'neuro-center', share: 0.1, seed: 1004 },
  { preset: 'abdominal-imaging', share: 0.1, seed: 1005 },
  { preset: 'rural-xray', share: 0.1, seed: 1006 },
];

function merge(parts: VqaDataset[]): VqaDataset {
  const records: VqaRecord[] = [];
  const images = new Map<string, VqaDataset['images'] extends Map<string, infer I> ? I : never>();
  for (const p of parts) {
    records.push(...p.records);
    for (const [k, v] of p.images) images.set(k, v);
  }
  return { name: 'synthrad-pretrain', records, images };
}

async function main() {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      records: { type: 'string', default: '24000' },
      epochs: { type: 'string', default: '3' },
      batch: { type: 'string', default: '32' },
      lr: { type: 'string', default: '0.002' },
      threads: { type: 'string', default: '1' },
      seed: { type: 'string', default: '20240601' },
      check: { type: 'boolean', default: false },
    },
  });
  const started = Date.now();
  const total = Number(values.records);
  const committedDir = defaultBaseModelDir();
  const outDir = values.check ? await mkdtemp(join(tmpdir(), 'cohort-base-')) : (values.out ?? committedDir);
  const data = merge(
    CORPUS.map((c) => generateSynthRad({ preset: c.preset, n: Math.round(total * c.share), seed: c.seed })),
  );
  const train = data.records.filter((r) => r.split === 'train');
  const val = data.records.filter((r) => r.split === 'val');
  const trainEx = encodeExamples(train, data.images, BASE_CONFIG.answers, BASE_CONFIG);
  const valEx = encodeExamples(val, data.images, BASE_CONFIG.answers, BASE_CONFIG);
  console.log(
    `corpus: ${train.length} train / ${val.length} val questions on ${data.images.size} images (${Date.now() - started} ms)`,
  );
  const weights = initBaseWeights(BASE_CONFIG, Number(values.seed));
  let last = 0;
  const stats = await pretrainBase({
    config: BASE_CONFIG,
    weights,
    examples: trainEx,
    epochs: Number(values.epochs),
    batchSize: Number(values.batch),
    lr: Number(values.lr),
    weightDecay: 0.01,
    clipNorm: 1,
    seed: Number(values.seed),
    threads: Number(values.threads),
    schedule: 'cosine',
    onProgress: (p) => {
      if (Date.now() - last > 10_000 || p.step === p.steps) {
        last = Date.now();
        console.log(
          `  step ${p.step}/${p.steps} epoch ${p.epoch + 1}/${p.epochs} loss ${p.loss.toFixed(4)} (${((Date.now() - started) / 1000).toFixed(0)} s)`,
        );
      }
    },
  });
  const base = { config: BASE_CONFIG, weights, hash: 'unsaved' };
  const hash = await saveBaseModel(outDir, BASE_CONFIG, weights);
  const loaded = { ...base, hash };
  const m = await evaluate({ base: loaded, adapter: null, examples: valEx, threads: Number(values.threads) });
  const acc = (c: { n: number; correct: number }) => (c.n ? (c.correct / c.n).toFixed(3) : '-');
  console.log(`pretraining: ${stats.steps} steps, final-epoch loss ${stats.lastEpochLoss.toFixed(4)}`);
  console.log(
    `SynthRad validation: closed ${acc(m.closed)} (n=${m.closed.n}), open ${acc(m.open)} (n=${m.open.n})`,
  );
  console.log(`wrote ${outDir} sha256 ${hash} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (values.check) {
    const committed = (
      await readFile(join(committedDir, BASE_MODEL_FILES.hash), 'utf8').catch(() => '')
    ).trim();
    await rm(outDir, { recursive: true, force: true });
    if (committed !== hash) {
      console.error(`MISMATCH: committed ${committed || '(none)'} vs rebuilt ${hash}`);
      process.exitCode = 1;
    } else console.log('reproduced the committed hash');
  }
}

await main();
