"""The HTML viewer on a large trace: file size, and time to interactive beside a plain text file.

A made-up 20,000-token trace with 10 alternatives per token (exact entropies, the tail sums
of the local engine, sampled logprobs) is exported with `write_html`; the same text is
written to a .txt file. Headless Chromium (Debian's, /usr/bin/chromium) opens each file
several times, alternating, with the network blocked. The time measured for both is the
same: from navigation start to the first frame after the load event (a requestAnimationFrame
then a task, recorded by an init script), so it includes the viewer's JSON parse, building
the chips, and the layout and paint of that frame. Also printed: the viewer's own
"interactive" mark (listeners attached, before the first frame), how long showing the
popover of a token in the middle takes, and re-colouring the whole text at T = 0.5.

Goals: file size <= 6 MB; time to interactive within 5x of the text file.

Then one very long token (--long-token, 200,000 characters of words and spaces): a trace
whose single token is that text beside the same text as word tokens (" lorem"), each
opened to its first frame after load, its first token's popover shown, and the step view
opened, in turn. Goal: the one token within 1.5x of the word tokens (lists and details used
to draw the whole label: 3x and more).

Run: python benchmarks/bench_viewer.py [--tokens N] [--runs N] [--long-token CHARS].
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import tempfile
from pathlib import Path
from typing import Any

from tokenprobe.distribution import TAIL_TEMPERATURES
from tokenprobe.trace import Candidate, Request, Step, Trace
from tokenprobe.views.html import write_html

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-extensions"]

# Runs in every page before its own scripts: records the first frame after `load`.
PAINT_PROBE = """
addEventListener('load', () => requestAnimationFrame(() => setTimeout(() => {
  window.__firstFrameAfterLoad = performance.now();
})));
"""


def make_trace(n_tokens: int, n_alt: int = 10, seed: int = 7, paragraphs: bool = True) -> Trace:
    """A trace shaped like the local engine's, with a vocabulary of made-up words.

    With `paragraphs`, a "\n\n" token ends a paragraph every 60 to 200 tokens, as in a long
    generated text; without, the whole text is one paragraph (the viewer's worst case).
    """
    rng = random.Random(seed)
    syll = ["ka", "lo", "mi", "ten", "ra", "vo", "shi", "an", "el", "dor", "pe", "qu", "is",
            "ul", "ber", "nov", "ta", "re", "ci", "mon"]
    words = sorted({(" " if rng.random() < 0.8 else "") +
                    "".join(rng.choice(syll) for _ in range(rng.randint(1, 3)))
                    for _ in range(12000)})
    words += [",", ".", "\n", " the", " of", " and"]
    steps = []
    next_break = rng.randint(60, 200)
    for i in range(n_tokens):
        # A peaked distribution over n_alt listed tokens plus a tail.
        raw = sorted((rng.expovariate(1.0) ** 2.2 for _ in range(n_alt)), reverse=True)
        tail_mass = rng.uniform(0.005, 0.3)
        total = sum(raw)
        probs = [(1 - tail_mass) * r / total for r in raw]
        alts = rng.sample(words, n_alt)
        if paragraphs and i == next_break:
            alts[0] = "\n\n"
            next_break += rng.randint(60, 200)
        top = [Candidate(w, math.log(p), id=hash(w) & 0x3FFFF) for w, p in zip(alts, probs)]
        r = rng.random()
        k = 0 if r < 0.7 or alts[0] == "\n\n" else rng.randint(1, n_alt - 1)
        chosen = top[k]
        entropy = -sum(p * math.log(p) for p in probs) + tail_mass * (9.0 - math.log(tail_mass))
        # log Σ exp(lp/T) over a tail spread over about 5,000 tokens.
        tails = [(1 / t) * math.log(tail_mass) + (1 - 1 / t) * math.log(5000.0)
                 for t in TAIL_TEMPERATURES]
        steps.append(Step(token=chosen.token, id=chosen.id, logprob=chosen.logprob,
                          sample_logprob=chosen.logprob * 1.25, top=top, entropy=entropy,
                          entropy_exact=True, tail_logsumexp=tails))
    t = Trace(backend="llama", model="gemma-3-270m-q4_k_m",
              request=Request(prompt="Write a long story.", temperature=0.8, seed=seed,
                              max_tokens=n_tokens, alternatives=n_alt),
              steps=steps, finish_reason="length", tail_temperatures=list(TAIL_TEMPERATURES))
    t.rebuild_text()
    return t


LONG_WORDS = ["lorem", "ipsum", "dolor", "sit", "amet,", "consectetur", "adipiscing", "elit.",
              "sed", "do", "eiusmod", "tempor"]
# Shows the first token's popover, then the step view, each up to its next frame.
DETAIL_AND_STEP = """async () => {
  const frame = () => new Promise(r => requestAnimationFrame(() => setTimeout(r)));
  let t0 = performance.now();
  const chip = document.querySelector('.tp-text-gen .t');
  chip.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
  document.querySelector('.tp-pop').getBoundingClientRect();
  await frame();
  const pop = performance.now() - t0;
  t0 = performance.now();
  [...document.querySelectorAll('.tp-tab')].find(b => b.textContent === 'Step by step').click();
  await frame();
  return [pop, performance.now() - t0]; }"""


def long_token_traces(n_chars: int, seed: int = 3) -> tuple[Trace, Trace]:
    """The same text of n_chars characters as one token, and as word tokens (" lorem")."""
    rng = random.Random(seed)
    words: list[str] = []
    total = 0
    while total < n_chars:
        w = (" " if words else "") + rng.choice(LONG_WORDS)
        words.append(w[: n_chars - total])
        total += len(words[-1])

    def trace(tokens: list[str]) -> Trace:
        steps = [Step(t, -0.7, None, top=[Candidate(t, -0.7, None), Candidate(" x", -1.2, None)],
                      entropy=1.1) for t in tokens]
        t = Trace(backend="llama", model="m", request=Request(prompt="Write."), steps=steps)
        t.rebuild_text()
        return t

    return trace(["".join(words)]), trace(words)


def open_detailed(browser: Any, url: str) -> dict[str, float]:
    """First frame after load, then the first token's popover and the step view."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.route("**/*", lambda r: r.continue_() if r.request.url.startswith(
        ("file:", "data:", "about:")) else r.abort())
    ctx.add_init_script(PAINT_PROBE)
    page = ctx.new_page()
    page.goto(url, wait_until="load")
    page.wait_for_function("() => window.__firstFrameAfterLoad !== undefined", timeout=300_000)
    frame = page.evaluate("() => window.__firstFrameAfterLoad")
    pop, step = page.evaluate(DETAIL_AND_STEP)
    ctx.close()
    return {"frame": frame, "popover": pop, "step": step, "all": frame + pop + step}


def bench_long_token(browser: Any, n_chars: int, runs: int) -> list[str]:
    """The one-token case's figures, as lines to print."""
    one, words = long_token_traces(n_chars)
    with tempfile.TemporaryDirectory() as d:
        one_path, words_path = Path(d) / "one.html", Path(d) / "words.html"
        write_html([one], one_path)
        write_html([words], words_path)
        got: dict[str, list[dict[str, float]]] = {"one": [], "words": []}
        for _ in range(runs):
            got["words"].append(open_detailed(browser, words_path.as_uri()))
            got["one"].append(open_detailed(browser, one_path.as_uri()))

    def med(key: str, what: str) -> float:
        return statistics.median(r[what] for r in got[key])

    out = [f"\none token of {n_chars:,} characters beside the same text as "
           f"{len(words.steps):,} word tokens (median of {runs}, ms)",
           f"{'':28s}{'one token':>12s}{'word tokens':>14s}"]
    for what, label in (("frame", "first frame after load"), ("popover", "first token's popover"),
                        ("step", "step view opened"), ("all", "all three")):
        out.append(f"{label:28s}{med('one', what):12.1f}{med('words', what):14.1f}")
    ratio = med("one", "all") / med("words", "all")
    out.append(f"ratio (one token / word tokens)  {ratio:.2f}x   (goal <= 1.5x)")
    return out


def open_timed(browser: Any, url: str, viewer: bool) -> dict[str, float]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.route("**/*", lambda r: r.continue_() if r.request.url.startswith(
        ("file:", "data:", "about:")) else r.abort())
    ctx.add_init_script(PAINT_PROBE)
    page = ctx.new_page()
    page.goto(url, wait_until="load")
    page.wait_for_function("() => window.__firstFrameAfterLoad !== undefined")
    out = {"frame": page.evaluate("() => window.__firstFrameAfterLoad")}
    if viewer:
        for key, mark in (("mark", "interactive"), ("parsed", "parsed"), ("loaded", "loaded")):
            out[key] = page.evaluate(
                f"() => performance.getEntriesByName('tokenprobe-{mark}')[0].startTime")
        out["popover"] = page.evaluate("""() => {
            const chips = document.querySelectorAll('.tp-text-gen .t');
            const c = chips[Math.floor(chips.length / 2)];
            const t0 = performance.now();
            c.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
            document.querySelector('.tp-pop').getBoundingClientRect();
            return performance.now() - t0; }""")
        out["recolour"] = page.evaluate("""() => {
            const t0 = performance.now();
            window.tokenprobeViewer.setTemperature(0.5);
            document.body.getBoundingClientRect();
            return performance.now() - t0; }""")
    ctx.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--one-paragraph", action="store_true",
                    help="no line breaks at all: the whole text in one paragraph")
    ap.add_argument("--long-token", type=int, default=200_000, metavar="CHARS",
                    help="characters of the one-token case (0: leave it out)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    trace = make_trace(args.tokens, paragraphs=not args.one_paragraph)
    with tempfile.TemporaryDirectory() as d:
        html_path, txt_path = Path(d) / "trace.html", Path(d) / "trace.txt"
        write_html([trace], html_path)
        txt_path.write_text(trace.text, encoding="utf-8")
        json_size = len(trace.to_json().encode())
        size = html_path.stat().st_size
        print(f"trace: {len(trace.steps)} tokens, 10 alternatives each, "
              f"{len(trace.text):,} characters of text")
        print(f"trace JSON (schema @1)  {json_size / 1e6:7.2f} MB")
        print(f"exported HTML page      {size / 1e6:7.2f} MB   (goal <= 6 MB)")
        print(f"plain text file         {txt_path.stat().st_size / 1e6:7.2f} MB")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            open_timed(browser, txt_path.as_uri(), False)  # warm the browser up
            text_runs, page_runs = [], []
            for _ in range(args.runs):
                text_runs.append(open_timed(browser, txt_path.as_uri(), False))
                page_runs.append(open_timed(browser, html_path.as_uri(), True))
            long_lines = (bench_long_token(browser, args.long_token, args.runs)
                          if args.long_token else [])
            browser.close()

    def med(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    t_text, t_page = med(text_runs, "frame"), med(page_runs, "frame")
    print(f"\nmedian of {args.runs} runs, headless Chromium, ms from navigation start")
    print(f"plain text file: first frame after load   {t_text:8.1f} ms")
    print(f"viewer page: first frame after load       {t_page:8.1f} ms")
    print(f"viewer page: JSON parsed                  {med(page_runs, 'parsed'):8.1f} ms")
    print(f"viewer page: trace model built            {med(page_runs, 'loaded'):8.1f} ms")
    print(f"viewer page: listeners attached (mark)    {med(page_runs, 'mark'):8.1f} ms")
    print(f"ratio (viewer / text)                     {t_page / t_text:8.2f}x   (goal <= 5x)")
    print(f"popover for a token in the middle         {med(page_runs, 'popover'):8.1f} ms")
    print(f"re-colour the whole text at T = 0.5       {med(page_runs, 'recolour'):8.1f} ms")
    for line in long_lines:
        print(line)


if __name__ == "__main__":
    main()
