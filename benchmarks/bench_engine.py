"""Local engine speed and memory, as ratios measured side by side in one run.

On the embedded model, same prompt, same thread count, greedy, 128 new tokens:
  1. tokenprobe generate (10 alternatives, exact entropy, tail summary) vs llama-cpp-python
     plain create_completion with no logprobs (goal >= 0.90 of its tokens/s);
  2. tokenprobe generate vs llama-cpp-python create_completion(logprobs=10) with
     logits_all=True (goal >= 15x its tokens/s);
  3. tokenprobe score of a ~256-token text (10 alternatives) vs llama-cpp-python
     create_completion(text, max_tokens=1, echo=True, logprobs=10) with logits_all=True
     (goal >= 10x faster);
  4. tokenprobe score of a ~2,000-token text: peak memory above the loaded model
     (goal <= 300 MB), measured in a fresh process with the kernel's high-water mark.

Run: python benchmarks/bench_engine.py [--quick]. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import textwrap
import time

PROMPT = "Here is a short story about a lighthouse keeper who"
NEW_TOKENS = 128

PARAGRAPH = (
    "The lighthouse stood at the edge of the world, or so it seemed to the children of "
    "the village below. Every evening the keeper climbed the spiral stairs, one hundred "
    "and twelve of them, to light the great lamp that warned ships away from the rocks. "
    "He had done this for forty years, through storms that shook the glass and calm "
    "nights when the sea lay still as a mirror. "
)


def text_of_tokens(backend, n: int) -> str:  # type: ignore[no-untyped-def]
    text = ""
    while len(backend.tokenize(text, add_bos=True)) < n:
        text += PARAGRAPH
    words = text.split(" ")
    while len(backend.tokenize(" ".join(words), add_bos=True)) > n:
        words.pop()
    return " ".join(words)


def timed(fn) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    r = fn()
    return time.perf_counter() - t0, r


def peak_memory_mb(n_tokens: int) -> tuple[float, float]:
    """(rss after load, peak above it while scoring) in a fresh process, in MB."""
    code = textwrap.dedent(f"""
        import re, sys
        sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
        from bench_engine import text_of_tokens
        import tokenprobe
        from tokenprobe.backends import get_backend
        def status(key):
            return int(re.search(key + r":\\s+(\\d+)", open("/proc/self/status").read())
                       .group(1)) / 1024
        b = get_backend(None)
        text = text_of_tokens(b, {n_tokens})
        tokenprobe.score("warm up", alternatives=10)
        base = status("VmRSS")
        open("/proc/self/clear_refs", "w").write("5")  # reset the high-water mark
        tokenprobe.score(text, alternatives=10)
        print(base, status("VmHWM") - base)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="skip the slow logits_all paths")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    import llama_cpp

    import tokenprobe
    from tokenprobe.backends import get_backend

    backend = get_backend(None)
    threads = backend.n_threads
    path = str(backend.path)
    print(f"model {backend.model}, {threads} threads, {NEW_TOKENS} new tokens, greedy")

    plain = llama_cpp.Llama(model_path=path, n_ctx=2048, n_threads=threads,
                            n_threads_batch=threads, verbose=False)

    def ours_generate() -> float:
        dt, t = timed(lambda: tokenprobe.generate(PROMPT, temperature=0,
                                                  max_tokens=NEW_TOKENS, alternatives=10))
        return len(t.steps) / dt  # type: ignore[attr-defined]

    def plain_generate() -> float:
        plain.reset()
        dt, r = timed(lambda: plain.create_completion(PROMPT, max_tokens=NEW_TOKENS,
                                                      temperature=0.0))
        return r["usage"]["completion_tokens"] / dt  # type: ignore[index]

    ours_generate(), plain_generate()  # warm up both
    ours, theirs = [], []
    for _ in range(args.rounds):  # interleaved, so machine noise hits both alike
        ours.append(ours_generate())
        theirs.append(plain_generate())
    o, p = statistics.median(ours), statistics.median(theirs)
    rows = [("generate vs plain create_completion (no logprobs)", f"{o:.1f} tok/s",
             f"{p:.1f} tok/s", f"{o / p:.2f}x", ">= 0.90x")]

    if not args.quick:
        full = llama_cpp.Llama(model_path=path, n_ctx=2048, n_threads=threads,
                               n_threads_batch=threads, logits_all=True, verbose=False)
        full.reset()
        dt, r = timed(lambda: full.create_completion(PROMPT, max_tokens=NEW_TOKENS,
                                                     temperature=0.0, logprobs=10))
        lp_rate = r["usage"]["completion_tokens"] / dt  # type: ignore[index]
        rows.append(("generate vs create_completion(logprobs=10, logits_all)",
                     f"{o:.1f} tok/s", f"{lp_rate:.2f} tok/s", f"{o / lp_rate:.1f}x",
                     ">= 15x"))
        text = text_of_tokens(backend, 256)
        n = len(backend.tokenize(text, add_bos=True))
        tokenprobe.score("warm up")
        ours_dt, _ = timed(lambda: tokenprobe.score(text, alternatives=10))
        full.reset()
        their_dt, _ = timed(lambda: full.create_completion(text, max_tokens=1, echo=True,
                                                           logprobs=10, temperature=0.0))
        rows.append((f"score {n} tokens vs echo=True logprobs=10 (logits_all)",
                     f"{ours_dt:.2f} s", f"{their_dt:.1f} s", f"{their_dt / ours_dt:.1f}x",
                     ">= 10x"))
        full.close()
    plain.close()

    base, peak = peak_memory_mb(2000)
    rows.append(("score 2000 tokens: peak memory above the loaded model",
                 f"{peak:.0f} MB", f"(loaded: {base:.0f} MB)", "", "<= 300 MB"))

    w = max(len(r[0]) for r in rows)
    print(f"{'measure':<{w}}  {'tokenprobe':>12}  {'reference':>18}  {'ratio':>8}  goal")
    for r in rows:
        print(f"{r[0]:<{w}}  {r[1]:>12}  {r[2]:>18}  {r[3]:>8}  {r[4]}")


if __name__ == "__main__":
    main()
