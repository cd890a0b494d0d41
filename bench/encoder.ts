/**
 * `cohort bench encoder`: the frozen image encoder on VQA-RAD's images. Reports the conversion of
 * nsfwjs's MobileNetV2 to ONNX, then feature extraction for every image two ways: from the source files
 * (decode + letterbox to 224 with sharp, then the encoder) and through a site store's feature cache
 * (images imported first; the lazy fill from the stored 128² pixels, then reading the cache back).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseCommandArgs, parseIntegerOption } from '../core/cli/args.node.js';
import { CliError } from '../core/cli/errors.js';
import { decodeToGray } from '../core/data/image.node.js';
import { extractFeatures, type ExtractTimings } from '../core/ml/encoder/extract.node.js';
import {
  ImageEncoder,
  convertMobileNetV2,
  readEncoderFile,
  sha256Hex,
} from '../core/ml/encoder/image-encoder.node.js';
import { MOBILENET_V2_SPEC } from '../core/ml/encoder/spec.js';
import { packageRoot } from '../core/util/package-root.node.js';
import { forEachBounded } from '../src-main/importers/context.js';
import { SiteDataService } from '../src-main/data/site-data-service.js';

const usage = `usage: cohort bench encoder [--json FILE] [--dataset DIR] [--threads N] [--batch N]

Converts nsfwjs's MobileNetV2 to ONNX (timed), then extracts features for every VQA-RAD image
(default dataset: ../shared/datasets/vqa-rad beside the repository): decode + resize time against
encoder time (target: total < 10 s), and the site store's cache fill and read.`;

const round = (x: number, digits = 3) => Number(x.toFixed(digits));

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs('bench encoder', args, {
    json: { type: 'string' },
    dataset: { type: 'string' },
    threads: { type: 'string' },
    batch: { type: 'string' },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const threads = parseIntegerOption('bench encoder', values.threads, '--threads', 1, 64) ?? 1;
  const batch = parseIntegerOption('bench encoder', values.batch, '--batch', 1, 256) ?? 8;
  const dataset = resolve(values.dataset ?? join(packageRoot(), '..', 'shared', 'datasets', 'vqa-rad'));
  const imageDir = join(dataset, 'images');
  if (!existsSync(imageDir)) {
    throw new CliError(
      `bench encoder: no VQA-RAD images at ${imageDir} (give the dataset with --dataset DIR)`,
      2,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'cohort-bench-encoder-'));
  try {
    // 1. Conversion (reading the package's bundles, converting, serialising), as on a site's first use.
    let started = performance.now();
    const { bytes } = convertMobileNetV2();
    const conversionS = (performance.now() - started) / 1000;
    const hash = sha256Hex(bytes);
    if (hash !== MOBILENET_V2_SPEC.sha256) throw new Error(`conversion gave ${hash}, not the pinned hash`);
    const encoderDir = join(dir, 'encoders');
    readEncoderFile(encoderDir, MOBILENET_V2_SPEC); // writes the cached file
    started = performance.now();
    const encoder = await ImageEncoder.open(
      readEncoderFile(encoderDir, MOBILENET_V2_SPEC),
      MOBILENET_V2_SPEC,
      {
        threads,
      },
    );
    const openS = (performance.now() - started) / 1000;

    // 2. From the source files: decode + letterbox at 224 (sharp, 4 lanes as the importers use), then encode.
    const names = readdirSync(imageDir)
      .filter((n) => /\.(jpe?g|png)$/i.test(n))
      .sort();
    started = performance.now();
    const images = new Array<{ width: number; height: number; pixels: Uint8Array }>(names.length);
    await forEachBounded(names, undefined, undefined, async (name, i) => {
      images[i] = await decodeToGray(await readFile(join(imageDir, name)), MOBILENET_V2_SPEC.inputSize);
    });
    const decodeS = (performance.now() - started) / 1000;
    const timings: ExtractTimings = { resizeMs: 0, encodeMs: 0 };
    started = performance.now();
    // CPU time as well as wall time: on a shared, loaded machine the wall time mostly measures the queue.
    const cpuBefore = process.cpuUsage();
    await extractFeatures(encoder, images, { batchSize: batch, timings });
    const cpu = process.cpuUsage(cpuBefore);
    const extractS = (performance.now() - started) / 1000;
    await encoder.release();

    // 3. Through site stores. (a) As the agent imports: features computed at import, from the source;
    // timed against (b) the same import without them.
    const importS = async (withFeatures: boolean) => {
      const database = join(dir, `site-${withFeatures}.db`);
      const service = await SiteDataService.open(database, withFeatures ? { encoderDir } : {});
      const t = performance.now();
      await service.importDataset({ format: 'vqa-rad', path: dataset });
      return { service, database, s: (performance.now() - t) / 1000 };
    };
    const plain = await importS(false);
    const withFeatures = await importS(true);
    await withFeatures.service.close();
    // (c) The lazy fill, from the stored 128² pixels, of the store imported without features.
    const { service, database } = plain;
    const { records } = await service.loadTrainingData();
    const keys = [...new Set(records.map((r) => r.imageKey))];
    started = performance.now();
    const filled = await service.featuresFor(keys, MOBILENET_V2_SPEC, { encoderDir, threads });
    const fillS = (performance.now() - started) / 1000;
    started = performance.now();
    const again = await service.featuresFor(keys, MOBILENET_V2_SPEC, { encoderDir, threads });
    const readS = (performance.now() - started) / 1000;
    if (again.computed !== 0)
      throw new Error('the second featuresFor encoded images again: the cache is broken');
    await service.close();
    const size = (path: string) => (existsSync(path) ? statSync(path).size : 0);

    const total = decodeS + extractS;
    const result = {
      bench: 'encoder',
      encoder: 'mobilenet_v2 (nsfwjs 4.3.0)',
      sha256: hash,
      onnx_bytes: bytes.length,
      outputs: filled.outputs,
      images: names.length,
      threads,
      batch,
      conversion_s: round(conversionS),
      session_open_s: round(openS),
      source: {
        decode_resize_s: round(decodeS),
        encoder_s: round(timings.encodeMs / 1000),
        input_prep_s: round(timings.resizeMs / 1000),
        total_s: round(total),
        encoder_ms_per_image: round(timings.encodeMs / names.length, 2),
        encode_cpu_s: round((cpu.user + cpu.system) / 1e6),
      },
      store: {
        import_s: round(plain.s),
        import_with_features_s: round(withFeatures.s),
        images: filled.computed,
        fill_s: round(fillS),
        read_s: round(readS),
        db_mib: round((size(database) + size(`${database}-wal`)) / 2 ** 20, 1),
      },
      machine: {
        cpus: availableParallelism(),
        model: cpus()[0]?.model ?? 'unknown',
        node: process.version,
        loadavg_1m: round(loadavg()[0]!, 2),
      },
      at: new Date().toISOString(),
    };
    console.log(
      [
        `MobileNetV2 encoder on VQA-RAD (${names.length} images, ${threads} thread(s), batch ${batch}):`,
        `  conversion         ${result.conversion_s.toFixed(2)} s (${(bytes.length / 2 ** 20).toFixed(1)} MiB ONNX, hash pinned)`,
        `  session open       ${result.session_open_s.toFixed(2)} s`,
        `  decode + resize    ${result.source.decode_resize_s.toFixed(2)} s (sharp, from the files, to 224²)`,
        `  encoder            ${result.source.encoder_s.toFixed(2)} s (${result.source.encoder_ms_per_image} ms/image; CPU ${result.source.encode_cpu_s.toFixed(2)} s)`,
        `  total from files   ${result.source.total_s.toFixed(2)} s (target < 10 s)`,
        `  site import        ${result.store.import_s.toFixed(2)} s; with features at import ${result.store.import_with_features_s.toFixed(2)} s`,
        `  site cache fill    ${result.store.fill_s.toFixed(2)} s (${filled.computed} stored images, 128² → 224²)`,
        `  site cache read    ${result.store.read_s.toFixed(2)} s (all cached; database ${result.store.db_mib} MiB)`,
        `  load average       ${result.machine.loadavg_1m} on ${result.machine.cpus} CPUs`,
      ].join('\n'),
    );
    if (values.json) await writeFile(values.json, `${JSON.stringify(result, null, 2)}\n`);
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
