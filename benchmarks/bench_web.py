"""The web app's overhead over the engine, measured on the real page in one run.

A real `tokenprobe serve` with the embedded model (its own temporary history), and the real
page in headless Chromium (Debian's, through Playwright). For each prompt, Complete mode,
greedy, N new tokens, 10 alternatives:

  1. time to first token: from the click on Generate to the first token chip on the page,
     against the engine's own time to first token for that same request (measured by the
     server around the library's stream: from opening it to its first step) and against a
     direct library call of the same request in this process (goal: page within 50 ms of
     the engine);
  2. tokens per second: as the chips appear on the page (first chip to last), against the
     engine's rate for that same request and a direct library call (goal: page >= 0.9 of
     the engine's).

Page times are taken inside the page (performance.now(), a MutationObserver on the
answer), so the browser's own round trips to this script are not counted. The first
prompt warms everything up and is not counted; medians over the rest.

Run: python benchmarks/bench_web.py [--rounds 6] [--max-tokens 64]. Prints a table;
asserts nothing.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROMPTS = [
    "The history of the lighthouse begins",
    "Here is a short story about a fox who",
    "The recipe for a good loaf of bread is",
    "In the year 1850, the small town of",
    "The most important rule of chess is",
    "Once upon a time, in a quiet valley,",
    "The engineer looked at the bridge and",
    "Every morning the baker opened the shop and",
]

# Records, inside the page, when the answer first reaches each number of chips.
OBSERVE = """() => {
  const host = document.querySelector('#complete-result');
  window.__bench = {marks: [], max: 0};
  const b = window.__bench;
  const obs = new MutationObserver(() => {
    if (!host.querySelector('.tbox.streaming')) return;  // the previous answer is still shown
    const n = host.querySelectorAll('.tp-text-gen .t').length;
    if (n > b.max) { b.max = n; b.marks.push([performance.now(), n]); }
  });
  obs.observe(host, {childList: true, subtree: true});
  b.stop = () => obs.disconnect();
  b.t0 = performance.now();
  document.querySelector('#complete-go').click();
}"""


def engine_direct(backend, prompt: str, max_tokens: int) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    from tokenprobe.api import build_request

    stream = None
    t0 = time.perf_counter()
    stream = backend.stream(build_request(prompt, max_tokens=max_tokens, temperature=0.0,
                                          alternatives=10))
    first = last = 0.0
    n = 0
    for _ in stream:
        last = time.perf_counter()
        if n == 0:
            first = last
        n += 1
    return 1000 * (first - t0), (n - 1) / (last - first), n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=6, help="prompts timed (after one warm-up)")
    ap.add_argument("--max-tokens", type=int, default=64)
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright
    from tests.web.serve import serve

    from tokenprobe.backends import get_backend

    backend = get_backend(None)
    prompts = (PROMPTS * (1 + args.rounds // len(PROMPTS)))[: args.rounds + 1]
    rows = []
    with tempfile.TemporaryDirectory() as home, serve(Path(home), "--quiet") as server, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(server.url + "/#/complete")
        page.wait_for_selector("html[data-wa-ready]")
        page.eval_on_selector("#complete-sampling-t", """s => { s.value = '0';
            s.dispatchEvent(new Event('input', {bubbles: true})); }""")
        page.fill("#complete-sampling-max", str(args.max_tokens))
        page.fill("#complete-sampling-alt", "10")
        for i, prompt in enumerate(prompts):
            page.fill("#complete-prompt", prompt)
            page.evaluate(OBSERVE)
            page.wait_for_selector("#complete-result .tbox:not(.busy) .t", timeout=300_000)
            marks = page.evaluate("() => { window.__bench.stop(); return window.__bench; }")
            status = page.text_content("#complete-status") or ""
            m = re.search(r"first token after ([\d.]+) ms, ([\d.]+) tokens/s", status)
            trace_id = page.url.rsplit("/", 1)[-1]
            _, doc = server.call("GET", f"/api/history/{trace_id}/export?format=json")
            steps = len(doc["steps"])
            t0, pts = marks["t0"], marks["marks"]
            page_ttft = pts[0][0] - t0
            page_rate = (steps - 1) / ((pts[-1][0] - pts[0][0]) / 1000)
            d_ttft, d_rate, d_steps = engine_direct(backend, prompt, args.max_tokens)
            row = {"page_ttft": page_ttft, "engine_ttft": float(m.group(1)) if m else None,
                   "direct_ttft": d_ttft, "page_rate": page_rate,
                   "engine_rate": float(m.group(2)) if m else None, "direct_rate": d_rate,
                   "steps": steps, "direct_steps": d_steps}
            tag = "warm-up" if i == 0 else f"round {i}"
            print(f"{tag:8} {steps:3d} tokens  first token: page {page_ttft:7.1f} ms, engine "
                  f"{row['engine_ttft']} ms, direct {d_ttft:6.1f} ms   tokens/s: page "
                  f"{page_rate:5.1f}, engine {row['engine_rate']}, direct {d_rate:5.1f}",
                  file=sys.stderr)
            if i:
                rows.append(row)
        browser.close()

    med = {k: statistics.median(r[k] for r in rows if r[k] is not None) for k in rows[0]}
    gap = statistics.median(r["page_ttft"] - r["engine_ttft"] for r in rows)
    ratio = statistics.median(r["page_rate"] / r["engine_rate"] for r in rows)
    print(f"embedded model, greedy, {args.max_tokens} new tokens, 10 alternatives, "
          f"{len(rows)} prompts (medians)")
    print(f"{'measure':36} {'page':>10} {'engine':>10} {'direct':>10} {'page vs engine':>16} "
          f"{'goal':>12}")
    print(f"{'time to first token (ms)':36} {med['page_ttft']:10.1f} {med['engine_ttft']:10.1f} "
          f"{med['direct_ttft']:10.1f} {gap:+15.1f}  {'<= +50 ms':>12}")
    print(f"{'tokens per second':36} {med['page_rate']:10.1f} {med['engine_rate']:10.1f} "
          f"{med['direct_rate']:10.1f} {ratio:15.2f}x {'>= 0.90x':>12}")
    print("engine: the server's own timing of the same request; direct: the same request "
          "through the library in this process")


if __name__ == "__main__":
    main()
