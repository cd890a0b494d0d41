import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { CliError } from '../../core/cli/errors.js';
import { MANIFEST, verifyRegistered } from '../../core/ml/lm/registry.node.js';
import { FIXTURES } from '../../core/ml/lm/testing.node.js';
import { run } from './model-import.js';

const scratch = mkdtempSync(join(tmpdir(), 'cohort-model-import-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

async function cli(...args: string[]) {
  const out: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((line: unknown) => void out.push(String(line)));
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    return { code: await run(args), stdout: out.join('\n'), error: undefined };
  } catch (error) {
    return { code: (error as CliError).exitCode, stdout: '', error: error as CliError };
  }
}

describe('cohort model import', () => {
  it('registers a sharded checkpoint by content hash, idempotently, and stray files do not change the name', async () => {
    const dataDir = join(scratch, 'site');
    const source = join(scratch, 'llama');
    cpSync(join(FIXTURES, 'llama-gqa-sharded'), source, { recursive: true });
    const first = await cli('--data-dir', dataDir, '--json', source);
    expect(first.code).toBe(0);
    const result = JSON.parse(first.stdout) as {
      hash: string;
      path: string;
      parameters: number;
      alreadyPresent: boolean;
      files: { name: string }[];
    };
    expect(result.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(result.alreadyPresent).toBe(false);
    expect(result.path).toBe(join(dataDir, 'models', result.hash));
    expect(result.files.map((f) => f.name)).toEqual([
      'config.json',
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
      'model.safetensors.index.json',
      'tokenizer.json',
    ]);
    expect((await verifyRegistered(join(dataDir, 'models'), result.hash)).parameters).toBe(result.parameters);
    writeFileSync(join(source, 'README.md'), 'notes');
    const again = JSON.parse((await cli('--data-dir', dataDir, '--json', source)).stdout) as typeof result;
    expect(again).toMatchObject({ hash: result.hash, alreadyPresent: true });
    // A changed weight file is another model.
    const other = join(scratch, 'llama-2');
    cpSync(source, other, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(other, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(other, 'config.json'), JSON.stringify({ ...cfg, rms_norm_eps: 1e-5 }));
    const changed = JSON.parse((await cli('--data-dir', dataDir, '--json', other)).stdout) as typeof result;
    expect(changed.hash).not.toBe(result.hash);
    expect(readFileSync(join(result.path, MANIFEST), 'utf8')).toContain(result.hash);
  });

  it('refuses an invalid checkpoint with one line and registers nothing', async () => {
    const dataDir = join(scratch, 'site-2');
    const source = join(scratch, 'bad');
    cpSync(join(FIXTURES, 'gpt2-tiny'), source, { recursive: true });
    writeFileSync(join(source, 'config.json'), JSON.stringify({ model_type: 't5' }));
    const { code, error } = await cli('--data-dir', dataDir, source);
    expect(code).toBe(1);
    expect(error!.message).toMatch(/^model import: refused: unsupported architecture 't5'/);
    expect(error!.message).not.toContain('\n');
    expect((await cli('--data-dir', dataDir)).error!.message).toMatch(/exactly one CHECKPOINT_DIR/);
  });
});
