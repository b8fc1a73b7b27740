"""Screenshots of the operations' pages (comparison, fixed and sampled, branch tree with its
fork menu, temperature sweep, choice), light and dark, 1280 and 390 pixels wide, made on the
scripted model (tests/scripted_model.py); they go to artifacts/ops-*.png. Each page is
checked clean: nothing asked for, no dialog, no script error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.views.ops_pages import clean

from tokenprobe.ops.choose import Choice
from tokenprobe.ops.compare import Comparison
from tokenprobe.ops.sweep import Sweep
from tokenprobe.trace import Trace
from tokenprobe.views.html import render_choice, render_comparison, render_html, render_sweep


def _shoot(page: Any, path: Path) -> None:
    # Paragraphs off screen are not laid out (content-visibility), so the window is made as
    # tall as the page before the picture is taken.
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": page.viewport_size["width"], "height": min(height, 6000)})
    page.wait_for_timeout(150)
    page.screenshot(path=str(path), full_page=True)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("device,width", [("desktop", 1280), ("phone", 390)])
def test_screenshots(open_html: Any, artifacts: Path, scheme: str, device: str, width: int,
                     fixed_comparison: Comparison, sampled_comparison: Comparison,
                     branch_tree: list[Trace], temperature_sweep: Sweep, choice: Choice) -> None:
    pages = {"compare": render_comparison(fixed_comparison),
             "compare-samples": render_comparison(sampled_comparison),
             "tree": render_html(branch_tree), "sweep": render_sweep(temperature_sweep),
             "choice": render_choice(choice)}
    for name, text in pages.items():
        o = open_html(text, scheme=scheme, width=width, height=900 if width > 500 else 844)
        if name == "tree":
            o.page.click('.ops-fork[data-step="1"]')
            o.page.screenshot(path=str(artifacts / f"ops-tree-menu-{scheme}-{device}.png"))
            o.page.click('.ops-fork-opt[data-trace="1"]')
        if name == "compare":
            o.page.hover('.ops-strip[data-variant="1"] .ops-dchip >> nth=0')
            o.page.screenshot(path=str(artifacts / f"ops-compare-tip-{scheme}-{device}.png"))
            o.page.mouse.move(0, 0)
        _shoot(o.page, artifacts / f"ops-{name}-{scheme}-{device}.png")
        clean(o)

