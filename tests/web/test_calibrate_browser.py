"""The Calibrate page in a real browser against a real `tokenprobe serve` on the scripted
model (tests/scripted_model.py): a JSONL file picked and run, the export's diagram drawn in
the page, a bin's items, an item in the viewer, model text kept as text, and the History's
calibration and sweep entries. The screenshot goes to artifacts/web-calibrate.png."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import expect
from tests.scripted_model import SPEC
from tests.web.pages import Page
from tests.web.serve import Served, serve

from tokenprobe.ops.choose import choose
from tokenprobe.ops.sweep import sweep
from tokenprobe.store import Store

ITEMS = [
    {"id": "parity", "prompt": "Is 17 even or odd? 17 is", "options": [" even", " odd"],
     "answer": 1},
    {"id": "tag", "prompt": "<script>window.hacked=1</script> The capital of France is",
     "options": [" Paris", " <b>Lyon</b>"], "answer": 0},
    {"id": "larger", "prompt": "Which number is larger, 31 or 58? The larger is",
     "options": [" 31", " 58"], "answer": 1},
    {"id": "sum", "prompt": "2 + 3 = 5\n4 + 4 =", "answer": " 8"},
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`tokenprobe serve` offering the scripted model by default (open_page's server)."""
    with serve(tmp_path_factory.mktemp("web-home"), "--quiet", "-m", SPEC) as s:
        yield s


def test_calibrate_a_file_then_reopen_it_from_the_history(
        open_page: Callable[..., Page], server: Served,
        tmp_path: Path, artifacts: Path) -> None:
    # A sweep in the server's history, to see it listed by its kind.
    sw = sweep("The sky is", [0.0, 1.0], max_tokens=2, alternatives=3, model=SPEC)
    Store(server.log.parent / "history.sqlite3").save_document(
        sw.id, "sweep", sw.created, "The sky is", sw.to_dict(), model=sw.base.model,
        text=sw.base.text)
    data = tmp_path / "small.jsonl"
    data.write_text("".join(json.dumps(i) + "\n" for i in ITEMS), encoding="utf-8")

    p = open_page("#/calibrate")
    page = p.page
    page.check("#cal-use-file")
    page.set_input_files("#cal-file", str(data))
    page.wait_for_selector("#cal-file-note:text('small.jsonl: 4 lines')")
    page.fill("#cal-max", "4")
    page.click("#cal-go")
    page.wait_for_selector("#cal-result svg.cal-rel", timeout=180_000)
    assert page.url.split("#/calibrate/")[1]  # the saved entry, for a reload
    about = page.text_content(".cal-about")
    assert about is not None and about.startswith("4 items of small.jsonl · 1 run")

    # The figures line is the library's: its accuracy for the options' probability
    # (no length normalisation) is choose's best option against the answers, here.
    hits = [int(np.argmax([o.probability for o in
                           choose(i["prompt"], i["options"], model=SPEC,
                                  alternatives=5).options]))
            == i["answer"] for i in ITEMS if "options" in i]
    figures = page.text_content(".cal-figures .ops-hint")
    assert figures is not None and f"n = 3 · accuracy {np.mean(hits):.3f}" in figures

    # A bin lists its items; the model's and the user's text stays text.
    n_bins = page.locator(".cal-bin").count()
    assert n_bins == 10
    listed: list[str] = []
    for i in range(n_bins):
        page.locator(".cal-bin").nth(i).dispatch_event("click")
        listed += page.eval_on_selector_all(".cal-list li", "ls => ls.map(l => l.dataset.item)")
    assert sorted(listed) == ["larger", "parity", "tag"]
    assert page.evaluate("window.hacked") is None
    assert page.locator("#cal-result script, #cal-result b").count() == 0
    page.locator(".cal-bin").nth(0).dispatch_event("click")
    for i in range(n_bins):
        page.locator(".cal-bin").nth(i).dispatch_event("click")
        if page.locator(".cal-list li[data-item=tag]").count():
            break
    assert "<script>window.hacked=1</script>" in (page.text_content(
        ".cal-list li[data-item=tag] .cal-prompt") or "")
    page.click(".cal-list li[data-item=tag]")
    page.wait_for_selector(".cal-viewer:not([hidden]) .t")
    assert page.text_content(".cal-viewer .ops-prompt-text") == ITEMS[1]["prompt"]
    labels = page.eval_on_selector_all(".cal-trace-label", "ls => ls.map(l => l.textContent)")
    assert labels == ["option 1 (right):  Paris", "option 2:  <b>Lyon</b>"]
    page.screenshot(path=str(artifacts / "web-calibrate.png"), full_page=True)

    # The History names every kind, and a calibration opens in Calibrate.
    p.go("#/history")
    page.wait_for_selector(".hist-row >> nth=1")
    kinds = page.eval_on_selector_all(".hist-kind", "ks => ks.map(k => k.textContent)")
    assert kinds == ["calibration", "sweep"], kinds
    sweep_row = page.locator(f".hist-row[data-id='{sw.id}']")
    assert sweep_row.locator("button:text('Open')").count() == 0  # shown by its HTML export
    page.locator(".hist-row >> nth=0").locator(".hist-title").click()
    page.wait_for_selector("#view-calibrate:not([hidden]) #cal-result svg.cal-rel")
    assert page.text_content(".cal-about") == about
    p.go("#/history")
    page.select_option("#hist-kind", "sweep")
    expect(page.locator(".hist-row")).to_have_count(1)
    assert page.text_content(".hist-row .hist-kind") == "sweep"
    p.clean()
