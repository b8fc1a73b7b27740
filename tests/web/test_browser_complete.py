"""The Complete page in a real browser (Debian's Chromium through Playwright) against a real
`tokenprobe serve` with the embedded model: a branch from an alternative and back, the
temperature slider and the step view against Trace.at_temperature, and the queue's position
shown to a second request, whose cancel frees its place.

Generations are short (a few tokens) to keep the suite fast on two cores. Every page is
watched: a request to anywhere but the server, a script error or a dialog fails the test.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.web.pages import (
    Page,
    as_page_numbers,
    chip_texts,
    complete,
    popover_rows,
    saved_trace,
    set_temperature,
)
from tests.web.serve import Served


def test_branch_from_an_alternative_and_switch_back(open_page: Callable[..., Page],
                                                    server: Served) -> None:
    p = open_page("#/complete")
    page = p.page
    complete(page, "The capital of France is", 6)
    original = chip_texts(page, "#complete-result")
    parent = saved_trace(server, page)
    page.click("#complete-result .t >> nth=1")  # pins the token's detail
    page.wait_for_selector(".tp-pop.pinned")
    pick = page.query_selector(".tp-pop .tp-bar-row.pick")
    assert pick is not None
    token = pick.get_attribute("data-token")
    pick.click()
    page.wait_for_selector("#complete-result .tbox-count:text('2 / 2')", timeout=120_000)
    page.wait_for_selector("#complete-result .tbox:not(.busy) .t")
    branched = chip_texts(page, "#complete-result")
    assert branched[0] == original[0] and branched[1] == token
    branch = saved_trace(server, page)
    assert branch.parent == {"id": parent.id, "step": 1, "token": token}
    assert [s.forced for s in branch.steps[:2]] == [False, True]
    # Switch back to the original, and forth again.
    page.click("#complete-result .tbox-prev")
    page.wait_for_selector("#complete-result .tbox-count:text('1 / 2')")
    assert chip_texts(page, "#complete-result") == original
    page.select_option("#complete-result .tbox-pick", "1")
    page.wait_for_selector("#complete-result .tbox-count:text('2 / 2')")
    assert chip_texts(page, "#complete-result") == branched
    _status, entry = server.call("GET", f"/api/history/{parent.id}")
    assert [t["id"] for t in entry["traces"]] == [parent.id, branch.id]
    p.clean()


def test_temperature_slider_and_step_view_in_complete_mode(open_page: Callable[..., Page],
                                                           server: Served) -> None:
    p = open_page("#/complete")
    page = p.page
    complete(page, "Water boils at", 5)
    trace = as_page_numbers(saved_trace(server, page))
    page.eval_on_selector("#complete-result .tp-slider", """s => { s.value = '1.5';
        s.dispatchEvent(new Event('input', {bubbles: true})); }""")
    page.wait_for_selector("#complete-result .tp-tvalue:text('1.50')")
    want = trace.at_temperature(1.5)[0]
    page.hover("#complete-result .tp-text-gen .t >> nth=0")
    page.wait_for_selector(".tp-pop:not([hidden])")
    rows = popover_rows(page)
    assert [r["token"] for r in rows] == [c.candidate.token for c in want.candidates]
    for r, c in zip(rows, want.candidates):
        assert c.prob is not None  # the local engine's tail sums: point values
        assert float(r["p"]) == pytest.approx(c.prob, abs=1e-9)
    page.mouse.move(5, 5)
    page.click("#complete-result .tp-tab:text('Step by step')")
    assert page.text_content("#complete-result .tp-step-counter") == \
        f"step 1 of {len(trace.steps)}"
    page.click("#complete-result .tp-btn:text('Next')")
    assert page.text_content("#complete-result .tp-step-counter") == \
        f"step 2 of {len(trace.steps)}"
    p.clean()


def test_queue_position_is_shown_and_a_cancel_frees_the_place(
        open_page: Callable[..., Page]) -> None:
    a = open_page("#/complete")
    b = open_page("#/complete")
    a.page.fill("#complete-prompt", "Once upon a time")
    set_temperature(a.page, "0")
    a.page.fill("#complete-sampling-max", "400")
    a.page.click("#complete-go")
    a.page.wait_for_selector("#complete-result .t", timeout=120_000)
    b.page.fill("#complete-sampling-max", "4")
    b.page.click("#complete-go")
    # The box says "Sending…" until the server's first event tells the position.
    b.page.wait_for_selector("#complete-result .tbox-queue:has-text('Waiting in the queue')",
                             timeout=60_000)
    assert b.page.text_content("#complete-result .tbox-queue").startswith(
        "Waiting in the queue: position 1 (1 running)")
    b.page.click("#complete-stop")
    b.page.wait_for_selector("#complete-result .tbox-note:has-text('Cancelled before it started')")
    assert b.page.is_visible("#complete-go")
    a.page.click("#complete-stop")
    a.page.wait_for_selector("#complete-result .tbox-muted:has-text('Stopped')")
    assert "tokens made are kept" in a.page.text_content("#complete-result .tbox-note")
    a.clean()
    b.clean()

