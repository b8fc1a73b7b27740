"""`tokenprobe show ID` for a calibration kept in the history: the terminal's table and
diagram with the document's figures, --json the document itself, --html its page."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from tests.inprocess import invoke
from tests.scripted_model import SPEC

from tokenprobe.calibration.data import LabelledItem
from tokenprobe.ops.calibrate import Settings, calibrate
from tokenprobe.store import Store

ITEMS = [
    LabelledItem("p17", "Is 17 even or odd? 17 is", options=[" even", " odd"], answer_index=1),
    LabelledItem("p40", "Is 40 even or odd? 40 is", options=[" even", " odd"], answer_index=0),
    LabelledItem("sum", "2 + 3 = 5\n4 + 4 =", answers=[" 8"]),
]


def _page_data(html: str) -> dict[str, Any]:
    m = re.search(r'<script type="application/json" id="tp-data">(.*?)</script>', html, re.S)
    assert m, "the page embeds no data"
    return json.loads(m.group(1))  # type: ignore[no-any-return]


def test_show_a_saved_calibration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Made on the scripted model (tests/scripted_model.py); shown in this process.
    doc = calibrate(ITEMS, tmp_path / "w.jsonl", settings=Settings(max_tokens=4, resamples=20),
                    data="three items", models=[SPEC])
    Store(tmp_path / "history.sqlite3").save_document(
        doc["id"], "calibration", doc["created"], "calibrate three items", doc,
        model="gemma")

    def here(args: list[str]) -> Any:
        return invoke(args, tmp_path, monkeypatch, width=200)

    r = here(["show", doc["id"][:8]])
    assert r.code == 0, r.stderr
    run = doc["runs"][0]
    total = run["signals"]["total"]
    assert "3 items from three items" in r.stdout
    row = next(line for line in r.stdout.splitlines() if line.startswith("option probability, no"))
    cells = row.split()
    assert f"{total['accuracy']:.3f}" in cells and f"{total['ece_width']['value']:.3f}" in cells
    assert ("–" if total["auroc"] is None else f"{total['auroc']:.3f}") in cells
    assert "reliability of option probability, no length normalisation" in r.stdout
    filled = [b for b in total["ece_width"]["bins"] if b["count"]]
    for b in filled:
        assert f"{b['lo']:.1f}–{b['hi']:.1f}  n={b['count']:<4d} conf " \
               f"{b['mean_confidence']:.2f} acc {b['accuracy']:.2f}" in r.stdout

    r = here(["show", doc["id"][:8], "--json"])
    assert r.code == 0 and json.loads(r.stdout) == json.loads(json.dumps(doc))

    page = tmp_path / "c.html"
    r = here(["show", doc["id"], "--html", str(page)])
    assert r.code == 0, r.stderr
    data = _page_data(page.read_text(encoding="utf-8"))
    assert data["calibration"]["runs"][0]["signals"] == json.loads(json.dumps(run["signals"]))
    assert len(data["traces"]) == 2 + 2 + 1  # the options' traces and the open answer's
