// Builds the FeatVQA base model `models/feat-vqa/` reproducibly: a fusion model over the embedded image
// encoder's features (MobileNetV2's final 7×7×1280 map and block 10's 14×14×96 map pooled to 7×7),
// initialised from a fixed seed and not pretrained. Why not pretrained: the only data the base may see
// is public or synthetic, and SynthRad's drawn shapes through an ImageNet encoder teach the fusion
// nothing that carries over to radiographs; the adapters (LoRA on every fusion layer and on the feature
// projections, soft prompt, head) learn it at the sites. The hash still names the model exactly.
//
//   npm run build:feat-vqa                 # rebuild models/feat-vqa
//   npm run build:feat-vqa -- --check      # rebuild into a temp dir and compare with the committed hash
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SYNTHRAD_ANSWERS } from '../core/data/synthrad.js';
import { BASE_MODEL_FILES, defaultBaseModelDir, saveBaseModel } from '../core/ml/base-model.node.js';
import { MOBILENET_V2_OUTPUTS, MOBILENET_V2_SPEC } from '../core/ml/encoder/spec.js';
import type { FeatVqaConfig } from '../core/ml/feat-vqa.js';
import { initBaseWeights } from '../core/ml/model.js';

export const FEAT_VQA_CONFIG: FeatVqaConfig = {
  arch: 'feat-vqa',
  version: 1,
  encoder: { ...MOBILENET_V2_SPEC, outputs: [MOBILENET_V2_OUTPUTS.final, MOBILENET_V2_OUTPUTS.block10] },
  featureTokens: 49,
  featureGroups: [1280, 96],
  maxTokens: 24,
  ngramSlots: 8,
  hashBuckets: 4096,
  sketchDim: 512,
  dim: 128,
  heads: 4,
  layers: 2,
  mlpDim: 256,
  lnEps: 1e-5,
  answers: [...SYNTHRAD_ANSWERS],
};

const SEED = 20251203;

async function main() {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, check: { type: 'boolean', default: false } },
  });
  const committedDir = defaultBaseModelDir('feat-vqa');
  const outDir = values.check ? await mkdtemp(join(tmpdir(), 'cohort-feat-')) : (values.out ?? committedDir);
  const hash = await saveBaseModel(outDir, FEAT_VQA_CONFIG, initBaseWeights(FEAT_VQA_CONFIG, SEED));
  console.log(`wrote ${outDir} sha256 ${hash}`);
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
