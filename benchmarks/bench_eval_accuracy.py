"""How far each of llama.cpp's evaluation paths is from exact arithmetic, and how far
generation is from scoring, on the embedded model.

Every position of three texts (English, Japanese, Python; eval_texts.py) is evaluated by
independent llama-cpp-python contexts with logits for every position, one per path
(micro-batches of 1, 8, 64 and 512 tokens; F32 KV cache; flash attention), and by
tokenprobe itself (its score, and its generation path with the text's tokens forced).
Each path's logprob of the actual next token is compared with a float32 reference
computed with transformers + torch from the same GGUF dequantized (reference_f32.py,
run in its own environment). Then real generations (greedy and sampled) are scored and
each generated token's logprob compared with its scored one.

    python benchmarks/bench_eval_accuracy.py --write-ids ids.json
    /work/refenv/bin/python benchmarks/reference_f32.py --gguf MODEL --tokens ids.json \
        --out ref.npz
    python benchmarks/bench_eval_accuracy.py --reference ref.npz

Without --reference only the paths' differences from each other and generate-vs-score
are printed. Prints tables; asserts nothing. Nothing about speed (bench_eval_path.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eval_texts import TEXTS

GEN_PROMPTS = [
    "The old lighthouse keeper opened the door and",
    "東京の朝は、",
    "def fibonacci(n):\n",
    "Three reasons why the sky is blue:",
    "Dear Sir or Madam, I am writing to complain about",
    "La recette traditionnelle de la ratatouille",
    "SELECT name, COUNT(*) FROM orders",
    "In 1969, the first",
]

# name -> llama_cpp.Llama keyword arguments of an independent context
RAW_PATHS: dict[str, dict[str, object]] = {
    "one token at a time (n_ubatch 1)": {"n_batch": 512, "n_ubatch": 1},
    "micro-batches of 8": {"n_batch": 512, "n_ubatch": 8},
    "micro-batches of 64": {"n_batch": 64, "n_ubatch": 64},
    "micro-batches of 512": {"n_batch": 512, "n_ubatch": 512},
    "64, F32 KV cache": {"n_batch": 64, "n_ubatch": 64, "type_k": 0, "type_v": 0},
    "64, flash attention": {"n_batch": 64, "n_ubatch": 64, "flash_attn": True},
}


def log_softmax_rows(rows: np.ndarray) -> np.ndarray:
    x = rows.astype(np.float64)
    m = x.max(axis=1, keepdims=True)
    return x - (m + np.log(np.exp(x - m).sum(axis=1, keepdims=True)))


def raw_path(path: str, kwargs: dict[str, object], seqs: list[list[int]], threads: int
             ) -> list[dict[str, np.ndarray]]:
    """Next-token logprob, entropy and argmax at every position, by a fresh context."""
    import llama_cpp

    llm = llama_cpp.Llama(model_path=path, n_ctx=512, logits_all=True, verbose=False,
                          n_threads=threads, n_threads_batch=threads, **kwargs)
    out = []
    try:
        for ids in seqs:
            llm.reset()
            llm.eval(ids)
            lp = log_softmax_rows(llm.scores[: len(ids) - 1])
            nxt = np.array(ids[1:])
            out.append({"logprob": lp[np.arange(len(nxt)), nxt],
                        "entropy": -(np.exp(lp) * lp).sum(axis=1),
                        "top1": lp.argmax(axis=1)})
    finally:
        llm.close()
    return out


def from_steps(steps: list) -> dict[str, np.ndarray]:  # type: ignore[type-arg]
    return {"logprob": np.array([s.logprob for s in steps]),
            "entropy": np.array([s.entropy for s in steps]),
            "top1": np.array([s.top[0].id for s in steps])}


def tokenprobe_paths(backend, seqs: list[list[int]]) -> dict[str, list[dict[str, np.ndarray]]]:  # type: ignore[no-untyped-def]
    """tokenprobe's score, and its generation path with the text's tokens forced (each
    evaluated alone after <bos>, as generated tokens are)."""
    from tokenprobe.trace import Request, Trace

    scored, forced = [], []
    for text, ids in zip(TEXTS.values(), seqs):
        s = backend.score(text, alternatives=10)
        assert [x.id for x in s.prompt_steps] == ids, "tokenization differs"
        scored.append(from_steps(s.prompt_steps[1:]))
        req = Request(mode="completion", prompt="", temperature=0.0, max_tokens=1,
                      alternatives=10)
        trace = Trace(backend="llama", model=backend.model, request=req)
        steps = list(backend.continue_steps(req, trace, [], ids[1:]))
        assert [x.id for x in steps] == ids[1:], "forced tokens differ"
        forced.append(from_steps(steps))
    return {"tokenprobe score": scored, "tokenprobe generation path (forced)": forced}


def deviation(a: list[dict[str, np.ndarray]], b: list[dict[str, np.ndarray]]) -> str:
    d = np.abs(np.concatenate([x["logprob"] - y["logprob"] for x, y in zip(a, b)]))
    de = np.abs(np.concatenate([x["entropy"] - y["entropy"] for x, y in zip(a, b)]))
    top = np.concatenate([x["top1"] == y["top1"] for x, y in zip(a, b)])
    return (f"{d.mean():8.4f} {np.median(d):8.4f} {np.quantile(d, 0.99):8.3f} {d.max():8.3f}"
            f" {de.mean():8.4f} {100 * top.mean():7.1f}%")


HEADER = (f"{'mean|d|':>8} {'median':>8} {'p99':>8} {'max':>8} {'H mean|d|':>9}"
          f" {'same top-1':>8}")


def generate_vs_score(backend) -> None:  # type: ignore[no-untyped-def]
    """Generate, then score prompt + text: each generated token's two logprobs."""
    import tokenprobe

    diffs, firsts = [], []
    for prompt in GEN_PROMPTS:
        for temperature, seed in ((0.0, None), (0.8, 1), (1.0, 2)):
            t = tokenprobe.generate(prompt, temperature=temperature, seed=seed,
                                    max_tokens=64, alternatives=10)
            s = tokenprobe.score(prompt + t.text, alternatives=10)
            n_prompt = len(backend.tokenize(prompt, add_bos=True))
            ids = [x.id for x in s.prompt_steps]
            if ids[n_prompt:] != [x.id for x in t.steps]:
                print(f"  (skipped: re-tokenisation changed {prompt!r} T={temperature})")
                continue
            d = [abs(g.logprob - x.logprob)
                 for g, x in zip(t.steps, s.prompt_steps[n_prompt:])]
            firsts.append(d[0])
            diffs.extend(d[1:])
    d, f = np.array(diffs), np.array(firsts)
    print(f"generate then score ({len(GEN_PROMPTS)} prompts x 3 settings, 64 tokens; "
          f"T = 0, 0.8, 1):")
    print(f"  first generated token (both from a batched evaluation): max |d| {f.max():.2e}")
    print(f"  later tokens ({len(d)}): mean |d| {d.mean():.4f}, median {np.median(d):.4f}, "
          f"p99 {np.quantile(d, 0.99):.3f}, max {d.max():.3f} nats")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", type=Path, help="ref.npz from reference_f32.py")
    ap.add_argument("--write-ids", type=Path, help="write the texts' token ids and stop")
    ap.add_argument("--skip-raw", action="store_true", help="only tokenprobe's own paths")
    args = ap.parse_args()

    from tokenprobe.backends import get_backend

    backend = get_backend(None)
    seqs = [backend.tokenize(t, add_bos=True) for t in TEXTS.values()]
    if args.write_ids:
        args.write_ids.write_text(json.dumps(seqs))
        print(f"{args.write_ids}: {len(seqs)} texts, model {backend.path}")
        return
    paths = tokenprobe_paths(backend, seqs)
    if not args.skip_raw:
        for name, kwargs in RAW_PATHS.items():
            paths[name] = raw_path(str(backend.path), kwargs, seqs, backend.n_threads)
    n = sum(len(s) - 1 for s in seqs)
    print(f"model {backend.model}, {n} positions ({', '.join(TEXTS)}), "
          f"logprob of the actual next token, nats")
    w = max(len(k) for k in paths) + 2
    if args.reference:
        ref = np.load(args.reference)
        refs = [{"logprob": ref[f"logprob_{k}"], "entropy": ref[f"entropy_{k}"],
                 "top1": ref[f"top_{k}"][:, 0]} for k in range(int(ref["n"]))]
        if f"logprob64_{0}" in ref:
            d = np.abs(np.concatenate([ref[f"logprob_{k}"] - ref[f"logprob64_{k}"]
                                       for k in range(len(refs))]))
            print(f"float32 reference vs float64: mean |d| {d.mean():.1e}, "
                  f"max {d.max():.1e}")
        print(f"\nvs the float32 reference{'':<{w - 24}}{HEADER}")
        for name, got in paths.items():
            print(f"{name:<{w}}{deviation(got, refs)}")
    base = paths["tokenprobe score"]
    print(f"\nvs tokenprobe score{'':<{w - 19}}{HEADER}")
    for name, got in paths.items():
        if name != "tokenprobe score":
            print(f"{name:<{w}}{deviation(got, base)}")
    print()
    generate_vs_score(backend)


if __name__ == "__main__":
    main()
