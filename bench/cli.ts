import { dispatch, type CommandEntry } from '../core/cli/dispatch.js';

/** Benchmarks (`cohort bench <name>`): each prints its figures and, with --json FILE, writes them. */
const commands: Record<string, CommandEntry> = {
  // Keyed "bench secagg": dispatch() looks up "<command> <sub>" for `cohort bench secagg`.
  'bench secagg': {
    summary: 'one secure-aggregation round in-process: client/server time, mask throughput, upload size',
    load: () => import('./secagg.bench.js'),
  },
  'bench import': {
    summary: 'VQA-RAD import into a fresh site store: wall time, images/s, questions/s, database size',
    load: () => import('./import.js'),
  },
  'bench encoder': {
    summary:
      'image encoder: MobileNetV2 conversion time, VQA-RAD feature extraction (decode vs encoder), site cache',
    load: () => import('./encoder.js'),
  },
  'bench train': {
    summary: 'training step time, throughput and memory, side by side with PyTorch',
    load: () => import('./train.js'),
  },
};

export function run(command: string, args: string[]): Promise<number> {
  return dispatch(commands, command, args);
}
