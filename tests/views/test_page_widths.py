"""Every kind of page fits a phone's width: the viewer, the branch tree, the comparisons,
the sweep, the choice, the calibration and the tokenizers' page, 390 pixels wide, with the
fonts this machine has and again with every text in its monospace font (wider than any
sans-serif: a machine without the fonts the pages name falls back to wider ones, and a
header that could not wrap overflowed there). Nothing may make the page scroll sideways;
wide tables scroll inside their own box. Made on the scripted model."""

from __future__ import annotations

from typing import Any

import pytest
from tests.scripted_model import SPEC
from tests.views.browser import fits_the_window
from tests.views.conftest import EVIL_TEXT, PROMPT
from tests.views.ops_pages import clean

from tokenprobe.ops.choose import Choice
from tokenprobe.ops.compare import Comparison
from tokenprobe.ops.sweep import Sweep
from tokenprobe.trace import Trace

WIDTH = 390

@pytest.fixture(scope="module")
def pages(fixed_comparison: Comparison, sampled_comparison: Comparison,
          branch_tree: list[Trace], temperature_sweep: Sweep, choice: Choice,
          tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    import tokenprobe
    from tokenprobe.calibration.demo import demo_items
    from tokenprobe.cli.tokens import render_html as render_splits
    from tokenprobe.ops.calibrate import Settings, calibrate
    from tokenprobe.tokenizers import split
    from tokenprobe.views.html import (
        render_calibration,
        render_choice,
        render_comparison,
        render_html,
        render_sweep,
    )

    long = tokenprobe.generate(PROMPT + " " + EVIL_TEXT + " " + "x" * 120, temperature=0.9,
                               seed=3, max_tokens=60, model=SPEC)
    work = tmp_path_factory.mktemp("cal") / "work.jsonl"
    cal = calibrate(demo_items(n_open=3, n_choice=3, seed=2), work, models=[SPEC],
                    settings=Settings(max_tokens=6, resamples=20), data="test")
    text = EVIL_TEXT + " 吾輩は猫である。" + "y" * 80
    return {"viewer": render_html([long]), "tree": render_html(branch_tree),
            "compare": render_comparison(fixed_comparison),
            "compare-samples": render_comparison(sampled_comparison),
            "sweep": render_sweep(temperature_sweep), "choice": render_choice(choice),
            "calibration": render_calibration(cal),
            # A static page, with no script to say it is ready: ready once loaded.
            "tokenize": render_splits([split("char", text), split("o200k", text)], text)
            .replace("<html ", "<html data-tp-ready ", 1)}


@pytest.mark.parametrize("name", ["viewer", "tree", "compare", "compare-samples", "sweep",
                                  "choice", "calibration", "tokenize"])
def test_page_fits_a_phone(open_html: Any, pages: dict[str, str], name: str) -> None:
    o = open_html(pages[name], width=WIDTH, height=844)
    fits_the_window(o.page, name, WIDTH)
    clean(o)
