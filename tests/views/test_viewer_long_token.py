"""A very long token in the viewer: shown whole in the text, by its start and the count of
the rest in lists and details, and opened, detailed and stepped through about as fast as
the same text in ordinary tokens.

Lists and details (the least confident tokens, the popover, the step view, the chart's
tip) used to draw the whole label with a mark per whitespace run on one unbroken line:
for one token of 200,000 characters that was seconds of layout for each of them.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from tokenprobe.trace import Candidate, Request, Step, Trace
from tokenprobe.views.html import write_html

N_CHARS = 200_000
WORDS = ["lorem", "ipsum", "dolor", "sit", "amet,", "consectetur", "adipiscing", "elit.",
         "sed", "do", "eiusmod", "tempor"]
# Runs in the page before its scripts: the first frame after `load`, as bench_viewer.py.
FIRST_FRAME = """addEventListener('load', () => requestAnimationFrame(() => setTimeout(() => {
  window.__firstFrame = performance.now(); })));"""
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


def words_text(n: int, seed: int = 3) -> list[str]:
    """Words with their spaces (" lorem"), as a tokenizer splits text, n characters in all."""
    rng = random.Random(seed)
    out: list[str] = []
    total = 0
    while total < n:
        w = ("" if not out else " ") + rng.choice(WORDS)
        w = w[: n - total]
        out.append(w)
        total += len(w)
    return out


def trace_of(tokens: list[str]) -> Trace:
    steps = [Step(t, -0.7, None, top=[Candidate(t, -0.7, None), Candidate(" x", -1.2, None)],
                  entropy=1.1) for t in tokens]
    t = Trace(backend="llama", model="m", request=Request(prompt="Write."), steps=steps)
    t.rebuild_text()
    return t


def opened_in(browser: Any, path: Path) -> tuple[Any, Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 860})
    ctx.route("**/*", lambda r: r.continue_() if r.request.url.startswith(
        ("file:", "data:", "about:")) else r.abort())
    ctx.add_init_script(FIRST_FRAME)
    page = ctx.new_page()
    page.goto(path.as_uri())
    page.wait_for_function("() => window.__firstFrame !== undefined", timeout=300_000)
    return ctx, page


def test_a_long_token_is_shown_whole_in_the_text_and_by_its_start_elsewhere(
        browser: Any, tmp_path: Path) -> None:
    # An astral character (two UTF-16 units) straddles the 200th unit: the start shown must
    # not cut it in half.
    label = "x" * 199 + "\U0001f600" + "".join(words_text(N_CHARS - 200))
    assert len(label) == N_CHARS
    path = tmp_path / "long.html"
    write_html([trace_of([label, " end"])], path)
    ctx, page = opened_in(browser, path)
    try:
        chips = page.eval_on_selector_all(".tp-text-gen .t", "cs => cs.map(c => c.textContent)")
        assert chips == [label, " end"]  # the reading view keeps every character
        rest = f"\u2026 +{N_CHARS - 199:,} characters"  # the emoji and all after it
        least = page.eval_on_selector_all(".tp-least-tok .tok", """ts => ts.map(t =>
            [t.firstChild.textContent, t.querySelector('.tok-cut') &&
             t.querySelector('.tok-cut').textContent, t.title])""")
        assert [x[0] == "x" * 199 and x[1] == rest for x in least].count(True) == 1, least
        assert any(x[2] == f"a token of {N_CHARS:,} characters; the first 199 are shown"
                   for x in least)
        page.hover(".tp-text-gen .t >> nth=0")
        page.wait_for_selector(".tp-pop:not([hidden])")
        assert page.text_content(".tp-pop-head .tok") == "x" * 199 + rest
        # The alternatives keep the whole label as data, for what reads them.
        tokens = page.eval_on_selector_all(".tp-pop .tp-bar-row",
                                           "rs => rs.map(r => r.dataset.token)")
        assert tokens == [label, " x"]
        page.mouse.move(1, 1)
        page.click(".tp-tab:text('Step by step')")
        assert page.text_content(".tp-chosen-tok") == "x" * 199 + rest
    finally:
        ctx.close()


def test_a_whitespace_token_shows_its_marks_clipped(open_trace: Any) -> None:
    o = open_trace([trace_of(["a", " " * 5000, "b"])])
    vis = o.page.get_attribute(".tp-text-gen .t.ws", "data-vis")
    assert vis == "\u2423" * 200 + "\u2026"
    assert o.page.text_content(".tp-text-gen .t.ws") == " " * 5000


@pytest.mark.slow
def test_one_long_token_renders_about_as_fast_as_the_same_text_in_tokens(
        browser: Any, tmp_path: Path) -> None:
    """Open the page (to its first frame), show the token's popover, open the step view:
    one token of 200,000 characters against the same text as 30,000 word tokens, in turn,
    twice; the best of each compared. Before the labels were clipped the one token took
    2.6 to 6 times as long (its labels alone took seconds); now about a third."""
    words = words_text(N_CHARS)
    one, many = tmp_path / "one.html", tmp_path / "many.html"
    write_html([trace_of(["".join(words)])], one)
    write_html([trace_of(words)], many)
    times: dict[Path, list[float]] = {one: [], many: []}
    for _ in range(2):
        for path in (many, one):
            ctx, page = opened_in(browser, path)
            try:
                pop, step = page.evaluate(DETAIL_AND_STEP)
                times[path].append(page.evaluate("() => window.__firstFrame") + pop + step)
            finally:
                ctx.close()
    ratio = min(times[one]) / min(times[many])
    assert ratio <= 1.5, (f"one token: {times[one]} ms, the same text in {len(words)} "
                          f"tokens: {times[many]} ms (ratio {ratio:.2f})")
