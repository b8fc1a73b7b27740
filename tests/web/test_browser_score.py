"""The Score page in a real browser (Debian's Chromium through Playwright) against a real
`tokenprobe serve` with the embedded model: a scored text's perplexity line, worded from the
trace (its unscored first token named), and a long choice that reports its progress and
stops when asked.

Every page is watched: a request to anywhere but the server, a script error or a dialog
fails the test.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.web.pages import Page, saved_trace
from tests.web.serve import Served

from tokenprobe.metrics import summarize


def test_score_names_its_unscored_first_token_and_choose_stops(
        open_page: Callable[..., Page], server: Served) -> None:
    p = open_page("#/score")
    page = p.page
    page.fill("#score-text", "Roses are red.")
    page.click("#score-go")
    page.wait_for_selector("#score-status:has-text('Perplexity')", timeout=120_000)
    trace = saved_trace(server, page)
    first, rest = trace.prompt_steps[0], trace.prompt_steps[1:]
    assert first.logprob is None and all(s.logprob is not None for s in rest)
    # The wording comes from the trace: its first token's own label, and the count scored.
    s = summarize(trace)
    line = page.text_content("#score-status")
    assert line.startswith(f"Perplexity {s.perplexity:.2f} over {len(rest)} scored tokens; "
                           "per-token probability: geometric mean")
    # The engine's <bos> in front is no token of the text; a first token without one would
    # say it has no context, never "not reported".
    if first.special:
        assert f"{json.dumps(first.token)} in front is the engine's control token" in line
    else:
        assert f"first token, {json.dumps(first.token)}: no context" in line
    assert "not reported" not in line and "no reported logprob" not in line
    # A long choice reports its progress and stops when asked, between two options.
    page.fill("#choose-options", "\n".join(f" option {k}: " + "a long tail of words " * 20
                                           for k in range(20)))
    page.click("#choose-go")
    page.wait_for_selector("#choose-status:has-text('of 20 done')", timeout=120_000)
    assert page.is_visible("#choose-stop") and page.is_hidden("#choose-go")
    page.click("#choose-stop")
    page.wait_for_selector("#choose-status:text-is('Stopped.')", timeout=120_000)
    assert page.is_visible("#choose-go") and page.is_hidden("#choose-stop")
    assert page.text_content("#choose-result") == ""
    # The engine is free again: a short choice runs to its end.
    page.fill("#choose-options", " Paris\n Lyon")
    page.click("#choose-go")
    page.wait_for_selector("#choose-result .choice-row", timeout=120_000)
    assert page.is_hidden("#choose-stop")
    p.clean()

