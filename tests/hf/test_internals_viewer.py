"""The viewer's Inside-the-model tab (viewer-lens.js) in Chromium, on a trace of the tiny
GPT-2 with attention and the logit lens: the weights it shows are the trace's (decoded in
the page from base64 float16), the layer x head grid and the steps answer the keyboard, the
lens table has every layer, the method is named, and model text stays text."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tests.views.conftest import browser, open_html, open_trace  # noqa: F401

import tokenprobe

EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def lensed(tiny_hf) -> Any:  # type: ignore[no-untyped-def]
    tr = tokenprobe.generate("The quick brown fox", model=tiny_hf, max_tokens=5, seed=4,
                             attention=True, lens=True)
    assert tr.internals is not None
    tr.internals.context[1] = EVIL  # a label that is markup must stay text
    return tr


def shown(page: Any) -> dict[str, str]:
    spans = page.locator(".tp-inside-context .t[aria-label]")
    return {s.get_attribute("aria-label").split(",")[0]: s.get_attribute("aria-label")
            for s in spans.all()}


def test_inside_tab(open_trace: Any, lensed: Any) -> None:  # noqa: F811
    o = open_trace([lensed])
    page = o.page
    page.get_by_role("tab", name="Inside the model").click()
    assert page.locator(".tp-inside").is_visible()
    internals = lensed.internals
    n_ctx = len(internals.context)
    # Step 1, layer 1, the heads' mean (row `heads`): the listed weights as the trace has them.
    att = internals.attention[0]
    labels = shown(page)
    assert len(labels) == n_ctx  # every earlier position, and the chosen token apart
    for pos, w in zip(att.positions[0, internals.heads], att.weights[0, internals.heads]):
        want = page.evaluate("w => TokenprobeViewer.format.pct(w)", float(w))
        assert labels[f"position {int(pos)}"] == f"position {int(pos)}, {want}"
    assert EVIL.replace(" ", "\u2423") in page.locator(".tp-inside-context").inner_text()
    assert page.locator(".tp-inside img").count() == 0 and not o.dialogs
    # The grid: a head by click, then the keyboard moves to the next layer.
    page.get_by_role("button", name="layer 1, head 2").click()
    focused = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert focused == "layer 1, head 2"
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "layer 2, head 2"
    assert "layer 2, head 2" in page.locator(".tp-inside-att .tp-note").inner_text()
    labels = shown(page)
    top = att.positions[1, 1, 0]
    want = page.evaluate("w => TokenprobeViewer.format.pct(w)", float(att.weights[1, 1, 0]))
    assert labels[f"position {int(top)}"].endswith(want)
    # The steps: arrow keys move to the next token.
    page.locator(".tp-inside-steps button").first.focus()
    page.keyboard.press("ArrowRight")
    assert page.locator(".tp-inside-steps button[aria-pressed=true]").count() == 1
    assert "step 2" in page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert len(shown(page)) == n_ctx + 1
    # The lens: layers 0 .. L, the method and its limits named.
    rows = page.locator(".tp-inside-lenstable tr")
    assert rows.count() == 1 + internals.layers + 1
    note = page.locator(".tp-inside-lens .tp-note").inner_text()
    assert "logit lens" in note and "Known limits" in note
    lens = internals.lens[1]
    out_cell = rows.nth(1).locator("td").nth(1).inner_text()  # the output layer, step 2
    p = np.exp(float(lens.chosen_logprob[-1]))
    want = page.evaluate("w => TokenprobeViewer.format.pct(w)", p)
    assert f"chosen: #{int(lens.chosen_rank[-1])}, {want}" in out_cell
    assert not o.errors and not o.blocked


def test_no_tab_without_internals(open_trace: Any, tiny_hf) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    tr = tokenprobe.generate("The quick", model=tiny_hf, max_tokens=3, seed=1)
    o = open_trace([tr])
    assert o.page.get_by_role("tab", name="Inside the model").count() == 0
    assert not o.errors
