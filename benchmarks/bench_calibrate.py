"""calibrate's throughput on the embedded model beside the same engine work done plainly.

The set is the demo's kind (arithmetic answered openly, multiple choice), N items of each.
`calibrate` asks each item through batch (its default concurrency, a fresh work file each
round), reads the work file back, computes every signal's figures (ECE with 1000 bootstrap
resamples, temperature scaling, ...) and builds the document. The plain side makes the same
requests one after another with nothing around them: `choose(prompt, options)` for a
multiple-choice item, and for an open item `generate` (greedy, the same max tokens, stop
and alternatives) plus the gold answer scored after the prompt (`score_continuation`, what
choose does for each option), which calibrate also does. Rounds alternate (calibrate, plain,
calibrate, ...) so that a change in the machine's load falls on both; the figures are items
per second (wall clock) and the process's CPU seconds per item (all its threads: the
engine's and the bookkeeping's; less moved by other processes' load than the wall clock),
and the ratio calibrate / plain per round, its median and range (goal >= 0.9x: the
bookkeeping costs nothing that matters).

Run: python benchmarks/bench_calibrate.py [--items N] [--rounds R]. Prints a table;
asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=6, help="open items, and as many choices")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()

    from tokenprobe import generate
    from tokenprobe.api import build_request
    from tokenprobe.backends import get_backend
    from tokenprobe.calibration.demo import demo_items
    from tokenprobe.ops.calibrate import Settings, calibrate
    from tokenprobe.ops.choose import choose

    items = demo_items(n_open=args.items, n_choice=args.items, seed=1)
    st = Settings()
    llama = get_backend(None)
    generate("Warm up", max_tokens=2, temperature=0.0)  # the model loaded before timing

    def plain() -> None:
        for item in items:
            if item.options is not None:
                choose(item.prompt, item.options, alternatives=st.alternatives)
                continue
            generate(item.prompt, max_tokens=st.max_tokens, temperature=0.0,
                     alternatives=st.alternatives, stop=list(st.stop))
            for gold in item.answers:
                llama.score_continuation(build_request(item.prompt, temperature=1.0,
                                                       alternatives=st.alternatives),
                                         gold, st.alternatives)

    rates: dict[str, list[float]] = {"calibrate": [], "plain": []}
    cpu: dict[str, list[float]] = {"calibrate": [], "plain": []}

    def timed(name: str, fn: Callable[[], object]) -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        rates[name].append(len(items) / (time.perf_counter() - t0))
        cpu[name].append((time.process_time() - c0) / len(items))

    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            work = Path(tmp) / f"work{r}.jsonl"
            docs: list[dict[str, Any]] = []
            timed("calibrate", lambda w=work, d=docs: d.append(  # type: ignore[misc]
                calibrate(items, w, settings=st, data="bench")))
            assert not docs[0]["runs"][0]["failed"]
            assert len(docs[0]["runs"][0]["items"]) == len(items)
            timed("plain", plain)
            print(f"round {r + 1}: calibrate {rates['calibrate'][-1]:.2f} items/s "
                  f"({cpu['calibrate'][-1]:.2f} CPU s/item), plain "
                  f"{rates['plain'][-1]:.2f} items/s ({cpu['plain'][-1]:.2f} CPU s/item)",
                  flush=True)

    def row(label: str, a: list[float], b: list[float], unit: str, higher: bool) -> str:
        ratios = [x / y if higher else y / x for x, y in zip(a, b)]
        return (f"| {label} | {statistics.median(a):.2f} {unit} | "
                f"{statistics.median(b):.2f} {unit} | {statistics.median(ratios):.2f}x "
                f"({min(ratios):.2f}-{max(ratios):.2f}x) | >= 0.90x |")

    print(f"\n{len(items)} items ({args.items} open, {args.items} multiple choice), "
          f"{args.rounds} rounds interleaved, {os.cpu_count()} cores; medians, the ratio "
          "calibrate / plain as speed (median of the rounds' ratios, and their range)")
    print("| measure | calibrate | plain calls | ratio | goal |")
    print("| --- | ---: | ---: | ---: | --- |")
    print(row("items per second", rates["calibrate"], rates["plain"], "items/s", True))
    print(row("CPU time per item", cpu["calibrate"], cpu["plain"], "s", False))


if __name__ == "__main__":
    main()
