"""The Compare page in a real browser (Debian's Chromium through Playwright) against a real
`tokenprobe serve` with the embedded model: two system prompts compared, sampled and on a
fixed answer token by token, and a saved comparison whose variants split the answer into
other tokens, which the page says rather than pairing them.

Every page is watched: a request to anywhere but the server, a script error or a dialog
fails the test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.views.traces import split_differently
from tests.web.pages import Page
from tests.web.serve import Served

from tokenprobe.ops.compare import compare
from tokenprobe.store import Store


def test_compare_two_system_prompts(open_page: Callable[..., Page], server: Served) -> None:
    p = open_page("#/compare")
    page = p.page
    assert page.text_content("#cmp-go") == "Compare 2 variants"
    page.fill("#cmp-max", "6")
    page.click("#cmp-go")
    page.wait_for_selector(".cmp-variant >> nth=1", timeout=120_000)
    labels = page.eval_on_selector_all(".cmp-title", "ts => ts.map(t => t.textContent)")
    assert labels == ["1system=Answer in one word.",
                      "2system=Answer like a pirate, at length."]
    assert page.eval_on_selector_all(".cmp-variant .cmp-text .t", "cs => cs.length") > 0
    # The same answer under both: token by token.
    page.fill("#cmp-answer", "Paris")
    page.click("#cmp-go")
    page.wait_for_selector(".cmp-deltas tbody tr", timeout=120_000)
    tokens = page.eval_on_selector_all(".cmp-deltas tbody tr td:first-child",
                                       "ts => ts.map(t => t.textContent)")
    assert "".join(tokens) == "Paris"
    p.clean()


def test_compare_says_when_a_variant_split_the_answer_into_other_tokens(
        open_page: Callable[..., Page], server: Served, llama: Any) -> None:
    c = split_differently(compare(["The capital of France is", "Paris is the capital of"],
                                  answer=" Paris, a city"), 1)
    Store(server.log.parent / "history.sqlite3").save_document(
        c.id, "comparison", c.created, "split", c.to_dict(), text=c.answer or "")
    p = open_page("#/compare/" + c.id)
    page = p.page
    page.wait_for_selector(".cmp-deltas tbody tr")
    steps = [v.traces[0].steps for v in c.variants]
    rows = page.eval_on_selector_all(".cmp-deltas tbody tr", """rs => rs.map(r =>
        Array.from(r.querySelectorAll('td.num')).map(td => td.textContent))""")
    assert len(rows) == len(steps[0])
    assert all(row[1] == "\u2014" and row[0] != "\u2014" for row in rows)
    note = page.text_content(".cmp-split-note")
    assert f"variant 2 split it into {len(steps[1])} tokens against variant 1's " \
        f"{len(steps[0])}" in note and "exactly these tokens" not in note
    p.clean()

