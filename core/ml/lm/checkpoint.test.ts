import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors } from '../safetensors.js';
import { loadCheckpoint } from './checkpoint.node.js';
import { CheckpointError, parseLmConfig } from './config.js';
import { FIXTURES } from './testing.node.js';

const scratch = mkdtempSync(join(tmpdir(), 'cohort-lm-ckpt-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;

/** A copy of a fixture checkpoint, changed by `edit`. */
function variant(name: string, edit: (dir: string) => void): string {
  const dir = join(scratch, `${name}-${n++}`);
  cpSync(join(FIXTURES, name), dir, { recursive: true });
  edit(dir);
  return dir;
}

const editJson = (path: string, edit: (j: Record<string, unknown>) => void) => {
  const j = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(j);
  writeFileSync(path, JSON.stringify(j));
};

async function refusal(dir: string): Promise<string> {
  const error = await loadCheckpoint(dir).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CheckpointError);
  const message = (error as Error).message;
  expect(message.includes('\n')).toBe(false);
  return message;
}

describe('loadCheckpoint', () => {
  it('reads single-file and sharded checkpoints with their tokenizer', async () => {
    const gpt2 = await loadCheckpoint(join(FIXTURES, 'gpt2-tiny'));
    expect(gpt2.config).toMatchObject({
      arch: 'gpt2',
      hidden: 32,
      layers: 2,
      heads: 4,
      activation: 'gelu_tanh',
    });
    expect(gpt2.files).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
    const llama = await loadCheckpoint(join(FIXTURES, 'llama-gqa-sharded'));
    expect(llama.config).toMatchObject({
      arch: 'llama',
      heads: 4,
      kvHeads: 2,
      qkvBias: false,
      tieEmbeddings: false,
    });
    expect(llama.files).toContain('model-00002-of-00002.safetensors');
    expect(llama.weights.get('lm_head.weight')!.length).toBe(297 * 32);
    const text = 'the chest x-ray shows a lesion';
    const ids = llama.tokenizer.encode(text).ids;
    expect(ids.length).toBeLessThan(text.length); // the BPE merges apply
    expect(llama.tokenizer.decode(ids)).toBe(text);
    expect(llama.tokenizer.token_to_id('<|endoftext|>')).toBe(296);
  });

  it('accepts GPT2Model names (no transformer. prefix)', async () => {
    const dir = variant('gpt2-tiny', (d) => {
      const file = join(d, 'model.safetensors');
      const { tensors } = decodeSafetensors(new Uint8Array(readFileSync(file)));
      writeFileSync(
        file,
        encodeSafetensors([...tensors].map(([k, t]) => [k.replace(/^transformer\./, ''), t])),
      );
    });
    expect((await loadCheckpoint(dir)).weights.has('transformer.h.1.mlp.c_fc.weight')).toBe(true);
  });

  it('refuses an unsupported architecture', async () => {
    const dir = variant('gpt2-tiny', (d) => editJson(join(d, 'config.json'), (j) => (j.model_type = 'bert')));
    expect(await refusal(dir)).toMatch(/^unsupported architecture 'bert'/);
    expect(() => parseLmConfig({ model_type: 'llama', rope_scaling: { type: 'yarn' } })).toThrow(
      CheckpointError,
    );
    const scaled = variant('llama-gqa-sharded', (d) =>
      editJson(join(d, 'config.json'), (j) => (j.rope_scaling = { rope_type: 'yarn', factor: 4 })),
    );
    expect(await refusal(scaled)).toMatch(/rope_scaling/);
  });

  it('refuses a shape mismatch', async () => {
    const dir = variant('llama-gqa-sharded', (d) =>
      editJson(join(d, 'config.json'), (j) => (j.intermediate_size = 80)),
    );
    expect(await refusal(dir)).toMatch(/^shape mismatch: model\.layers\.0\.mlp\.\w+_proj\.weight is \[/);
  });

  it('refuses missing tensors and shards', async () => {
    const dir = variant('gpt2-tiny', (d) => {
      const file = join(d, 'model.safetensors');
      const { tensors } = decodeSafetensors(new Uint8Array(readFileSync(file)));
      tensors.delete('transformer.h.1.ln_2.bias');
      writeFileSync(file, encodeSafetensors(tensors));
    });
    expect(await refusal(dir)).toBe('missing tensor transformer.h.1.ln_2.bias');
    const shard = variant('llama-gqa-sharded', (d) =>
      unlinkSync(join(d, 'model-00002-of-00002.safetensors')),
    );
    expect(await refusal(shard)).toMatch(/shard model-00002-of-00002\.safetensors named in .* is missing/);
    const noWeights = variant('gpt2-tiny', (d) => unlinkSync(join(d, 'model.safetensors')));
    expect(await refusal(noWeights)).toMatch(/no model\.safetensors/);
  });

  it('refuses a tokenizer whose ids exceed the vocabulary', async () => {
    const dir = variant('qwen2-bias-tied', (d) =>
      editJson(join(d, 'tokenizer.json'), (j) => {
        (j.added_tokens as unknown[]).push({
          id: 400,
          content: '<extra>',
          special: true,
          normalized: false,
          lstrip: false,
          rstrip: false,
          single_word: false,
        });
      }),
    );
    expect(await refusal(dir)).toMatch(/^tokenizer\/vocabulary mismatch: .*400.*297/);
  });
});

describe('safetensors half precision', () => {
  it('widens F16 and BF16 to F32', () => {
    const header = JSON.stringify({
      h: { dtype: 'F16', shape: [4], data_offsets: [0, 8] },
      b: { dtype: 'BF16', shape: [2], data_offsets: [8, 12] },
    });
    const bytes = new Uint8Array(8 + header.length + 12);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
    bytes.set(new TextEncoder().encode(header), 8);
    const data = new DataView(bytes.buffer, 8 + header.length);
    [0x3c00, 0xc000, 0x0001, 0x7bff].forEach((h, i) => data.setUint16(2 * i, h, true)); // 1, −2, 2⁻²⁴, 65504
    [0x3f80, 0xc0a0].forEach((h, i) => data.setUint16(8 + 2 * i, h, true)); // 1, −5
    const { tensors } = decodeSafetensors(bytes);
    expect(Array.from(tensors.get('h')!.data)).toEqual([1, -2, 2 ** -24, 65504]);
    expect(Array.from(tensors.get('b')!.data)).toEqual([1, -5]);
  });
});
