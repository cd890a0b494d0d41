"""Reference timing of one TinyMed-VQA adapter training step in eager PyTorch (CPU), for `cohort bench train`.

Same architecture and shapes as core/ml/model.ts (pre-LN encoder, exact GELU, LoRA on the attention
and MLP projections, soft prompt, new head), frozen base, gradients for adapter tensors only, AdamW, global-norm
gradient clipping, same thread count. Reads a JSON config as argv[1]; prints one JSON line.
Uses Debian's python3-torch: run with /usr/bin/python3.
"""
import json
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def main():
    cfg = json.loads(sys.argv[1])
    torch.set_num_threads(cfg["threads"])
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    B, d, h, layers, m = cfg["batch"], cfg["dim"], cfg["heads"], cfg["layers"], cfg["mlp_dim"]
    N, p2, L, K, H = cfg["patches"], cfg["patch_dim"], cfg["max_tokens"], cfg["ngram_slots"], cfg["hash_buckets"]
    P, r, alpha, A = cfg["prompt_tokens"], cfg["rank"], cfg["alpha"], cfg["answers"]
    Q = cfg["sketch_dim"]
    dh = d // h
    S = 1 + P + N + L
    scale = alpha / r

    def frozen(*shape, std=0.05):
        return torch.randn(*shape) * std

    base = {
        "cls": frozen(1, d), "patch_w": frozen(p2, d), "patch_b": frozen(d), "img_pos": frozen(N, d),
        "text_embed": frozen(H, d), "text_pos": frozen(L, d), "final_w": torch.ones(d), "final_b": torch.zeros(d),
    }
    blocks = []
    for _ in range(layers):
        blk = {"ln1_w": torch.ones(d), "ln1_b": torch.zeros(d), "ln2_w": torch.ones(d), "ln2_b": torch.zeros(d),
               "fc1_w": frozen(d, m), "fc1_b": frozen(m), "fc2_w": frozen(m, d), "fc2_b": frozen(d)}
        for p in ("q", "k", "v", "o"):
            blk[p + "_w"] = frozen(d, d)
            blk[p + "_b"] = frozen(d)
        blocks.append(blk)

    adapter = {}
    for i in range(layers):
        for p in ("q", "k", "v", "o"):
            adapter[f"{i}.{p}.A"] = (torch.randn(d, r) / math.sqrt(d)).requires_grad_()
            adapter[f"{i}.{p}.B"] = (torch.randn(r, d) * 0.01).requires_grad_()
    adapter["prompt"] = (torch.randn(P, d) * 0.1).requires_grad_()
    for i in range(layers):
        adapter[f"{i}.fc1.A"] = (torch.randn(d, r) / math.sqrt(d)).requires_grad_()
        adapter[f"{i}.fc1.B"] = (torch.randn(r, m) * 0.01).requires_grad_()
        adapter[f"{i}.fc2.A"] = (torch.randn(m, r) / math.sqrt(m)).requires_grad_()
        adapter[f"{i}.fc2.B"] = (torch.randn(r, d) * 0.01).requires_grad_()
    adapter["head_w"] = (torch.randn(3 * d + Q, A) * 0.02).requires_grad_()
    adapter["head_b"] = torch.zeros(A).requires_grad_()
    params = list(adapter.values())
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)

    patches = torch.randn(B, N, p2)
    ids = torch.randint(0, H, (B, L, K))
    tw = torch.rand(B, L, K, 1) / K
    mask = (torch.rand(B, L) > 0.5).float()
    sketch = torch.randn(B, Q)
    targets = F.one_hot(torch.randint(0, A, (B,)), A).float() / B

    def lin(x, w, b, i=None, p=None):
        y = x @ w + b
        if i is not None:
            y = y + (x @ adapter[f"{i}.{p}.A"] @ adapter[f"{i}.{p}.B"]) * scale
        return y

    def step():
        img = patches @ base["patch_w"] + base["patch_b"] + base["img_pos"]
        words = (base["text_embed"][ids] * tw).sum(2)
        text = words + base["text_pos"]
        x = torch.cat([base["cls"].expand(B, 1, d), adapter["prompt"].expand(B, P, d), img, text], 1)
        bias = torch.cat([torch.zeros(B, S - L), (mask - 1) * 1e4], 1).view(B, 1, 1, S)
        for i, blk in enumerate(blocks):
            a = F.layer_norm(x, (d,), blk["ln1_w"], blk["ln1_b"], 1e-5)
            q = lin(a, blk["q_w"], blk["q_b"], i, "q").view(B, S, h, dh).transpose(1, 2)
            k = lin(a, blk["k_w"], blk["k_b"], i, "k").view(B, S, h, dh).permute(0, 2, 3, 1)
            v = lin(a, blk["v_w"], blk["v_b"], i, "v").view(B, S, h, dh).transpose(1, 2)
            att = torch.softmax(q @ k / math.sqrt(dh) + bias, -1)
            ctx = (att @ v).transpose(1, 2).reshape(B, S, d)
            x = x + lin(ctx, blk["o_w"], blk["o_b"], i, "o")
            mm = F.layer_norm(x, (d,), blk["ln2_w"], blk["ln2_b"], 1e-5)
            x = x + lin(F.gelu(lin(mm, blk["fc1_w"], blk["fc1_b"], i, "fc1")), blk["fc2_w"], blk["fc2_b"], i, "fc2")
        xf = F.layer_norm(x, (d,), base["final_w"], base["final_b"], 1e-5)
        pool = mask / (mask.sum(1, keepdim=True) + 1e-6)
        feat = torch.cat([xf[:, 0], (xf[:, S - L:] * pool.unsqueeze(-1)).sum(1), (words * pool.unsqueeze(-1)).sum(1), sketch], 1)
        logits = feat @ adapter["head_w"] + adapter["head_b"]
        loss = -(targets * F.log_softmax(logits, -1)).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.item()

    for _ in range(cfg["warmup"]):
        step()
    times = []
    for _ in range(cfg["steps"]):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({"step_ms": statistics.median(times), "torch_version": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
