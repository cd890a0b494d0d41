import { parseCommandArgs, requireOption } from '../../core/cli/args.node.js';
import { requireSiteStore } from '../agent/site-data-dir.js';
import type { DataCounts } from '../data/site-data-service.js';
import { openSiteData } from './site-store.js';

const COMMAND = 'site data';

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(COMMAND, args, {
    'data-dir': { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    console.log(`usage: cohort site data --data-dir DIR [--json]

Counts the site's stored images and questions by split, answer type, organ and modality.`);
    return 0;
  }
  const dataDir = requireOption(COMMAND, values['data-dir'], '--data-dir');
  const paths = requireSiteStore(COMMAND, dataDir);
  const service = await openSiteData(COMMAND, paths.database);
  try {
    const counts = await service.counts();
    console.log(values.json ? JSON.stringify(counts) : formatCounts(counts));
    return 0;
  } finally {
    await service.close();
  }
}

const n = (value: number) => value.toLocaleString('en-US');

export function formatCounts(c: DataCounts): string {
  const table = (title: string, rows: [string, number | undefined, number][]) => {
    const lines = [`${title.padEnd(16)} ${'images'.padStart(8)} ${'questions'.padStart(10)}`];
    for (const [name, images, questions] of rows) {
      lines.push(
        `  ${name.padEnd(14)} ${(images === undefined ? '' : n(images)).padStart(8)} ${n(questions).padStart(10)}`,
      );
    }
    return lines.join('\n');
  };
  return [
    `${n(c.images)} images, ${n(c.questions)} questions (${n(c.imports)} completed import${c.imports === 1 ? '' : 's'})`,
    table('split', [
      ['train', c.imagesBySplit.train, c.questionsBySplit.train],
      ['val', c.imagesBySplit.val, c.questionsBySplit.val],
    ]),
    table('answer type', [
      ['closed', undefined, c.questionsByAnswerType.closed],
      ['open', undefined, c.questionsByAnswerType.open],
    ]),
    table(
      'organ',
      c.byOrgan.map((r) => [r.organ ?? '(not recorded)', r.images, r.questions]),
    ),
    table(
      'modality',
      c.byModality.map((r) => [r.modality ?? '(not recorded)', r.images, r.questions]),
    ),
  ].join('\n');
}
