import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cohortBin } from '../core/cli/cohort-process.node.js';
import type { FederationSecurity } from '../core/site-api/contract.js';
import { ProcessFederation } from './support/process-federation.js';
import { cleanupTempDirs, tempDir } from './support/temp.js';

// The coordinator operator's commands against a running coordinator with two real site processes.
const run = (...args: string[]) =>
  spawnSync(process.execPath, [cohortBin, ...args], { encoding: 'utf8', timeout: 180_000 });

/** Runs a command that must succeed and returns its stdout. */
function cohortOk(...args: string[]): string {
  const result = run(...args);
  expect(result.status, result.stderr).toBe(0);
  return result.stdout;
}

let federation: ProcessFederation;
beforeAll(async () => {
  federation = await ProcessFederation.start(2);
}, 120_000);
afterAll(async () => {
  await federation.stop();
  cleanupTempDirs();
});

describe('cohort server federation / rounds / export', () => {
  it('creates a federation, runs a round with live JSON events, and exports the result in three formats', async () => {
    const dataDir = federation.coordinatorDataDir;
    const created = run(
      'server',
      'federation',
      'create',
      '--data-dir',
      dataDir,
      '--id',
      'cli-fed',
      '--name',
      'CLI federation',
      '--answers',
      'synth',
      '--epochs',
      '1',
      '--batch',
      '16',
      '--min-sites',
      '2',
      '--json',
    );
    expect(created.status, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({
      id: 'cli-fed',
      config: { name: 'CLI federation', minSites: 2, secure: { enabled: true } },
    });

    const duplicate = run(
      'server',
      'federation',
      'create',
      '--data-dir',
      dataDir,
      '--id',
      'cli-fed',
      '--answers',
      'synth',
    );
    expect(duplicate.status).not.toBe(0);
    expect(duplicate.stderr.trim()).toMatch(/^cohort: error: .*already exists$/);

    // Each site's operator approves the configuration by the hash the consortium circulates; the
    // first offer with exactly that hash is pinned (no site joins a configuration nobody approved).
    const { version } = JSON.parse(created.stdout) as { version: { configHash: string } };
    for (const { dataDir: siteDir } of federation.sites)
      cohortOk(
        'site',
        'federation',
        'approve',
        '--data-dir',
        siteDir,
        '--federation',
        'cli-fed',
        '--hash',
        version.configHash,
      );
    const site = federation.sites[0]!.dataDir;
    const show = () =>
      JSON.parse(cohortOk('site', 'federation', 'show', '--data-dir', site, '--json')) as FederationSecurity;
    expect(show().preapproved).toEqual([
      expect.objectContaining({ federationId: 'cli-fed', configHash: version.configHash }),
    ]);

    const rounds = run(
      'server',
      'rounds',
      '--data-dir',
      dataDir,
      '--federation',
      'cli-fed',
      '--count',
      '1',
      '--json',
    );
    expect(rounds.status, rounds.stderr).toBe(0);
    const pinned = show();
    expect(pinned.pinned).toEqual([
      expect.objectContaining({
        federationId: 'cli-fed',
        configHash: version.configHash,
        approvedBy: 'operator',
      }),
    ]);
    expect([pinned.preapproved, pinned.pending]).toEqual([[], []]);
    const events = rounds.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; stage?: string; outcome?: { status: string } });
    expect(events.map((e) => e.type)).toContain('round-started');
    expect(events.filter((e) => e.type === 'round-stage').map((e) => e.stage)).toEqual([
      'join',
      'advertise',
      'share-keys',
      'masked-input',
      'consistency',
      'unmask',
    ]);
    expect(events.find((e) => e.type === 'round-finished')?.outcome?.status).toBe('completed');

    const list = run('server', 'federation', 'list', '--data-dir', dataDir, '--json');
    expect(JSON.parse(list.stdout)).toMatchObject({
      federations: [{ id: 'cli-fed', latestVersion: 1, completedRounds: 1 }],
    });

    const out = tempDir();
    for (const format of ['cohort', 'peft', 'onnx']) {
      const exported = run(
        'server',
        'export',
        '--data-dir',
        dataDir,
        '--federation',
        'cli-fed',
        '--format',
        format,
        '--out',
        join(out, format),
      );
      expect(exported.status, exported.stderr).toBe(0);
    }
    expect(JSON.parse(readFileSync(join(out, 'peft', 'adapter_config.json'), 'utf8'))).toHaveProperty('r');
    expect(existsSync(join(out, 'peft', 'adapter_model.safetensors'))).toBe(true);
    const session = await ort.InferenceSession.create(join(out, 'onnx', 'model.onnx'));
    expect(session.outputNames).toContain('logits');

    // What `cohort eval --model` reads: the exported global adapter, evaluated on a site's own data.
    const evaluated = run(
      'eval',
      '--model',
      join(out, 'cohort'),
      '--data',
      `site:${federation.sites[0]!.dataDir}`,
      '--json',
    );
    expect(evaluated.status, evaluated.stderr).toBe(0);
    expect(JSON.parse(evaluated.stdout)).toMatchObject({
      n: expect.any(Number),
      closed: { n: expect.any(Number) },
    });
  });

  it('explains bad requests in one line', () => {
    const dataDir = federation.coordinatorDataDir;
    const cases: [string[], RegExp][] = [
      [['server', 'rounds', '--data-dir', dataDir, '--federation', 'nope'], /no federation 'nope'/],
      [
        ['server', 'federation', 'create', '--data-dir', dataDir, '--id', 'Bad Id', '--answers', 'synth'],
        /id: lowercase letters, digits and hyphens/,
      ],
      [
        [
          'server',
          'federation',
          'create',
          '--data-dir',
          dataDir,
          '--id',
          'x',
          '--answers',
          '/nonexistent.json',
        ],
        /cannot read an answer list/,
      ],
      [
        [
          'server',
          'federation',
          'create',
          '--data-dir',
          dataDir,
          '--id',
          'x',
          '--answers',
          'synth',
          '--strategy',
          'sgd',
        ],
        /--strategy must be/,
      ],
      [
        [
          'server',
          'export',
          '--data-dir',
          dataDir,
          '--federation',
          'cli-fed',
          '--format',
          'zip',
          '--out',
          tempDir(),
        ],
        /--format must be one of/,
      ],
      [
        [
          'server',
          'export',
          '--data-dir',
          dataDir,
          '--federation',
          'cli-fed',
          '--version',
          '99',
          '--format',
          'peft',
          '--out',
          tempDir(),
        ],
        /has no version 99/,
      ],
    ];
    for (const [args, pattern] of cases) {
      const result = run(...args);
      expect(result.status, args.join(' ')).not.toBe(0);
      const lines = result.stderr.trim().split('\n');
      expect(lines, result.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(pattern);
    }
  });
});
