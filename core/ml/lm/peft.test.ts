import { describe, expect, it } from 'vitest';
import { decodeSafetensors } from '../safetensors.js';
import { parseLmConfig } from './config.js';
import { initLora } from './model.js';
import { exportPeftLora, peftTargetModules } from './peft.js';

const gpt2 = parseLmConfig({
  model_type: 'gpt2',
  vocab_size: 50,
  n_positions: 16,
  n_embd: 16,
  n_layer: 2,
  n_head: 2,
});
const llama = parseLmConfig({
  model_type: 'llama',
  vocab_size: 50,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 32,
});

/**
 * What PEFT's save_pretrained writes for these models (peft/utils/save_and_load.py strips the adapter
 * name "default" from `base_model.model.<path>.lora_A.default.weight`; lora_A = nn.Linear(in, r) so
 * its weight is [r, in]; lora_B = nn.Linear(r, out), [out, r]; GPT-2's Conv1D features are (in, out)).
 */
describe('PEFT export', () => {
  it('GPT-2: names, shapes and config', () => {
    const adapter = initLora(
      gpt2,
      { rank: 4, alpha: 8, targets: ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] },
      1,
    );
    const { config, weights } = exportPeftLora(gpt2, adapter, 'gpt2');
    const { tensors } = decodeSafetensors(weights);
    expect(tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight')!.shape).toEqual([4, 16]);
    expect(tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_B.weight')!.shape).toEqual([48, 4]);
    expect(tensors.get('base_model.model.transformer.h.1.mlp.c_fc.lora_B.weight')!.shape).toEqual([64, 4]);
    expect(tensors.get('base_model.model.transformer.h.1.mlp.c_proj.lora_A.weight')!.shape).toEqual([4, 64]);
    expect(tensors.size).toBe(2 * 4 * 2);
    expect(JSON.parse(config)).toMatchObject({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      base_model_name_or_path: 'gpt2',
      r: 4,
      lora_alpha: 8,
      target_modules: ['c_attn', 'c_fc', 'c_proj'],
      fan_in_fan_out: true,
      bias: 'none',
    });
    // B starts at zero (PEFT's init), A does not.
    expect(
      tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_B.weight')!.data.every((v) => v === 0),
    ).toBe(true);
    expect(
      tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight')!.data.some((v) => v !== 0),
    ).toBe(true);
  });

  it('Llama with GQA: names, shapes and config', () => {
    const targets = [
      'self_attn.q_proj',
      'self_attn.k_proj',
      'self_attn.v_proj',
      'self_attn.o_proj',
      'mlp.down_proj',
    ];
    const { config, weights } = exportPeftLora(
      llama,
      initLora(llama, { rank: 2, alpha: 4, targets }, 1),
      'org/llama',
    );
    const { tensors } = decodeSafetensors(weights);
    const t = (n: string) => tensors.get(`base_model.model.model.layers.1.${n}.weight`)!.shape;
    expect(t('self_attn.q_proj.lora_A')).toEqual([2, 16]);
    expect(t('self_attn.q_proj.lora_B')).toEqual([16, 2]);
    expect(t('self_attn.k_proj.lora_B')).toEqual([8, 2]); // 2 kv heads × head dim 4
    expect(t('mlp.down_proj.lora_A')).toEqual([2, 24]);
    expect(tensors.size).toBe(2 * 5 * 2);
    expect(JSON.parse(config)).toMatchObject({
      target_modules: ['down_proj', 'k_proj', 'o_proj', 'q_proj', 'v_proj'],
      fan_in_fan_out: false,
      task_type: 'CAUSAL_LM',
    });
  });

  it('qualifies an ambiguous short name (GPT-2 attention c_proj only)', () => {
    expect(peftTargetModules(gpt2, ['attn.c_attn', 'attn.c_proj'])).toEqual(['attn.c_proj', 'c_attn']);
  });
});
