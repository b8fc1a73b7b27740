"""Exact-arithmetic reference logprobs for the embedded model (float32 and float64, CPU).

transformers dequantizes the same GGUF file that llama.cpp runs (its GGUF support, the
`gguf` package) into a dense Gemma 3 model; torch evaluates each token sequence in one
forward pass with eager attention, and the log-softmax of every position is taken in
float64. The result is what the quantized weights give without llama.cpp's approximations
(quantized activations, F16 KV cache, its kernels), so it says how far each of llama.cpp's
evaluation paths is from exact arithmetic on the same weights. Nothing about speed.

It runs in its own environment, never tokenprobe's (torch is large):

    python -m venv /work/refenv
    /work/refenv/bin/pip install torch==2.13.0 transformers gguf accelerate  # CPU torch
    /work/refenv/bin/python benchmarks/reference_f32.py --gguf MODEL.gguf \
        --tokens ids.json --out ref.npz

`--tokens` is a JSON list of token-id lists (llama.cpp's tokenization, written by
bench_eval_path.py, so both sides see the same ids). The output holds, per sequence, the
float32 model's logprob of each actual next token, its entropy and its top-10 ids, and the
float64 model's logprob of the actual next token (a check that float32 is exact enough).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def load(gguf: Path, dtype: str):  # type: ignore[no-untyped-def]
    import torch
    from transformers import AutoModelForCausalLM, GgufConfig

    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name,
        quantization_config=GgufConfig(gguf_file=str(gguf), dequantize=True),
        dtype=torch.float32, attn_implementation="eager",
    )
    if dtype == "float64":
        model = model.to(torch.float64)
    return model.eval()


def next_token_stats(model, ids: list[int]) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """Logprob of each actual next token (positions 1..n-1), entropy and top-10 ids."""
    import torch

    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, :-1].to(torch.float64)
    lp = torch.log_softmax(logits, dim=-1)
    nxt = torch.tensor(ids[1:])
    actual = lp[torch.arange(len(nxt)), nxt]
    entropy = -(lp.exp() * lp).sum(-1)
    top = lp.topk(10, dim=-1).indices
    return {"logprob": actual.numpy(), "entropy": entropy.numpy(), "top": top.numpy()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gguf", type=Path, required=True)
    ap.add_argument("--tokens", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--no-float64", action="store_true", help="skip the float64 check")
    args = ap.parse_args()

    import torch

    torch.manual_seed(0)
    seqs: list[list[int]] = json.loads(args.tokens.read_text())
    t0 = time.perf_counter()
    model = load(args.gguf, "float32")
    cfg = model.config
    print(f"loaded in {time.perf_counter() - t0:.0f} s: {cfg.num_hidden_layers} layers, "
          f"hidden {cfg.hidden_size}, heads {cfg.num_attention_heads}/"
          f"{cfg.num_key_value_heads}, head_dim {cfg.head_dim}, sliding window "
          f"{cfg.sliding_window}, layer types {''.join(t[0] for t in cfg.layer_types)}, "
          f"rope {getattr(cfg, 'rope_parameters', None)}")
    out: dict[str, np.ndarray] = {}
    for k, ids in enumerate(seqs):
        stats = next_token_stats(model, ids)
        for name, v in stats.items():
            out[f"{name}_{k}"] = v
    if not args.no_float64:
        model = model.to(torch.float64)
        for k, ids in enumerate(seqs):
            out[f"logprob64_{k}"] = next_token_stats(model, ids)["logprob"]
        d = np.concatenate([np.abs(out[f"logprob_{k}"] - out[f"logprob64_{k}"])
                            for k in range(len(seqs))])
        print(f"float32 vs float64 reference, actual-token logprob: mean |d| {d.mean():.2e}, "
              f"max {d.max():.2e} nats")
    np.savez(args.out, n=np.array(len(seqs)), **out)
    print(f"{sum(len(s) - 1 for s in seqs)} positions written to {args.out} "
          f"in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
