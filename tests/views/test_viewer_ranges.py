"""The viewer's numbers at another temperature where the data only bound them, in a real
browser (Chromium through Playwright).

A response imported from a server lists only each step's top-N: at another temperature
every value is then a range (distribution.tail_sum_bounds). What the page shows is compared
with the library (Trace.at_temperature) and with whole distributions built in numpy that
agree with the data: the two extreme ways of spreading the unlisted mass attain the bounds,
so they check them independently of the code that computes them. A local trace, with its
tail sums, keeps point values.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.views.bounds import CLOUD, ENDASH, imported, rng, shown
from tests.views.jsfmt import pct
from tests.views.test_viewer import GEN, clean, hover, set_temperature, stats
from tests.views.traces import local_trace


def reweighted(p_listed: np.ndarray, p_rest: np.ndarray, beta: float) -> np.ndarray:
    """The listed tokens' probabilities at T = 1/beta in a whole distribution, in numpy."""
    w = np.concatenate([p_listed, p_rest]) ** beta
    return (w / w.sum())[: len(p_listed)]


def spreads(p_listed: np.ndarray, vocab: int | None) -> dict[str, np.ndarray]:
    """The unlisted mass spread as few tokens as the cap allows, and (V known) evenly."""
    mass, cap = 1.0 - p_listed.sum(), p_listed.min()
    full = math.floor(mass / cap)
    out = {"concentrated": np.array([cap] * full + [mass - full * cap])}
    if vocab is not None:
        k = vocab - len(p_listed)
        out["even"] = np.full(k, mass / k)
    return out


def test_half_temperature_on_a_server_answer_gives_ranges(open_trace: Any,
                                                          artifacts: Path) -> None:
    t = imported()
    o = open_trace([t], title="A chat answer imported from OpenAI")
    page = o.page
    set_temperature(page, 0.5)
    hover(page, CLOUD)
    view = t.at_temperature(0.5)[CLOUD]
    got = shown(page)
    assert [r["token"] for r in got] == ["曇", "晴", "雨", "とても"]
    for r, c in zip(got, view.candidates, strict=True):
        assert float(r["low"]) == pytest.approx(c.low, rel=1e-12)
        assert float(r["high"]) == pytest.approx(c.high, rel=1e-12)
        assert r["p"] == "" and r["pct"] == rng(c.low, c.high) and ENDASH in r["pct"]
    # Independently: the listed probabilities in whole distributions that agree with the
    # data. At T = 0.5 (β = 2) the unlisted mass packed into as few tokens as possible
    # gives the low ends; with V unknown, mass spread ever thinner gives the high ends.
    p = np.array([math.exp(c.logprob) for c in t.steps[CLOUD].top])  # type: ignore[arg-type]
    low = reweighted(p, spreads(p, None)["concentrated"], 2.0)
    high = p**2 / (p**2).sum()
    assert [float(r["low"]) for r in got] == pytest.approx(low, rel=1e-9)
    assert [float(r["high"]) for r in got] == pytest.approx(high, rel=1e-9)
    # The old reading treated the unlisted 53.7 % as one token: "tail 83.0 %", impossible
    # when no unlisted token is likelier than とても (5.5 %).
    popover = page.text_content(".tp-pop")
    assert "83.0" not in popover and "approximate over the top" not in popover
    acc = page.text_content(".tp-pop .tp-acc")
    assert acc == f"{view.note}; tail {rng(view.tail_low, view.tail_high)}"
    assert view.tail_high is not None and view.tail_high < 0.35
    cloud = view.candidates[0]
    assert stats(page)["probability at T 0.50"] == rng(cloud.low, cloud.high)
    note = page.text_content(".tp-tnote")
    assert "range" in note and "vocabulary size unknown" in note
    page.click(f"{GEN} >> nth={CLOUD}")
    page.screenshot(path=str(artifacts / "viewer-bounded-t050.png"))
    clean(o)


def test_a_known_vocabulary_closes_the_other_end(open_trace: Any) -> None:
    t = imported()
    t.vocab_size = 1000
    o = open_trace([t])
    set_temperature(o.page, 1.5)
    p = np.array([math.exp(c.logprob) for c in t.steps[CLOUD].top])  # type: ignore[arg-type]
    view = t.at_temperature(1.5)[CLOUD]
    hover(o.page, CLOUD)
    got = shown(o.page)
    # At T = 1.5 (β < 1) the even spread over the V − N unlisted tokens gives the low ends
    # and the concentrated one the high ends: both are distributions that agree with the data.
    sp = spreads(p, 1000)
    assert [float(r["low"]) for r in got] == pytest.approx(reweighted(p, sp["even"], 1 / 1.5),
                                                           rel=1e-9)
    assert [float(r["high"]) for r in got] == pytest.approx(
        reweighted(p, sp["concentrated"], 1 / 1.5), rel=1e-9)
    for r, c in zip(got, view.candidates, strict=True):
        assert float(r["low"]) == pytest.approx(c.low, rel=1e-12) and c.low > 0
    assert "vocabulary size unknown" not in o.page.text_content(".tp-pop .tp-acc")
    assert "vocabulary of 1000 tokens" in o.page.text_content(".tp-tnote")
    clean(o)


def test_colours_at_another_temperature_only_claim_what_the_range_allows(
        open_trace: Any) -> None:
    t = imported()
    o = open_trace([t])
    page = o.page
    before = page.eval_on_selector_all(GEN, "cs => cs.map(c => c.className)")
    assert not any(" pu " in f" {c} " for c in before)
    set_temperature(page, 0.5)
    classes = page.eval_on_selector_all(GEN, "cs => cs.map(c => c.className.split(' '))")
    views = t.at_temperature(0.5)
    for cls, step, view in zip(classes, t.steps, views, strict=True):
        c = next(x for x in view.candidates if x.candidate.token == step.token)

        def band(q: float) -> int:
            return 0 if q >= 0.9 else 1 if q >= 0.6 else 2 if q >= 0.3 else 3 if q >= 0.1 else 4

        want = f"p{band(c.low)}" if band(c.low) == band(c.high) else "pu"
        assert want in cls, (step.token, c.low, c.high, cls)
    assert "pu" in classes[CLOUD]
    assert "range at T spans bands" in page.text_content(".tp-legend")
    page.click(".tp-link-btn")  # back to T = 1: the recorded colours
    assert page.eval_on_selector_all(GEN, "cs => cs.map(c => c.className)") == before
    assert "range at T spans bands" not in page.text_content(".tp-legend")
    clean(o)


def test_local_trace_keeps_point_values(open_trace: Any) -> None:
    t = local_trace()
    o = open_trace([t])
    set_temperature(o.page, 0.5)
    hover(o.page, 0)
    view = t.at_temperature(0.5)[0]
    got = shown(o.page)
    for r, c in zip(got, view.candidates, strict=True):
        assert c.prob is not None
        assert float(r["p"]) == pytest.approx(c.prob, abs=1e-9)
        assert r["pct"] == pct(c.prob) and ENDASH not in r["pct"]
    assert o.page.text_content(".tp-pop .tp-acc") == \
        f"exact over the whole vocabulary; tail {pct(view.tail_low)}"  # type: ignore[arg-type]
    clean(o)

