// Builds the embedded default language model `models/cohort-lm-tiny/` reproducibly: assembles the corpus
// (the JSDoc prose of TypeScript's ECMAScript library declarations, from the `typescript` npm package
// pinned in package-lock.json, Apache-2.0; plus synthetic SynthRad-VQA question/answer text from fixed
// seeds), learns a byte-level BPE vocabulary, pretrains a small GPT-2 (every weight trainable) with one
// ORT thread (so every float is deterministic), and writes the Hugging Face layout (config.json,
// model.safetensors, tokenizer.json), the registry hash (SHA256) and a README describing the corpus.
//
//   npm run build:default-lm                 # rebuild models/cohort-lm-tiny
//   npm run build:default-lm -- --check      # rebuild into a temp dir and compare with the committed hash
//   npm run build:default-lm -- --out DIR --steps N
import { Tokenizer } from '@huggingface/tokenizers';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateSynthRad } from '../core/data/synthrad.js';
import { byteLevelTokenizerJson, learnMerges } from '../core/ml/lm/bpe-train.js';
import { expectedWeights, parseLmConfig } from '../core/ml/lm/config.js';
import { LanguageModel } from '../core/ml/lm/engine.node.js';
import { hashCheckpoint } from '../core/ml/lm/registry.node.js';
import { AdamW, clipGradNorm } from '../core/ml/optim.js';
import { Rng } from '../core/ml/rng.js';
import { encodeSafetensors } from '../core/ml/safetensors.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DEFAULT_LM_DIR = join(ROOT, 'models', 'cohort-lm-tiny');

/** TypeScript 5.9.3's ECMAScript library declarations whose JSDoc prose is used. */
const TS_LIB_FILES = [
  'lib.es5.d.ts',
  'lib.es2015.core.d.ts',
  'lib.es2015.collection.d.ts',
  'lib.es2015.iterable.d.ts',
  'lib.es2015.promise.d.ts',
  'lib.es2015.proxy.d.ts',
  'lib.es2015.reflect.d.ts',
  'lib.es2015.symbol.wellknown.d.ts',
  'lib.es2017.object.d.ts',
  'lib.es2017.string.d.ts',
  'lib.es2017.sharedmemory.d.ts',
  'lib.es2018.promise.d.ts',
  'lib.es2019.array.d.ts',
  'lib.es2019.object.d.ts',
  'lib.es2020.bigint.d.ts',
  'lib.es2020.string.d.ts',
];

const RADIOLOGY = [
  { preset: 'general', n: 4000, seed: 3001 },
  { preset: 'chest-clinic', n: 1500, seed: 3002 },
  { preset: 'neuro-center', n: 1500, seed: 3003 },
  { preset: 'abdominal-imaging', n: 1500, seed: 3004 },
];

const HF_CONFIG = {
  model_type: 'gpt2',
  architectures: ['GPT2LMHeadModel'],
  n_positions: 128,
  n_embd: 128,
  n_layer: 4,
  n_head: 4,
  n_inner: null,
  activation_function: 'gelu_new',
  layer_norm_epsilon: 1e-5,
  tie_word_embeddings: true,
};
const MERGES = 1000;
const EOS = '<|endoftext|>';

/** The prose of every `/** … *\/` block (tag lines dropped), one paragraph per block. */
function jsdocParagraphs(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/\/\*\*([\s\S]*?)\*\//g)) {
    const lines = m[1]!
      .split('\n')
      .map((l) => l.replace(/^\s*\*\s?/, '').trim())
      .filter((l) => l && !l.startsWith('@'));
    const text = lines.join(' ').replace(/\s+/g, ' ').trim();
    if (text.length >= 20) out.push(text);
  }
  return out;
}

function corpus(): { docs: string[]; tsChars: number; radChars: number; tsDocs: number; radDocs: number } {
  const lib = join(ROOT, 'node_modules', 'typescript', 'lib');
  const ts = TS_LIB_FILES.flatMap((f) => jsdocParagraphs(readFileSync(join(lib, f), 'utf8')));
  const rad = RADIOLOGY.flatMap(({ preset, n, seed }) =>
    generateSynthRad({ preset, n, seed }).records.map((r) => `Question: ${r.question}\nAnswer: ${r.answer}`),
  );
  const docs = new Rng(7).shuffle([...ts, ...rad]);
  const chars = (xs: string[]) => xs.reduce((a, s) => a + s.length, 0);
  return { docs, tsChars: chars(ts), radChars: chars(rad), tsDocs: ts.length, radDocs: rad.length };
}

function initWeights(cfg: ReturnType<typeof parseLmConfig>, seed: number): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const weights = new Map<string, Float32Array>();
  // GPT-2's init: N(0, 0.02), residual projections scaled by 1/√(2·layers), LayerNorm 1/0, biases 0.
  const residual = 0.02 / Math.sqrt(2 * cfg.layers);
  for (const [name, shape] of expectedWeights(cfg)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (/ln_\d\.weight$|ln_f\.weight$/.test(name)) data.fill(1);
    else if (!name.endsWith('.bias')) {
      const std = name.endsWith('c_proj.weight') ? residual : name.endsWith('wpe.weight') ? 0.01 : 0.02;
      for (let i = 0; i < data.length; i++) data[i] = rng.normal() * std;
    }
    weights.set(name, data);
  }
  return weights;
}

async function build(out: string, steps: number, log: (s: string) => void) {
  const started = Date.now();
  const { docs, tsChars, radChars, tsDocs, radDocs } = corpus();
  log(
    `corpus: ${tsDocs} TypeScript JSDoc paragraphs (${tsChars} chars), ${radDocs} SynthRad Q/A (${radChars} chars)`,
  );
  const merges = learnMerges(docs, MERGES);
  const tokenizerJson = byteLevelTokenizerJson(merges, [EOS]);
  const tokenizer = new Tokenizer(tokenizerJson, {});
  const eos = tokenizer.token_to_id(EOS)!;
  const vocab = eos + 1;
  const stream: number[] = [];
  for (const d of docs) stream.push(...tokenizer.encode(d).ids, eos);
  log(`tokens: ${stream.length} (vocabulary ${vocab})`);
  const hf = { ...HF_CONFIG, vocab_size: vocab, bos_token_id: eos, eos_token_id: eos };
  const cfg = parseLmConfig(hf);
  const weights = initWeights(cfg, 1);
  const model = new LanguageModel(cfg, weights, { threads: 1 });
  const [B, T] = [16, 64];
  const valStart = Math.floor(stream.length * 0.98);
  const windowAt = (start: number) => Int32Array.from(stream.slice(start, start + T));
  const batchFrom = (starts: number[]) => {
    const ids = new Int32Array(B * T);
    starts.forEach((s, b) => ids.set(windowAt(s), b * T));
    return ids;
  };
  const valStarts = Array.from({ length: B }, (_, i) => valStart + i * T);
  const valIds = batchFrom(valStarts);
  const valLoss = async () => (await model.lossAndGrads(valIds, valIds, B, T)).loss;
  const initialVal = await valLoss();
  const opt = new AdamW(weights, {
    lr: 3e-3,
    weightDecay: 0.01,
    decays: (n) => n.endsWith('.weight') && !/ln_\d|ln_f/.test(n),
  });
  const rng = new Rng(11);
  const warmup = Math.min(30, steps);
  let last = 0;
  for (let s = 0; s < steps; s++) {
    const starts = Array.from({ length: B }, () => rng.int(valStart - T));
    const ids = batchFrom(starts);
    const { loss, grads } = await model.lossAndGrads(ids, ids, B, T);
    clipGradNorm(grads, 1);
    const progress =
      s < warmup
        ? (s + 1) / warmup
        : 0.1 + 0.45 * (1 + Math.cos((Math.PI * (s - warmup)) / (steps - warmup)));
    opt.step(grads, 3e-3 * Math.min(1, progress));
    last = loss;
    if (s % 50 === 0 || s === steps - 1)
      log(`step ${s}: loss ${loss.toFixed(4)} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  const finalVal = await valLoss();
  const prompt = tokenizer.encode('Question: is there a pleural effusion?\nAnswer:').ids;
  const sample = await model.generate(prompt, { maxNewTokens: 8 });
  await model.release();
  log(
    `validation loss ${initialVal.toFixed(4)} → ${finalVal.toFixed(4)}; sample: ${JSON.stringify(tokenizer.decode(sample.tokens))}`,
  );

  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'config.json'), `${JSON.stringify(hf, null, 2)}\n`);
  await writeFile(join(out, 'tokenizer.json'), `${JSON.stringify(tokenizerJson)}\n`);
  await writeFile(
    join(out, 'model.safetensors'),
    encodeSafetensors(
      [...weights].map(([n, data]) => [n, { shape: expectedWeights(cfg).get(n)!, data }]),
      { format: 'pt' },
    ),
  );
  const { hash } = await hashCheckpoint(out, ['config.json', 'model.safetensors', 'tokenizer.json']);
  await writeFile(join(out, 'SHA256'), `${hash}\n`);
  const params = [...weights.values()].reduce((a, w) => a + w.length, 0);
  return {
    hash,
    params,
    vocab,
    tokens: stream.length,
    tsChars,
    radChars,
    tsDocs,
    radDocs,
    initialVal,
    finalVal,
    last,
    steps,
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      steps: { type: 'string', default: '600' },
      check: { type: 'boolean' },
    },
  });
  const steps = Number(values.steps);
  const log = (s: string) => console.error(s);
  if (values.check) {
    const tmp = await mkdtemp(join(tmpdir(), 'cohort-default-lm-'));
    try {
      const { hash } = await build(tmp, steps, log);
      const committed = (await readFile(join(DEFAULT_LM_DIR, 'SHA256'), 'utf8')).trim();
      console.log(hash === committed ? `ok: ${hash}` : `MISMATCH: built ${hash}, committed ${committed}`);
      process.exitCode = hash === committed ? 0 : 1;
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    return;
  }
  const out = values.out ?? DEFAULT_LM_DIR;
  const r = await build(out, steps, log);
  console.log(JSON.stringify(r));
}

await main();
