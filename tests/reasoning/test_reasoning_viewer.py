"""The HTML viewer on a reasoning answer: the thinking folded above the answer, coloured by
the same bands, its figures on the fold's line; the summary stays the answer's."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from tests.reasoning.helpers import fixture_docs, live_read
from tests.views.browser import ARTIFACTS, shared_browser

from tokenprobe.views.html import render_html


def test_thinking_folded_above_the_answer(tmp_path: Path) -> None:
    trace = live_read(fixture_docs("vllm_chat_whole.json"), stream=False)
    assert trace.reasoning is not None
    # Model text is text: a thinking token that looks like markup must stay text.
    trace.reasoning.steps[1].token = "<img src=x onerror=alert(1)>"
    trace.reasoning.steps[1].bytes = trace.reasoning.steps[1].token.encode()
    path = tmp_path / "page.html"
    path.write_text(render_html([trace]), "utf-8")
    ctx = shared_browser().new_context(viewport={"width": 1100, "height": 760})
    try:
        page = ctx.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(path.as_uri())
        page.wait_for_selector("html[data-tp-ready]")
        fold = page.locator("details.tp-thinking")
        assert fold.count() == 1 and fold.get_attribute("open") is None  # folded
        thinking = np.array([s.logprob for s in trace.reasoning.steps], dtype=np.float64)
        line = page.inner_text("summary.tp-thinking-line")
        assert f"{len(thinking)} tokens" in line
        assert f"geometric mean {math.exp(thinking.mean()) * 100:.1f}%" in line
        page.click("summary.tp-thinking-line")  # one click: both parts shown
        assert fold.get_attribute("open") is not None
        chips = page.locator(".tp-text-thinking .t")
        assert chips.count() > 0
        # Coloured as the answer is: the same band classes, under the same measure.
        first = chips.nth(0).get_attribute("class") or ""
        assert "p" in first and page.locator(".tp-textwrap.by-prob .tp-thinking").count() == 1
        assert "<img src=x onerror=alert(1)>" in page.inner_text(".tp-text-thinking")
        assert page.locator(".tp-text-thinking img").count() == 0 and not dialogs
        # The summary panel is the answer's.
        answer = np.array([s.logprob for s in trace.steps], dtype=np.float64)
        side = page.inner_text(".tp-side")
        assert f"geometric mean {math.exp(answer.mean()) * 100:.1f}%" in side
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "reasoning-viewer.png"))
    finally:
        ctx.close()


def test_thinking_tokens_have_the_answers_popover(tmp_path: Path) -> None:
    from tests.views.jsfmt import pct

    trace = live_read(fixture_docs("vllm_chat_whole.json"), stream=False)
    assert trace.reasoning is not None
    steps = trace.reasoning.steps
    path = tmp_path / "page.html"
    path.write_text(render_html([trace]), "utf-8")
    ctx = shared_browser().new_context(viewport={"width": 1100, "height": 760})
    try:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.as_uri())
        page.wait_for_selector("html[data-tp-ready]")
        page.click("summary.tp-thinking-line")
        chips = page.locator(".tp-text-thinking .t")
        assert chips.count() == len(steps)  # one token a chip in this answer
        for k in (0, 2, len(steps) - 1):
            page.hover(f".tp-text-thinking .t >> nth={k}")
            page.wait_for_selector(".tp-pop:not([hidden])")
            where = page.text_content(".tp-pop .tp-pop-where") or ""
            assert where == f"thinking \u00b7 step {k + 1} of {len(steps)}"
            s = steps[k]
            p = page.eval_on_selector(".tp-pop .tp-stat-p dd", "d => d.textContent")
            assert p == pct(math.exp(s.logprob))  # type: ignore[arg-type]
            shown = page.eval_on_selector_all(
                ".tp-pop .tp-bar-row",
                "rs => rs.map(r => r.querySelector('.tp-bar-pct').textContent)")
            want = [pct(float(np.exp(np.float64(c.logprob))))
                    for c in s.top if c.logprob is not None]
            assert shown[:len(want)] == want
        # A click pins it; a click on an answer token moves the popover to the answer.
        page.click(".tp-text-thinking .t >> nth=2")
        assert "pinned" in (page.get_attribute(".tp-pop", "class") or "")
        assert "step 3 of" in (page.text_content(".tp-pop .tp-pop-where") or "")
        page.click(".tp-text-gen .t:not(.ws) >> nth=0")
        assert (page.text_content(".tp-pop .tp-pop-where") or "").startswith("generated")
        assert page.locator(".tp-text-thinking .t.shown").count() == 0
        assert errors == []
    finally:
        ctx.close()
