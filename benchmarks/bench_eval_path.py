"""The local engine's evaluation path: its speed beside llama.cpp's own, quiet and busy.

On the embedded model, measured round by round interleaved (machine noise hits both sides
alike), medians over the rounds, under three loads: quiet; a busy loop pinned to core 0;
a busy loop free to run anywhere (the loops are started here and stopped at the end):
  1. first token of a chat whose system prompt is about 1,000 tokens: tokenprobe generate
     (max_tokens=1) vs llama-cpp-python's plain create_completion on the same token ids
     with its default settings (goal: within 1.2x its time);
  2. score of a 2,000-token text (10 alternatives) vs llama.cpp's batched evaluation with
     logits for every position (llama_decode in batches of 512, nothing read), the
     engine's own limit (goal: at least 0.5x its speed);
  3. thread counts: tokenprobe picks its thread count before each decode from the cores
     other processes leave free (backends/llama_threads.py); a score of 256 tokens and 16
     generated tokens (tokens/s) with that choice and with 1 and all cores fixed.

  4. with --one-token, the path the engine used before (micro-batches of one token, as
     generation must): first token and the 2,000-token evaluation by a llama-cpp-python
     context with n_ubatch 1 (slow; left out by default).

Run: python benchmarks/bench_eval_path.py [--rounds N] [--loads quiet,pinned,free]
[--quick] [--one-token]. Prints tables; asserts nothing. Accuracy is
bench_eval_accuracy.py's.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eval_texts import TEXTS

TOPICS = ["invoices", "travel plans", "recipes", "garden pests", "tax forms", "bicycles",
          "poetry", "spreadsheets", "train tickets", "houseplants", "job interviews"]
STYLES = ["two short sentences", "a numbered list", "plain words a child would know",
          "a formal tone", "a single paragraph", "a friendly tone"]
THINGS = ["one concrete example", "the main risk", "where to learn more", "a rough cost",
          "the first step", "a common mistake", "how long it takes"]


def system_prompt(n_rules: int, tag: int) -> str:
    rules = [f"Rule {i + 1}: when the user asks about {TOPICS[i % len(TOPICS)]}, answer in "
             f"{STYLES[i % len(STYLES)]} and mention {THINGS[i % len(THINGS)]}."
             for i in range(n_rules)]
    # The tag makes every prompt new, so neither side reuses a cached prefix.
    return f"Session {tag}. You are a careful assistant. " + " ".join(rules)


def long_text(backend, n: int) -> str:  # type: ignore[no-untyped-def]
    parts = list(TEXTS.values())
    text, k = "", 0
    while len(backend.tokenize(text, add_bos=True)) < n:
        text += parts[k % len(parts)] + "\n\n"
        k += 1
    while len(backend.tokenize(text, add_bos=True)) > n:
        text = text[: -max(1, (len(backend.tokenize(text, add_bos=True)) - n))]
    return text


@contextlib.contextmanager
def load(kind: str) -> Iterator[None]:
    """`quiet`, or a spinning process `pinned` to core 0 or `free` to move."""
    if kind == "quiet":
        yield
        return
    pin = (lambda: os.sched_setaffinity(0, {0})) if kind == "pinned" else None
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"], preexec_fn=pin)
    try:
        time.sleep(0.5)
        yield
    finally:
        proc.terminate()
        proc.wait()


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--loads", default="quiet,pinned,free")
    ap.add_argument("--score-tokens", type=int, default=2000)
    ap.add_argument("--rules", type=int, default=44, help="system prompt rules (~23 tokens each)")
    ap.add_argument("--quick", action="store_true", help="no thread-count variants")
    ap.add_argument("--one-token", action="store_true",
                    help="also the one-token-at-a-time path (slow)")
    args = ap.parse_args()

    import llama_cpp

    import tokenprobe
    from tokenprobe.api import build_request
    from tokenprobe.backends import get_backend

    backend = get_backend(None)
    cores = len(os.sched_getaffinity(0))
    plain = llama_cpp.Llama(model_path=str(backend.path), n_ctx=4096, verbose=False)
    text = long_text(backend, args.score_tokens)
    ids = backend.tokenize(text, add_bos=True)
    short = long_text(backend, 256)
    user = "Which rule covers bicycles?"
    n_prompt = len(backend.prompt_tokens(build_request(user, chat=True,
                                                      system=system_prompt(args.rules, 0))))
    print(f"model {backend.model}; {cores} cores; tokenprobe threads: up to "
          f"{backend.n_threads}, as the load allows; llama-cpp-python defaults {plain.n_threads}/"
          f"{plain.n_threads_batch}, n_batch {plain.n_batch}; chat prompt {n_prompt} tokens; "
          f"scored text {len(ids)} tokens; load average {os.getloadavg()[0]:.1f}")

    tag = iter(range(1, 10**6))

    def ours_first() -> float:
        system = system_prompt(args.rules, next(tag))
        return timed(lambda: tokenprobe.generate(user, chat=True, system=system,
                                                 max_tokens=1, temperature=0))

    def plain_first() -> float:
        req = build_request(user, chat=True, system=system_prompt(args.rules, next(tag)))
        prompt = backend.prompt_tokens(req)
        return timed(lambda: plain.create_completion(prompt, max_tokens=1, temperature=0.0))

    def ours_score(threads: int | None, what: str = text) -> float:
        backend.set_threads(threads)
        try:
            n = len(backend.tokenize(what, add_bos=True))
            return n / timed(lambda: tokenprobe.score(what, alternatives=10))
        finally:
            backend.set_threads(None)

    batch = llama_cpp.llama_batch_init(plain.n_batch, 0, 1)
    # The former path: every position alone, with tokenprobe's thread count.
    single = llama_cpp.Llama(model_path=str(backend.path), n_ctx=4096, n_ubatch=1,
                             n_threads=backend.n_threads, n_threads_batch=backend.n_threads,
                             verbose=False) if args.one_token else plain

    def single_first() -> float:
        req = build_request(user, chat=True, system=system_prompt(args.rules, next(tag)))
        prompt = backend.prompt_tokens(req)
        return timed(lambda: single.create_completion(prompt, max_tokens=1, temperature=0.0))

    def engine_score(llm: llama_cpp.Llama = plain) -> float:
        mem = llama_cpp.llama_get_memory(llm.ctx)

        def run() -> None:
            llama_cpp.llama_memory_clear(mem, True)
            for start in range(0, len(ids), llm.n_batch):
                chunk = ids[start : start + llm.n_batch]
                batch.n_tokens = len(chunk)
                for j, tok in enumerate(chunk):
                    batch.token[j], batch.pos[j] = tok, start + j
                    batch.n_seq_id[j], batch.seq_id[j][0], batch.logits[j] = 1, 0, True
                if llama_cpp.llama_decode(llm.ctx, batch) != 0:
                    raise RuntimeError("llama_decode failed")
        return len(ids) / timed(run)

    def ours_generate(threads: int | None) -> float:
        backend.set_threads(threads)
        try:
            prompt = f"Story {next(tag)}: the lighthouse keeper"
            tokenprobe.generate(prompt, max_tokens=1, temperature=0)  # prompt cached
            t = timed(lambda: tokenprobe.generate(prompt, max_tokens=17, temperature=0))
            return 16 / t
        finally:
            backend.set_threads(None)

    cases: dict[str, Callable[[], float]] = {
        "first token: tokenprobe (s)": ours_first,
        "first token: create_completion (s)": plain_first,
        "score: tokenprobe (tok/s)": lambda: ours_score(None),
        "score: llama_decode, all logits (tok/s)": engine_score,
    }
    if not args.quick:
        cases["score 256: tokenprobe (tok/s)"] = lambda: ours_score(None, short)
        for k in sorted({1, cores}):
            cases[f"score 256: tokenprobe, {k} threads fixed (tok/s)"] = \
                lambda k=k: ours_score(k, short)  # type: ignore[misc]
        cases["generate: tokenprobe (tok/s)"] = lambda: ours_generate(None)
        for k in sorted({1, cores}):
            cases[f"generate: tokenprobe, {k} threads fixed (tok/s)"] = \
                lambda k=k: ours_generate(k)  # type: ignore[misc]

    if args.one_token:
        cases["first token: n_ubatch 1 (s)"] = single_first
        cases["score: llama_decode n_ubatch 1, all logits (tok/s)"] = \
            lambda: engine_score(single)

    ours_first(), plain_first(), ours_score(None), engine_score()  # warm up
    loads = args.loads.split(",")
    results: dict[str, dict[str, float]] = {}
    t_start = time.perf_counter()
    for kind in loads:
        runs: dict[str, list[float]] = {name: [] for name in cases}
        with load(kind):
            for _ in range(args.rounds):
                for name, fn in cases.items():
                    runs[name].append(fn())
            load1 = os.getloadavg()[0]
        results[kind] = {name: statistics.median(v) for name, v in runs.items()}
        print(f"  {kind}: done ({time.perf_counter() - t_start:.0f} s; load average "
              f"{load1:.1f}, the busy loop included)", flush=True)

    w = max(len(n) for n in cases) + 2
    print(f"\nmedians of {args.rounds} rounds")
    print(f"{'':<{w}}" + "".join(f"{k:>10}" for k in loads))
    for name in cases:
        print(f"{name:<{w}}" + "".join(f"{results[k][name]:>10.2f}" for k in loads))
    print(f"\n{'ratio':<{w}}" + "".join(f"{k:>10}" for k in loads) + "   goal")
    r = results
    first = [r[k]["first token: tokenprobe (s)"] / r[k]["first token: create_completion (s)"]
             for k in loads]
    score = [r[k]["score: tokenprobe (tok/s)"]
             / r[k]["score: llama_decode, all logits (tok/s)"] for k in loads]
    print(f"{'first token, tokenprobe / create_completion':<{w}}"
          + "".join(f"{x:>9.2f}x" for x in first) + "   <= 1.2x")
    print(f"{'score speed, tokenprobe / llama_decode':<{w}}"
          + "".join(f"{x:>9.2f}x" for x in score) + "   >= 0.5x")
    if args.one_token:
        old = [r[k]["first token: n_ubatch 1 (s)"] / r[k]["first token: create_completion (s)"]
               for k in loads]
        print(f"{'first token, n_ubatch 1 / create_completion':<{w}}"
              + "".join(f"{x:>9.2f}x" for x in old))
        single.close()
    llama_cpp.llama_batch_free(batch)
    plain.close()


if __name__ == "__main__":
    main()
