"""compare, choose and calibrate on a reasoning model's answers: their figures are the
answer's (the thinking in none of them), and each says so beside them, with the thinking's
own figures, in its document, the terminal, the pages and the web app's payload. Checked
against numpy over the steps of recorded answers (tests/fixtures/reasoning)."""

from __future__ import annotations

import copy
import io
import math
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from tests.reasoning.helpers import fixture_docs, live_read
from tests.views.browser import ARTIFACTS, shared_browser

from tokenprobe.calibration.data import LabelledItem
from tokenprobe.ops.calibrate import Run, Settings, _choice_record, _open_record
from tokenprobe.ops.choose import choice_from_traces
from tokenprobe.ops.compare import Comparison, Variant
from tokenprobe.trace import Trace
from tokenprobe.views.html import render_choice, render_comparison
from tokenprobe.views.ops_terminal import choice_view, comparison_view
from tokenprobe.web.payloads import choice_payload, comparison_payload


def _thinking_trace() -> Trace:
    trace = live_read(fixture_docs("vllm_chat_whole.json"), stream=False)
    assert trace.reasoning is not None and trace.reasoning.steps
    return trace


def _plain(trace: Trace) -> Trace:
    out = copy.deepcopy(trace)
    out.reasoning = None
    return out


def _lps(steps: list) -> np.ndarray:  # type: ignore[type-arg]
    return np.array([s.logprob for s in steps], dtype=np.float64)


def _render(obj: object) -> str:
    buf = io.StringIO()
    Console(file=buf, width=220, color_system=None).print(obj)
    return buf.getvalue()


@pytest.fixture(scope="module")
def thinking() -> Trace:
    return _thinking_trace()


def test_compare_figures_are_the_answers_and_say_so(thinking: Trace) -> None:
    other = copy.deepcopy(thinking)
    other.steps[0].logprob = (other.steps[0].logprob or 0.0) - 1.0  # another sample
    c = Comparison([Variant("A", {}, [thinking, other]), Variant("B", {}, [_plain(thinking)])],
                   samples=2)
    answer = [_lps(thinking.steps), _lps(other.steps)]
    geo = [math.exp(a.mean()) for a in answer]
    st = c.variants[0].stats()
    assert st["geometric_mean_prob"] == pytest.approx((np.mean(geo), np.std(geo, ddof=1)))
    assert st["tokens"] == (len(thinking.steps), 0.0)
    assert c.to_dict()["part"] == "answer"
    t = _lps(thinking.reasoning.steps)  # type: ignore[union-attr]
    note = c.variants[0].thinking_note()
    assert note is not None and note.startswith("answer only (the thinking, mean over 2")
    assert f"{len(t):.1f} tokens" in note
    assert f"geometric mean {100 * math.exp(t.mean()):.1f}%" in note
    assert f"arithmetic mean {100 * np.exp(t).mean():.1f}%" in note
    assert c.variants[1].thinking_note() is None  # no thinking: nothing to say
    out = _render(comparison_view(c))
    assert "A: answer only (the thinking" in out and "B: answer only" not in out
    payload = comparison_payload(c)
    assert payload["part"] == "answer"
    assert payload["variants"][0]["thinking"] == note and payload["variants"][1]["thinking"] is None


def test_choose_totals_are_the_answers_and_say_so(thinking: Trace) -> None:
    plain = _plain(thinking)
    plain.steps = plain.steps[:2]
    ch = choice_from_traces("q", ["x", "y"], [thinking, plain], "m")
    assert ch.options[0].total_logprob == pytest.approx(_lps(thinking.steps).sum(), abs=1e-12)
    t = _lps(thinking.reasoning.steps)  # type: ignore[union-attr]
    note = ch.options[0].thinking_note
    assert note == (f"answer only (the thinking: {len(t)} tokens, per-token probability: "
                    f"geometric mean {100 * math.exp(t.mean()):.1f}%, arithmetic mean "
                    f"{100 * np.exp(t).mean():.1f}%, mean entropy "
                    f"{np.mean([s.entropy for s in thinking.reasoning.steps]):.2f} nats"  # type: ignore[union-attr]
                    + ("" if all(s.entropy_exact for s in thinking.reasoning.steps)  # type: ignore[union-attr]
                       else " (a lower bound, top-N only)") + ")")
    assert ch.options[1].thinking_note is None
    assert ch.to_dict()["part"] == "answer"
    assert "'x': answer only (the thinking" in _render(choice_view(ch))
    assert choice_payload(ch)["options"][0]["thinking"] == note


def test_thinking_without_logprobs_is_named_by_its_length(thinking: Trace) -> None:
    t = copy.deepcopy(thinking)
    t.reasoning.steps = []  # type: ignore[union-attr]
    note = Variant("A", {}, [t]).thinking_note()
    assert note == (f"answer only (the thinking: {len(t.reasoning.text)} characters, "  # type: ignore[union-attr]
                    "no logprobs reported by the server)")


def test_calibrate_signals_are_over_the_answer(thinking: Trace) -> None:
    item = LabelledItem(id="i1", prompt="q", answers=[thinking.text])
    record = _open_record(item, thinking.to_dict(), [], Settings())
    a = _lps(thinking.steps)
    assert record["signals"]["mean_logprob"]["confidence"] == pytest.approx(
        math.exp(a.mean()), rel=1e-12)
    assert record["signals"]["first_token"]["confidence"] == pytest.approx(math.exp(a[0]))
    assert record["text"] == thinking.text and record["correct"]
    t = _lps(thinking.reasoning.steps)  # type: ignore[union-attr]
    th = record["thinking"]
    assert th["tokens"][0] == len(t) and th["traces"] == 1 and th["with_logprobs"] == 1
    assert th["geometric_mean_prob"][0] == pytest.approx(math.exp(t.mean()), rel=1e-12)
    assert th["note"].startswith("answer only (the thinking:")
    plain = _open_record(item, _plain(thinking).to_dict(), [], Settings())
    assert "thinking" not in plain
    choice_item = LabelledItem(id="i2", prompt="q", options=["x", "y"], answer_index=0)
    rec = _choice_record(choice_item, [thinking.to_dict(), _plain(thinking).to_dict()],
                         Run(None, None, 1.0), "m")
    assert rec["thinking"]["traces"] == 1


def test_pages_print_the_note(tmp_path: Path, thinking: Trace) -> None:
    c = Comparison([Variant("A", {}, [thinking]), Variant("B", {}, [_plain(thinking)])])
    ch = choice_from_traces("q", ["x", "y"], [thinking, _plain(thinking)], "m")
    ctx = shared_browser().new_context(viewport={"width": 1200, "height": 800})
    try:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        for name, html, count in (("compare", render_comparison(c), 2),
                                  ("choice", render_choice(ch), 2)):
            path = tmp_path / f"{name}.html"
            path.write_text(html, "utf-8")
            page.goto(path.as_uri())
            page.wait_for_selector("html[data-tp-ready]")
            notes = page.locator(".ops-part")
            # compare: the metrics card and A's column; choice: the row and the detail
            assert notes.count() == count, name
            note = (c.variants[0].thinking_note() if name == "compare"
                    else ch.options[0].thinking_note)
            assert note is not None and note in notes.nth(0).inner_text()
            if name == "compare":
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "reasoning-compare.png"), full_page=True)
        assert errors == []
    finally:
        ctx.close()
