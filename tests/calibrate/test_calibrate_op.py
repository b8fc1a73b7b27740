"""The calibrate op on the scripted model (tests/scripted_model.py): both forms, the signals
against independent computations (choose called alone, numpy over the model's table and
over the traces), resuming, and the command line."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.helpers import run_cli
from tests.inprocess import invoke
from tests.scripted_model import SPEC, expected_logprobs
from tests.scripted_model import encode as scripted_ids

from tokenprobe.backends.base import Backend
from tokenprobe.calibration.data import LabelledItem
from tokenprobe.calibration.demo import demo_items
from tokenprobe.ops.calibrate import Settings, calibrate
from tokenprobe.ops.choose import choose

ITEMS = demo_items(n_open=4, n_choice=3, seed=2)
SETTINGS = Settings(max_tokens=6, resamples=50)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    work = tmp_path_factory.mktemp("cal") / "work.jsonl"
    return calibrate(ITEMS, work, models=[SPEC], settings=SETTINGS, data="test"), work


def test_choice_items_match_choose_alone(run: tuple[dict[str, Any], Path]) -> None:
    doc, _ = run
    assert doc["part"]["over"] == "answer"  # a reasoning model's thinking is in no signal
    records = {r["id"]: r for r in doc["runs"][0]["items"]}
    for item in ITEMS:
        if item.kind != "choice":
            continue
        alone = choose(item.prompt, item.options or [], model=SPEC, alternatives=5)
        rec = records[item.id]["outcome"]["total"]
        np.testing.assert_allclose(rec["probabilities"],
                                   [o.probability for o in alone.options], atol=1e-9)
        totals = np.array([o.total_logprob for o in alone.options])
        per_token = totals / np.array([o.n_tokens for o in alone.options])
        want = np.exp(per_token - per_token.max()) / np.exp(per_token - per_token.max()).sum()
        np.testing.assert_allclose(records[item.id]["outcome"]["per_token"]["probabilities"],
                                   want, atol=1e-12)
        assert rec["correct"] == (int(np.argmax(totals)) == item.answer_index)


def test_open_signals_from_the_traces(run: tuple[dict[str, Any], Path]) -> None:
    doc, _ = run
    for rec in doc["runs"][0]["items"]:
        if rec["kind"] != "open":
            continue
        steps = rec["traces"][0]["steps"]
        lps = np.array([s["logprob"] for s in steps], dtype=np.float64)
        sig = {k: v["confidence"] for k, v in rec["signals"].items()}
        assert sig["first_token"] == pytest.approx(math.exp(lps[0]), rel=1e-12)
        assert sig["total_logprob"] == pytest.approx(math.exp(lps.sum()), rel=1e-9)
        assert sig["mean_logprob"] == pytest.approx(math.exp(lps.mean()), rel=1e-9)
        assert sig["min_token"] == pytest.approx(math.exp(lps.min()), rel=1e-12)
        assert sig["neg_entropy"] == pytest.approx(-np.mean([s["entropy"] for s in steps]))
        # The gold answer's probability after the prompt: the table's log-softmax along it.
        ids = scripted_ids(rec["prompt"] + rec["answers"][0])
        n = len(scripted_ids(rec["prompt"]))
        gold = math.fsum(expected_logprobs(ids[k - 1])[ids[k]] for k in range(n, len(ids)))
        assert sig["gold"] == pytest.approx(math.exp(gold), rel=1e-5)
        assert rec["correct"] == (rec["text"].strip() == rec["answers"][0].strip())


def test_figures_count_the_items(run: tuple[dict[str, Any], Path]) -> None:
    doc, _ = run
    assert doc["schema"] == "tokenprobe/calibration@1"
    r = doc["runs"][0]
    assert not r["failed"] and len(r["items"]) == len(ITEMS)
    opens = [x for x in r["items"] if x["kind"] == "open"]
    s = r["signals"]["total_logprob"]
    assert s["n"] == 4 and s["accuracy"] == pytest.approx(np.mean([x["correct"] for x in opens]))
    assert sum(b["count"] for b in s["ece_width"]["bins"]) == 4
    assert s["ece_width"]["n_bins"] == 10
    assert "ece_width" not in r["signals"]["neg_entropy"]  # a ranking score only
    json.dumps(doc, allow_nan=False)


def test_resume_asks_only_for_what_is_missing(run: tuple[dict[str, Any], Path],
                                              tmp_path: Path) -> None:
    doc, work = run
    lines = work.read_text(encoding="utf-8").split("\n")[:-1]
    copy = tmp_path / "work.jsonl"
    # Two lines kept out, and the last one cut short as a killed run leaves it.
    copy.write_text("\n".join(lines[:-3]) + "\n" + lines[-3][:40], encoding="utf-8")
    asked: list[str] = []
    again = calibrate(ITEMS, copy, models=[SPEC], settings=SETTINGS, data="test",
                      progress=lambda item, error: asked.append(item.id))
    assert sorted(asked) == sorted(json.loads(x)["source"]["batch_id"] for x in lines[-3:])
    a = {k: v.get("ece_width", {}).get("value") for k, v in doc["runs"][0]["signals"].items()}
    b = {k: v.get("ece_width", {}).get("value") for k, v in again["runs"][0]["signals"].items()}
    assert a == b


def test_temperatures_share_the_scoring(tmp_path: Path) -> None:
    items = [LabelledItem("c", "Is 7 even or odd? 7 is", options=[" even", " odd"],
                          answer_index=1)]
    asked: list[str] = []
    doc = calibrate(items, tmp_path / "w.jsonl", temperatures=[0.5, 2.0], settings=SETTINGS,
                    models=[SPEC], progress=lambda item, error: asked.append(item.id))
    assert len(asked) == 2  # two options, scored once for both temperatures
    p05, p2 = (r["items"][0]["outcome"]["total"]["probabilities"] for r in doc["runs"])
    totals = np.array(doc["runs"][0]["items"][0]["outcome"]["total"]["scores"])
    for t, got in ((0.5, p05), (2.0, p2)):
        z = np.exp((totals - totals.max()) / t)
        np.testing.assert_allclose(got, z / z.sum(), atol=1e-12)


def test_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "set.jsonl"
    data.write_text("\n".join(json.dumps(i.to_dict()) for i in ITEMS[:2] + ITEMS[-2:]) + "\n",
                    encoding="utf-8")
    page = tmp_path / "c.html"
    r = invoke(["calibrate", str(data), "-w", str(tmp_path / "w.jsonl"), "--max-tokens", "6",
                "--resamples", "50", "--html", str(page), "-o", str(tmp_path / "c.json"),
                "-m", SPEC], tmp_path, monkeypatch)
    assert r.code == 0, r.stderr
    assert "AUROC" in r.stdout and "reliability of" in r.stdout and "saved as" in r.stderr
    assert json.loads((tmp_path / "c.json").read_text())["n_items"] == 4
    assert page.exists()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "x", "answer": 1}\n', encoding="utf-8")
    r = invoke(["calibrate", str(bad)], tmp_path, monkeypatch)
    assert r.code == 2 and r.stderr.count("\n") == 1 and "line 1" in r.stderr
    r = run_cli(["calibrate"])  # in a process of its own: the real stderr
    assert r.code == 2 and "--demo" in r.stderr
    # What a server's numbers are is declared as on every other command.
    r = invoke(["calibrate", "--demo", "-m", "openai:m", "--base-url", "http://127.0.0.1:9/v1",
                "--logprobs-kind", "probs", "--no-save"], tmp_path, monkeypatch)
    assert r.code == 2 and "--logprobs-kind must be" in r.stderr


def test_html_page_lists_a_bins_items_and_escapes_them(run: tuple[dict[str, Any], Path],
                                                       tmp_path: Path) -> None:
    from tests.views.browser import shared_browser

    from tokenprobe.views.html import render_calibration

    doc = json.loads(json.dumps(run[0]))
    for rec in doc["runs"][0]["items"]:
        rec["prompt"] = "<script>window.pwned=1</script>" + rec["prompt"]
    page_file = tmp_path / "c.html"
    page_file.write_text(render_calibration(doc), encoding="utf-8")
    signal = doc["runs"][0]["signals"]["total"]
    filled = next(i for i, b in enumerate(signal["ece_width"]["bins"]) if b["count"])
    # The session's one browser: a second Playwright beside it would find its event loop.
    page = shared_browser().new_page()
    try:
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_file.as_uri())
        page.wait_for_selector("html[data-tp-ready]", timeout=10000)
        page.click(f".cal-bin[data-bin='{filled}']")
        assert page.locator(".cal-item").count() == signal["ece_width"]["bins"][filled]["count"]
        page.locator(".cal-item").first.click()
        assert page.locator(".cal-viewer .tp-tok, .cal-viewer [data-step]").count() > 0 or \
            page.locator(".cal-viewer .ops-choice-text").count() == 2
        assert "<script>" in page.locator(".cal-viewer .ops-prompt-text").inner_text()
        assert page.evaluate("window.pwned === undefined") and not errors
    finally:
        page.close()


def test_calibrate_runs_where_an_event_loop_is_already_running(scripted_model: Backend,
                                                               tmp_path: Path) -> None:
    # A notebook cell (and Playwright's synchronous API) runs inside an event loop, where
    # asyncio.run refuses to start: the batch then runs on a loop in its own thread.
    from tests.helpers import run_async

    from tokenprobe.api import build_request
    from tokenprobe.ops.batch import Item, run_batch_sync

    items = [Item("a", build_request("1 + 1 =", max_tokens=2, temperature=0.0))]

    async def in_a_loop() -> int:
        return run_batch_sync(scripted_model, items, tmp_path / "o.jsonl", 1).done

    assert run_async(in_a_loop()) == 1
