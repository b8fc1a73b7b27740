"""The Chat page in a real browser (Debian's Chromium through Playwright) against a real
`tokenprobe serve` with the embedded model: an answer streamed token by token, its
alternatives on hover, the confidence panel's figures checked against numpy, and New chat
clearing the answers and their figures.

Generations are short (a few tokens) to keep the suite fast on two cores. Every page is
watched: a request to anywhere but the server, a script error or a dialog fails the test.
Screenshots go to artifacts/.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal, getcontext
from pathlib import Path

import numpy as np
import pytest
from tests.views.jsfmt import pct
from tests.web.pages import Page, popover_rows, saved_trace
from tests.web.serve import Served

from tokenprobe.metrics import summarize


def whole(total: float) -> str:
    """The page's probability of a whole answer: a percentage, or exp(total) written in
    scientific notation with Decimal arithmetic (no float underflow)."""
    if math.exp(total) >= 0.001:
        return pct(math.exp(total))
    getcontext().prec = 40
    m, e = f"{Decimal(total).exp():.1e}".split("e")
    return f"{m}e{int(e)}"


def test_chat_streams_tokens_and_hover_shows_alternatives(open_page: Callable[..., Page],
                                                          server: Served,
                                                          artifacts: Path) -> None:
    p = open_page("#/chat")
    page = p.page
    assert "is a base model" in page.text_content("#chat-base-note")
    page.fill("#chat-sampling-max", "24")
    # Inside the page: each time the answer being streamed shows more chips.
    page.evaluate("""() => {
      const log = document.querySelector('#chat-log');
      window.__counts = [];
      new MutationObserver(() => {
        if (!log.querySelector('.tbox.streaming')) return;
        const n = log.querySelectorAll('.turn-assistant .t').length;
        const c = window.__counts;
        if (n && n !== c[c.length - 1]) c.push(n);
      }).observe(log, {childList: true, subtree: true});
    }""")
    page.fill("#chat-input", "What is the capital of France?")
    page.press("#chat-input", "Enter")
    assert page.is_visible("#chat-stop")
    page.wait_for_selector(".turn-assistant .tbox:not(.busy) .t", timeout=120_000)
    counts = page.evaluate("() => window.__counts")
    # Tokens appeared a few at a time as they were made, not all at once at the end.
    assert len(counts) >= 3 and counts == sorted(counts), counts
    assert page.is_visible("#chat-send")
    trace = saved_trace(server, page)
    assert len(trace.steps) <= 24 and trace.request.mode == "chat"
    # The confidence panel shows the selected answer's figures.
    metrics = page.eval_on_selector_all("#chat-panel .tp-metric", """ms => Object.fromEntries(
        ms.map(m => [m.querySelector('dt').textContent, m.querySelector('dd').textContent]))""")
    s = summarize(trace)
    assert metrics["tokens"] == str(s.tokens)
    # The per-token figures named for what they are, checked against numpy's own means.
    lps = np.array([x.logprob for x in trace.steps if x.logprob is not None])
    assert metrics["per-token probability"] == (
        f"geometric mean {pct(float(np.exp(lps.mean())))}, "
        f"arithmetic mean {pct(float(np.exp(lps).mean()))}")
    assert "mean probability" not in metrics
    assert metrics["probability of the whole answer"] == whole(float(lps.sum()))
    assert page.text_content(".turn-assistant .turn-head").startswith(
        f"{s.tokens} tokens \u00b7 per-token probability: geometric mean")
    assert page.is_visible("#chat-panel .tp-chart svg")
    # Hover a token: its alternatives are the ones the model weighed.
    page.hover(".turn-assistant .t >> nth=0")
    page.wait_for_selector(".tp-pop:not([hidden])")
    rows = popover_rows(page)
    assert [r["token"] for r in rows] == [c.token for c in trace.steps[0].top]
    for r, c in zip(rows, trace.steps[0].top):
        assert float(r["p"]) == pytest.approx(math.exp(c.logprob), abs=1e-4)  # type: ignore[arg-type]
    page.screenshot(path=str(artifacts / "web-chat-hover-light.png"))
    page.mouse.move(5, 5)
    page.locator("#chat-panel").screenshot(path=str(artifacts / "web-chat-panel-light.png"))
    p.clean()


def test_new_chat_clears_the_answers_and_their_figures(open_page: Callable[..., Page],
                                                       artifacts: Path) -> None:
    p = open_page("#/chat")
    page = p.page
    page.fill("#chat-sampling-max", "3")
    page.fill("#chat-input", "Name a colour.")
    page.press("#chat-input", "Enter")
    page.wait_for_selector(".turn-assistant .tbox:not(.busy) .t", timeout=120_000)
    hint = "The selected answer's figures appear here"
    assert page.text_content(".turn-assistant .turn-head").startswith("3 tokens")
    assert page.is_visible("#chat-panel .tp-summary")
    assert hint not in page.text_content("#chat-panel")
    page.mouse.move(5, 5)
    page.screenshot(path=str(artifacts / "web-chat-new-before.png"))
    page.click("#chat-new")
    # Nothing of the old conversation is left: no turn, no figure line, no summary.
    assert page.eval_on_selector_all("#chat-log .turn", "ts => ts.length") == 0
    assert page.is_visible("#chat-empty")
    assert page.query_selector("#chat-panel .tp-summary, #chat-panel .tp-chart") is None
    assert page.text_content("#chat-panel").startswith(hint)
    assert page.text_content("#chat-panel-which") == ""
    page.screenshot(path=str(artifacts / "web-chat-new-after.png"))
    p.clean()

