"""The operations in the page encoding: what encode_ops.py writes, against the library's own
objects (the pages draw these numbers and recompute none of them), and where a branch tree
lets the reader switch branches."""

from __future__ import annotations

import io
import json
import math
import re
from typing import Any

import pytest
from rich.console import Console

from tokenprobe.ops.choose import Choice
from tokenprobe.ops.compare import METRICS, Comparison
from tokenprobe.ops.sweep import Sweep
from tokenprobe.trace import Request, Step, Trace
from tokenprobe.views.encode import encode_page
from tokenprobe.views.encode_ops import encode_choice, encode_comparison, encode_sweep, encode_tree
from tokenprobe.views.html import (
    render_choice,
    render_comparison,
    render_document,
    render_html,
    render_sweep,
)
from tokenprobe.views.ops_terminal import comparison_view


def _data(page: str) -> dict[str, Any]:
    m = re.search(r'<script type="application/json" id="tp-data">(.*?)</script>', page, re.S)
    assert m is not None
    return json.loads(m.group(1))  # type: ignore[no-any-return]


def test_comparison_carries_the_library_figures(fixed_comparison: Comparison) -> None:
    c = fixed_comparison
    page = encode_comparison(c)
    enc = page["comparison"]
    assert enc["answer"] == c.answer and enc["samples"] == 1 and enc["metrics"] == list(METRICS)
    flat = [t for v in c.variants for t in v.traces]
    assert [t["id"] for t in page["traces"]] == [t.id for t in flat]
    for v, e in zip(c.variants, enc["variants"]):
        assert e["label"] == v.label and e["settings"] == v.settings
        assert [page["traces"][k]["id"] for k in e["traces"]] == [t.id for t in v.traces]
        stats = v.stats()
        assert e["stats"] == {k: None if stats[k] is None else list(stats[k]) for k in METRICS}  # type: ignore[arg-type]
        # Full precision: the page's a - b is token_deltas' a - b.
        assert e["answer_lp"] == [s.logprob for s in v.traces[0].steps]
    for base in range(len(c.variants)):
        want = c.token_deltas(base)
        got = [[None if a is None or b is None else a - b
                for a, b in zip(v["answer_lp"], enc["variants"][base]["answer_lp"])]
               for v in enc["variants"]]
        assert got == want
    # The answer's tokens are forced, and the page says so per step.
    assert page["traces"][0]["steps"]["forced"] == [1] * len(c.variants[0].traces[0].steps)
    # Through JSON (the page's embedding) the floats come back the same.
    assert _data(render_comparison(c))["comparison"] == json.loads(json.dumps(enc))


def test_a_comparison_split_into_other_tokens_pairs_none_of_them(
        split_comparison: Comparison) -> None:
    c = split_comparison
    assert c.variants[1].traces[0].text == c.variants[0].traces[0].text == c.answer
    assert len(c.variants[1].traces[0].steps) == len(c.variants[0].traces[0].steps) - 1
    enc = encode_comparison(c)["comparison"]
    assert [v["answer_group"] for v in enc["variants"]] == c.token_groups() == [0, 1, 0]
    assert c.token_deltas(0)[1] is None and c.token_deltas(1) == [
        None, [0.0] * len(c.variants[1].traces[0].steps), None]
    # The terminal table leaves the other split's cells empty and says why.
    console = Console(width=160, file=io.StringIO(), color_system=None)
    console.print(comparison_view(c))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    n = len(c.variants[1].traces[0].steps)
    assert f"B ({n} tokens): the answer split into other tokens than A's" in text
    table = text.split("Δ logprob vs A")[1]
    rows = [line.split("│") for line in table.splitlines() if line.startswith("│ ")]
    assert len(rows) == len(c.variants[0].traces[0].steps)
    assert all(r[3].strip() == "—" and r[2].strip() != "—" for r in rows)


def test_generated_comparison_has_no_answer_logprobs(sampled_comparison: Comparison) -> None:
    enc = encode_comparison(sampled_comparison)["comparison"]
    assert enc["samples"] == 3
    assert all("answer_lp" not in v and len(v["traces"]) == 3 for v in enc["variants"])
    assert "forced" not in encode_comparison(sampled_comparison)["traces"][0]["steps"]


def test_choice_carries_the_library_figures(choice: Choice) -> None:
    page = encode_choice(choice)
    enc = page["choice"]
    assert enc["prompt"] == choice.prompt and enc["model"] == choice.model
    for o, e in zip(choice.options, enc["options"]):
        assert (e["option"], e["probability"], e["total_logprob"], e["n_tokens"]) == \
            (o.option, o.probability, o.total_logprob, o.n_tokens)
        assert page["traces"][e["trace"]]["id"] == o.trace.id
    # A saved choice gives the same page as the live one.
    again = Choice.from_dict(json.loads(json.dumps(choice.to_dict())))
    assert render_choice(again) == render_choice(choice)
    assert render_document("choice", choice.to_dict(), []) == render_choice(choice)


def test_sweep_carries_the_library_figures(temperature_sweep: Sweep) -> None:
    sw = temperature_sweep
    page = encode_sweep(sw)
    enc = page["sweep"]
    assert page["traces"][enc["base"]]["id"] == sw.base.id
    for col, e in zip(sw.columns, enc["columns"]):
        assert e["temperature"] == col.temperature
        assert page["traces"][e["sample"]]["id"] == col.sample.id
        assert e["entropies"] == col.entropies
        for view, st in zip(col.views, e["steps"]):
            if view is None:
                assert st is None and col.temperature == 0
            else:
                # The local engine's tail summary: every value a point.
                assert st == {"p": [c.prob for c in view.candidates],
                              "low": [c.low for c in view.candidates],
                              "high": [c.high for c in view.candidates],
                              "tail": view.tail_low, "tail_low": view.tail_low,
                              "tail_high": view.tail_high, "accuracy": view.accuracy,
                              "vocab_known": True, "note": view.note}
                assert None not in st["p"] and st["tail"] is not None
        # Where the sample still reads like the greedy text, the token it drew is named.
        for k, d in enumerate(e["drawn"]):
            same = all(a.data == b.data for a, b in zip(sw.base.steps[:k], col.sample.steps[:k]))
            if not same or k >= len(col.sample.steps):
                assert d is None
            elif d >= 0:
                assert sw.base.steps[k].top[d].data == col.sample.steps[k].data
            else:
                assert all(c.data != col.sample.steps[k].data for c in sw.base.steps[k].top)
    greedy = enc["columns"][0]
    assert greedy["temperature"] == 0 and all(d is not None for d in greedy["drawn"])
    assert _data(render_sweep(sw))["sweep"] == json.loads(json.dumps(enc))


def _server_sweep(vocab_size: int | None) -> Sweep:
    """A sweep as a server gives it: top-3 lists without a tail summary."""
    from tokenprobe.distribution import step_at_temperature
    from tokenprobe.ops.sweep import SweepColumn
    from tokenprobe.trace import Candidate

    top = [Candidate(" blue", math.log(0.5), 1), Candidate(" grey", math.log(0.2), 2),
           Candidate(" red", math.log(0.1), 3)]
    base = Trace(backend="openai", model="m", request=Request(prompt="The sky is"),
                 steps=[Step(" blue", math.log(0.5), 1, top=top)], vocab_size=vocab_size)
    base.rebuild_text()
    cols = [SweepColumn(t, [None] if t == 0 else [step_at_temperature(
        base.steps[0], t, None, vocab_size)], [None], base) for t in (0.0, 0.5, 1.0, 1.5)]
    return Sweep("The sky is", base, cols)


def test_sweep_from_a_top_n_list_carries_ranges() -> None:
    for vocab in (None, 1000):
        sw = _server_sweep(vocab)
        enc = json.loads(json.dumps(encode_sweep(sw)["sweep"], allow_nan=False))
        zero, cold, one, hot = (c["steps"][0] for c in enc["columns"])
        assert zero is None
        for st in (cold, hot):
            assert st["accuracy"] == "bounded" and st["p"] == [None] * 3
            assert st["tail"] is None and st["tail_low"] < st["tail_high"]
            assert all(lo < hi for lo, hi in zip(st["low"], st["high"]))
            assert st["vocab_known"] == (vocab is not None)
            assert "only the top 3 were reported" in st["note"]
        # T = 1: the reported values, as points.
        assert one["p"] == [pytest.approx(0.5), pytest.approx(0.2), pytest.approx(0.1)]
        assert one["low"] == one["high"] == one["p"] and one["tail"] == pytest.approx(0.2)
        assert one["note"] == "as reported (T = 1)"
        # Sharpened, the top token can only gain on its raw 50 %.
        assert cold["low"][0] >= 0.5
        assert _data(render_sweep(sw))["sweep"] == enc


def test_sweep_table_shows_ranges_and_why() -> None:
    from tokenprobe.views.ops_terminal import sweep_view

    out = io.StringIO()
    Console(file=out, width=160, color_system=None).print(sweep_view(_server_sweep(None)))
    text = out.getvalue()
    assert re.search(r"blue \d+\.\d–\d+\.\d%", text), text
    assert "blue 50.0%" in text  # T = 1: the reported value
    assert "ranges: only the top 3 were reported" in text
    assert "vocabulary size unknown" in text


def _trace(words: list[str], parent: Trace | None = None, at: int | None = None,
           prompt: str = "p") -> Trace:
    t = Trace(backend="llama", model="m", request=Request(prompt=prompt),
              steps=[Step(token=w, logprob=-0.5, forced=parent is not None and i == at)
                     for i, w in enumerate(words)], created="2026-11-22T13:00:00Z")
    if parent is not None:
        t.parent = {"id": parent.id, "step": at, "token": words[at]}  # type: ignore[index]
    t.rebuild_text()
    return t


def test_tree_forks_are_where_the_texts_part() -> None:
    root = _trace(["a", "b", "c", "d", "e"])
    b1 = _trace(["a", "X", "y", "z", "w"], root, 1)
    b2 = _trace(["a", "Q", "r"], root, 1)
    b3 = _trace(["a", "X", "y", "K", "m"], b1, 3)
    b4 = _trace(["a", "b", "c", "d", "e", "f"], root, 3)  # forced the same token: a prefix
    lone = _trace(["a", "Z"])  # another tree that happens to share a prefix
    tree = encode_tree([root, b1, b2, b3, b4, lone])
    assert tree is not None
    assert tree["nodes"][1] == {"parent": 0, "step": 1, "token": "X"}
    assert tree["nodes"][0] == {"parent": None, "step": None, "token": None}
    assert tree["nodes"][5]["parent"] is None
    forks = tree["forks"]
    # The root can switch at step 1 to each branch made there; b3 stands behind b1's "X".
    assert forks[0] == [{"step": 1, "options": [0, 1, 2]}]
    # b3 reads like b1 up to step 3, like the root up to step 1.
    assert forks[3] == [{"step": 1, "options": [3, 0, 2]}, {"step": 3, "options": [3, 1]}]
    assert forks[1] == [{"step": 1, "options": [1, 0, 2]}, {"step": 3, "options": [1, 3]}]
    # A text that is another's beginning has nothing to switch to; another tree is not
    # compared at all.
    assert forks[4] == [{"step": 1, "options": [4, 1, 2]}]
    assert forks[5] == []


def test_pages_of_unlinked_traces_have_no_tree() -> None:
    a, b = _trace(["a", "b"]), _trace(["a", "c"])
    assert "tree" not in encode_page([a, b])
    c = _trace(["a", "d"], a, 1)
    page = _data(render_html([a, b, c]))
    assert page["tree"]["forks"][0] == [{"step": 1, "options": [0, 2]}]
    assert page["traces"][2]["steps"]["forced"] == [0, 1]
    assert page["traces"][2]["parent"] == {"id": a.id, "step": 1, "token": "d"}
