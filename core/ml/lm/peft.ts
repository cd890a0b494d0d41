/**
 * LoRA adapters of decoder LMs in the layout Hugging Face PEFT saves and `PeftModel.from_pretrained`
 * loads: `adapter_model.safetensors` with `base_model.model.<module path>.lora_A.weight` [r, in] and
 * `.lora_B.weight` [out, r] (the adapter name "default" is not part of saved keys), and
 * `adapter_config.json` (a LoraConfig, task CAUSAL_LM). GPT-2's Conv1D modules need `fan_in_fan_out`.
 */
import { encodeSafetensors, type SafeTensor } from '../safetensors.js';
import { loraModules, type LmConfig } from './config.js';
import { loraShapes, type LoraAdapter } from './model.js';

export const PEFT_FILES = { config: 'adapter_config.json', weights: 'adapter_model.safetensors' } as const;

export const peftTensorName = (loraTensor: string) => `base_model.model.${loraTensor}.weight`;

/**
 * PEFT matches `target_modules` entries as suffixes of module names. The short name (q_proj, c_proj) is
 * used when every module with that short name is adapted; otherwise the layer-relative path
 * (attn.c_proj), so that GPT-2's MLP c_proj is not adapted when only the attention one was.
 */
export function peftTargetModules(cfg: LmConfig, targets: readonly string[]): string[] {
  const all = loraModules(cfg);
  const short = (m: string) => m.split('.').pop()!;
  const names = targets.map((t) =>
    all.filter((m) => short(m) === short(t)).every((m) => targets.includes(m)) ? short(t) : t,
  );
  return [...new Set(names)].sort();
}

export function exportPeftLora(
  cfg: LmConfig,
  adapter: LoraAdapter,
  baseModelName: string,
): { config: string; weights: Uint8Array } {
  const shapes = loraShapes(cfg, adapter.spec);
  const tensors: [string, SafeTensor][] = [];
  for (const [name, shape] of shapes) {
    const data = adapter.tensors.get(name);
    if (!data || data.length !== shape[0]! * shape[1]!)
      throw new Error(`LoRA tensor ${name} is missing or mis-sized`);
    tensors.push([peftTensorName(name), { shape, data }]);
  }
  const config = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: baseModelName,
    r: adapter.spec.rank,
    lora_alpha: adapter.spec.alpha,
    lora_dropout: 0,
    target_modules: peftTargetModules(cfg, adapter.spec.targets),
    bias: 'none',
    fan_in_fan_out: cfg.arch === 'gpt2',
    modules_to_save: null,
    inference_mode: true,
    init_lora_weights: true,
    use_rslora: false,
    use_dora: false,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
  };
  return {
    config: `${JSON.stringify(config, null, 2)}\n`,
    weights: encodeSafetensors(tensors, { format: 'pt' }),
  };
}
