"""PyTorch reference for Cohort's decoder language models (core/ml/lm), in plain torch (no transformers).

  /usr/bin/python3 bench/lm_reference.py fixtures [OUT_DIR]   (default test-fixtures/lm)
      Writes tiny random checkpoints in the Hugging Face layout (config.json, model.safetensors or a
      sharded model.safetensors.index.json + shards, tokenizer.json) and, next to each, a
      <name>.reference.safetensors with fixed inputs, labels, LoRA tensors, the logits, the masked
      causal-LM loss and the LoRA gradients, computed in float64 by a straightforward re-implementation
      of each architecture (HF semantics: GPT-2 Conv1D weights [in, out], gelu_new, tied embeddings;
      Llama RMSNorm, rotate_half rotary embeddings, SwiGLU, grouped-query attention, Qwen2 q/k/v bias).
  /usr/bin/python3 bench/lm_reference.py bench '<json config>'
      Times LoRA training steps and KV-cache generation in eager float32 torch for `cohort bench lm`;
      prints one JSON line.

The tokenizer is a byte-level BPE (GPT-2's byte-to-unicode alphabet) whose merges are learnt here by a
few lines of greedy BPE on a fixed sentence list, and written in the tokenizers JSON format by hand.
"""
import json
import math
import os
import statistics
import struct
import sys
import time

import torch

# ---------------------------------------------------------------------------------------------------
# tokenizer.json


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode character map, as (bytes, characters) in vocab order."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return bs, [chr(c) for c in cs]


CORPUS = [
    "the chest x-ray shows no acute abnormality",
    "is there a pleural effusion on the left side",
    "the liver is enlarged and the spleen is normal",
    "there is a mass in the right upper lobe of the lung",
    "the brain mri shows a lesion in the frontal lobe",
    "is the heart size normal on this radiograph",
]


def learn_bpe(num_merges):
    byte_map = dict(zip(*bytes_to_unicode()))
    words = {}
    for line in CORPUS:
        for i, word in enumerate(line.split(" ")):
            text = (" " if i else "") + word
            symbols = tuple(byte_map[b] for b in text.encode("utf-8"))
            words[symbols] = words.get(symbols, 0) + 1
    merges = []
    for _ in range(num_merges):
        pairs = {}
        for symbols, count in words.items():
            for a, b in zip(symbols, symbols[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + count
        if not pairs:
            break
        best = sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        merges.append(best)
        merged = {}
        for symbols, count in words.items():
            out, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    out.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            merged[tuple(out)] = merged.get(tuple(out), 0) + count
        words = merged
    return merges


def tokenizer_json(num_merges=40):
    _, chars = bytes_to_unicode()
    vocab = {c: i for i, c in enumerate(chars)}
    merges = learn_bpe(num_merges)
    for a, b in merges:
        vocab[a + b] = len(vocab)
    eos = len(vocab)
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": eos, "content": "<|endoftext|>", "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": True, "special": True}
        ],
        "normalizer": None,
        "pre_tokenizer": byte_level,
        "post_processor": byte_level,
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }, eos + 1


# ---------------------------------------------------------------------------------------------------
# safetensors (F32, written by hand: the format is an 8-byte header length, a JSON header, raw data)


def write_safetensors(path, tensors, metadata=None):
    header, offset, blobs = {}, 0, []
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        data = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text.encode())
        for b in blobs:
            f.write(b)


# ---------------------------------------------------------------------------------------------------
# the two architectures, HF semantics


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def layer_norm(x, w, b, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, eps)


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def causal_attention(q, k, v):
    """q [B,H,T,hd], k/v [B,H,S,hd]; query t attends to keys 0..t+(S-T)."""
    T, S = q.shape[2], k.shape[2]
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    mask = torch.ones(T, S, dtype=torch.bool).tril(S - T)
    scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return torch.softmax(scores, dim=-1) @ v


def lora_delta(x, lora, name, scale):
    if lora is None or name not in lora:
        return 0
    a, b = lora[name]
    return (x @ a.t()) @ b.t() * scale


def gpt2_forward(cfg, w, ids, lora=None, scale=1.0):
    B, T = ids.shape
    d, H = cfg["n_embd"], cfg["n_head"]
    hd, eps = d // H, cfg["layer_norm_epsilon"]
    h = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][torch.arange(T)]
    for i in range(cfg["n_layer"]):
        p = f"transformer.h.{i}."

        def conv1d(x, m):  # HF Conv1D: weight [in, out]
            return x @ w[p + m + ".weight"] + w[p + m + ".bias"] + lora_delta(x, lora, p + m, scale)

        x = layer_norm(h, w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        q, k, v = conv1d(x, "attn.c_attn").split(d, dim=-1)
        q, k, v = (t.view(B, T, H, hd).transpose(1, 2) for t in (q, k, v))
        o = causal_attention(q, k, v).transpose(1, 2).reshape(B, T, d)
        h = h + conv1d(o, "attn.c_proj")
        x = layer_norm(h, w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        h = h + conv1d(gelu_new(conv1d(x, "mlp.c_fc")), "mlp.c_proj")
    h = layer_norm(h, w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], eps)
    return h @ w["transformer.wte.weight"].t()


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rope(cfg, positions, dtype):
    hd = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    inv_freq = 1.0 / (cfg.get("rope_theta", 10000.0) ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    freqs = positions.to(torch.float64)[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def llama_forward(cfg, w, ids, lora=None, scale=1.0):
    B, T = ids.shape
    H, KV = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    hd = cfg.get("head_dim") or cfg["hidden_size"] // H
    eps = cfg["rms_norm_eps"]
    bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
    cos, sin = rope(cfg, torch.arange(T), w["model.embed_tokens.weight"].dtype)
    h = w["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."

        def linear(x, m, with_bias=False):  # nn.Linear: weight [out, in]
            y = x @ w[p + m + ".weight"].t() + lora_delta(x, lora, p + m, scale)
            return y + w[p + m + ".bias"] if with_bias else y

        x = rms_norm(h, w[p + "input_layernorm.weight"], eps)
        q = linear(x, "self_attn.q_proj", bias).view(B, T, H, hd).transpose(1, 2)
        k = linear(x, "self_attn.k_proj", bias).view(B, T, KV, hd).transpose(1, 2)
        v = linear(x, "self_attn.v_proj", bias).view(B, T, KV, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k, v = k.repeat_interleave(H // KV, dim=1), v.repeat_interleave(H // KV, dim=1)
        o = causal_attention(q, k, v).transpose(1, 2).reshape(B, T, H * hd)
        h = h + linear(o, "self_attn.o_proj")
        x = rms_norm(h, w[p + "post_attention_layernorm.weight"], eps)
        gate = linear(x, "mlp.gate_proj")
        h = h + linear(torch.nn.functional.silu(gate) * linear(x, "mlp.up_proj"), "mlp.down_proj")
    h = rms_norm(h, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return h @ head.t()


def forward(cfg, w, ids, lora=None, scale=1.0):
    fn = gpt2_forward if cfg["model_type"] == "gpt2" else llama_forward
    return fn(cfg, w, ids, lora, scale)


def causal_lm_loss(logits, labels):
    """HF's shift: position t predicts labels[t + 1]; -100 is ignored; mean over the counted tokens."""
    V = logits.shape[-1]
    return torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100
    )


# ---------------------------------------------------------------------------------------------------
# tiny random checkpoints


def lora_targets(cfg):
    if cfg["model_type"] == "gpt2":
        return ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"], "transformer.h"
    return (["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
             "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"], "model.layers")


def module_shapes(cfg, w):
    """(in, out) of every LoRA-targeted module, from the base weights."""
    mods, prefix = lora_targets(cfg)
    layers = cfg["n_layer"] if cfg["model_type"] == "gpt2" else cfg["num_hidden_layers"]
    out = {}
    for i in range(layers):
        for m in mods:
            name = f"{prefix}.{i}.{m}"
            wt = w[name + ".weight"]
            out[name] = tuple(wt.shape) if cfg["model_type"] == "gpt2" else (wt.shape[1], wt.shape[0])
    return out


def random_weights(cfg, gen, dtype=torch.float64):
    def r(*shape, std=0.2):
        return torch.randn(*shape, generator=gen, dtype=dtype) * std

    def norm_w(n):
        return 1.0 + r(n, std=0.1)

    w = {}
    V = cfg["vocab_size"]
    if cfg["model_type"] == "gpt2":
        d, inner = cfg["n_embd"], cfg.get("n_inner") or 4 * cfg["n_embd"]
        w["transformer.wte.weight"] = r(V, d, std=0.5)
        w["transformer.wpe.weight"] = r(cfg["n_positions"], d, std=0.3)
        for i in range(cfg["n_layer"]):
            p = f"transformer.h.{i}."
            for ln in ("ln_1", "ln_2"):
                w[p + ln + ".weight"], w[p + ln + ".bias"] = norm_w(d), r(d, std=0.1)
            for m, (fi, fo) in {"attn.c_attn": (d, 3 * d), "attn.c_proj": (d, d), "mlp.c_fc": (d, inner),
                                "mlp.c_proj": (inner, d)}.items():
                w[p + m + ".weight"], w[p + m + ".bias"] = r(fi, fo, std=1 / math.sqrt(fi)), r(fo, std=0.1)
        w["transformer.ln_f.weight"], w["transformer.ln_f.bias"] = norm_w(d), r(d, std=0.1)
        return w
    d, inter = cfg["hidden_size"], cfg["intermediate_size"]
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = d // H
    bias = cfg["model_type"] == "qwen2"
    w["model.embed_tokens.weight"] = r(V, d, std=0.5)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"], w[p + "post_attention_layernorm.weight"] = norm_w(d), norm_w(d)
        for m, (fi, fo) in {"self_attn.q_proj": (d, H * hd), "self_attn.k_proj": (d, KV * hd),
                            "self_attn.v_proj": (d, KV * hd), "self_attn.o_proj": (H * hd, d),
                            "mlp.gate_proj": (d, inter), "mlp.up_proj": (d, inter),
                            "mlp.down_proj": (inter, d)}.items():
            w[p + m + ".weight"] = r(fo, fi, std=1 / math.sqrt(fi))
            if bias and m in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"):
                w[p + m + ".bias"] = r(fo, std=0.1)
    w["model.norm.weight"] = norm_w(d)
    if not cfg.get("tie_word_embeddings", False):
        w["lm_head.weight"] = r(V, d, std=0.3)
    return w


def fixture_configs(vocab):
    return {
        "gpt2-tiny": ({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": vocab,
                       "n_positions": 32, "n_embd": 32, "n_layer": 2, "n_head": 4, "n_inner": None,
                       "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
                       "tie_word_embeddings": True, "bos_token_id": vocab - 1, "eos_token_id": vocab - 1}, 1),
        "llama-gqa-sharded": ({"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": vocab,
                               "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                               "num_attention_heads": 4, "num_key_value_heads": 2, "hidden_act": "silu",
                               "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
                               "rope_scaling": None, "attention_bias": False, "tie_word_embeddings": False,
                               "bos_token_id": vocab - 1, "eos_token_id": vocab - 1}, 2),
        "qwen2-bias-tied": ({"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "vocab_size": vocab,
                             "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
                             "num_attention_heads": 4, "num_key_value_heads": 1, "hidden_act": "silu",
                             "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
                             "rope_scaling": None, "tie_word_embeddings": True, "bos_token_id": vocab - 1,
                             "eos_token_id": vocab - 1}, 1),
    }


def write_checkpoint(path, cfg, w, shards):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    if shards == 1:
        write_safetensors(os.path.join(path, "model.safetensors"), w, {"format": "pt"})
        return
    names = list(w)
    per = math.ceil(len(names) / shards)
    weight_map, total = {}, 0
    for s in range(shards):
        file = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = {n: w[n] for n in names[s * per:(s + 1) * per]}
        write_safetensors(os.path.join(path, file), part, {"format": "pt"})
        for n, t in part.items():
            weight_map[n] = file
            total += t.numel() * 4
    with open(os.path.join(path, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


def make_fixtures(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    tok, vocab = tokenizer_json()
    rank, alpha = 4, 8
    for idx, (name, (cfg, shards)) in enumerate(fixture_configs(vocab).items()):
        gen = torch.Generator().manual_seed(1000 + idx)
        w = random_weights(cfg, gen)
        write_checkpoint(os.path.join(out_dir, name), cfg, w, shards)
        with open(os.path.join(out_dir, name, "tokenizer.json"), "w") as f:
            json.dump(tok, f, ensure_ascii=False)
        B, T = 2, 12
        ids = torch.randint(0, vocab, (B, T), generator=gen)
        labels = ids.clone()
        labels[:, :5] = -100  # the prompt
        labels[1, 9:] = -100  # right padding of the second row
        # B is random (not PEFT's zeros) so that the gradients of A are not zero too.
        lora = {m: (torch.randn(rank, fi, generator=gen, dtype=torch.float64) * 0.3,
                    torch.randn(fo, rank, generator=gen, dtype=torch.float64) * 0.3)
                for m, (fi, fo) in module_shapes(cfg, w).items()}
        for a, b in lora.values():
            a.requires_grad_()
            b.requires_grad_()
        logits = forward(cfg, w, ids, lora, alpha / rank)
        loss = causal_lm_loss(logits, labels)
        loss.backward()
        ref = {"input_ids": ids.to(torch.float64), "labels": labels.to(torch.float64),
               "logits": logits.detach(), "loss": loss.detach().reshape(1)}
        with torch.no_grad():
            ref["base_logits"] = forward(cfg, w, ids)
        for m, (a, b) in lora.items():
            ref[f"lora:{m}.lora_A"], ref[f"lora:{m}.lora_B"] = a.detach(), b.detach()
            ref[f"grad:{m}.lora_A"], ref[f"grad:{m}.lora_B"] = a.grad, b.grad
        write_safetensors(os.path.join(out_dir, f"{name}.reference.safetensors"), ref,
                          {"rank": str(rank), "alpha": str(alpha)})
        print(f"{name}: loss {loss.item():.6f}")


# ---------------------------------------------------------------------------------------------------
# bench


def bench(cfg):
    torch.set_num_threads(cfg["threads"])
    torch.set_num_interop_threads(1)
    gen = torch.Generator().manual_seed(0)
    model_cfg = cfg["config"]
    w = random_weights(model_cfg, gen, torch.float32)
    rank, alpha = cfg["rank"], cfg["alpha"]
    lora = {m: ((torch.randn(rank, fi, generator=gen) / math.sqrt(fi)).requires_grad_(),
                torch.zeros(fo, rank).requires_grad_())
            for m, (fi, fo) in module_shapes(model_cfg, w).items()}
    params = [t for pair in lora.values() for t in pair]
    opt = torch.optim.AdamW(params, lr=1e-4)
    B, T = cfg["batch"], cfg["seq"]
    V = model_cfg["vocab_size"]
    ids = torch.randint(0, V, (B, T), generator=gen)
    labels = ids.clone()
    labels[:, : T // 4] = -100
    times = []
    for step in range(cfg["warmup"] + cfg["steps"]):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = causal_lm_loss(forward(model_cfg, w, ids, lora, alpha / rank), labels)
        loss.backward()
        opt.step()
        if step >= cfg["warmup"]:
            times.append(time.perf_counter() - t0)
    step_s = statistics.median(times)
    print(json.dumps({"train_tokens_per_s": B * T / step_s, "step_ms": step_s * 1000,
                      "torch_version": torch.__version__}))


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "fixtures"
    if mode == "fixtures":
        make_fixtures(sys.argv[2] if len(sys.argv) > 2 else "test-fixtures/lm")
    elif mode == "bench":
        bench(json.loads(sys.argv[2]))
    else:
        sys.exit(f"unknown mode {mode}")
