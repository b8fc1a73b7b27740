"""Screenshots of the web app's modes (History, Chat, Complete, Score, Compare), light and
dark, 1280 and 390 pixels wide, reopened from the history that the other browser modules
made on the session's `tokenprobe serve` (a scored text is made here if none was). They go
to artifacts/web-*.png. Every page is watched: a request to anywhere but the server, a
script error or a dialog fails the test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.views.browser import fits_the_window
from tests.web.pages import Page
from tests.web.serve import Served


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_screenshots(open_page: Callable[..., Page], server: Served, artifacts: Path,
                     scheme: str, size: str) -> None:
    """Pictures to look at, of every mode, reopened from the history made above."""
    _status, listed = server.call("GET", "/api/history")
    records = listed["records"]
    by_mode: dict[str, str] = {}
    for r in records:
        if r["kind"] == "choice":
            continue  # Score mode shows a scored text here (a choice is drawn below it)
        mode = {"comparison": "compare"}.get(r["kind"]) or (
            "chat" if r["mode"] == "chat" else "score" if r["mode"] == "score" else "complete")
        if r["parent_id"] is None and r["backend"] in ("llama", ""):
            by_mode.setdefault(mode, r["id"])
    if "score" not in by_mode:
        _, text = server.call("POST", "/api/score", {"text": "The quick brown fox jumps "
                                                     "over the lazy dog.", "alternatives": 5})
        done = [json.loads(line[6:]) for line in text.splitlines()
                if line.startswith("data: ") and '"saved"' in line][-1]
        by_mode["score"] = done["saved"]
    p = open_page("#/history", scheme=scheme, size=size)
    page = p.page
    page.wait_for_selector(".hist-row")
    page.screenshot(path=str(artifacts / f"web-history-{scheme}-{size}.png"))
    if size == "phone":
        fits_the_window(page, "history", 390)
    for mode in ("chat", "complete", "score", "compare"):
        if mode not in by_mode:
            continue
        p.go(f"#/{mode}/{by_mode[mode]}")
        if mode == "compare":
            page.wait_for_selector(".cmp-variant")
        else:
            scope = {"chat": ".turn-assistant", "complete": "#complete-result",
                     "score": "#score-result"}[mode]
            page.wait_for_selector(f"{scope} .t")
            # A chip with a letter in it: a newline token's chip has no width to click.
            page.locator(f"{scope} .t").filter(has_text=re.compile(r"\w")).first.click()
            page.wait_for_selector(".tp-pop.pinned")
        page.screenshot(path=str(artifacts / f"web-{mode}-{scheme}-{size}.png"),
                        full_page=mode != "chat")
        page.keyboard.press("Escape")
        if size == "phone":
            fits_the_window(page, mode, 390)
    if size == "phone":  # the forms of the modes that have no record to reopen here
        for mode in ("calibrate", "tokenize"):
            p.go(f"#/{mode}")
            page.wait_for_selector(f'.wa-modes a.on[data-mode="{mode}"]')
            fits_the_window(page, mode, 390)
    p.clean()

