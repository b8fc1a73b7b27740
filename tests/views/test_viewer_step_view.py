"""The distribution the viewer's step view opens on, in a real browser (Chromium through
Playwright): the one the token was drawn from (temperature, top-k, top-p) or the raw one
(greedy, or logprobs a server already processed), checked against numpy over a whole
vocabulary and against the library (distribution.step_sampled), ranges where a server's
answer only bounds the values; and split characters shown as their glyphs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from tests.views.bounds import CLOUD, ENDASH, imported, rng, shown
from tests.views.jsfmt import pct
from tests.views.test_viewer import clean, stats
from tests.views.traces import local_trace


def full_vocab_step0() -> np.ndarray:
    """The whole made-up vocabulary of local_trace()'s first step (traces._dist)."""
    alts = [3.0, 1.6, 1.1, 0.4, 0.1, -0.5] + [-6.0 - 0.37 * k for k in range(40)]
    x = np.array(alts)
    return x - np.log(np.exp(x).sum())


def step_rows(page: Any) -> list[dict[str, str]]:
    return shown(page, ".tp-step-cands")


def test_step_view_opens_on_the_distribution_the_token_was_drawn_from(
        open_trace: Any) -> None:
    t = local_trace()  # sampled at T = 0.8
    o = open_trace([t])
    page = o.page
    page.click("text=Step by step")
    assert page.get_attribute(".tp-dist-label", "data-dist") == "sampled"
    assert "drawn from: T = 0.8" in page.text_content(".tp-dist-label")
    lps = full_vocab_step0()
    p08 = np.exp(lps / 0.8) / np.exp(lps / 0.8).sum()  # numpy over the whole vocabulary
    got = step_rows(page)
    assert [float(r["p"]) for r in got] == pytest.approx(p08[:5], abs=5e-4)
    for r, c in zip(got, t.at_temperature(0.8)[0].candidates, strict=True):
        assert float(r["p"]) == pytest.approx(c.prob, abs=1e-9)  # type: ignore[arg-type]
    chosen = stats(page, ".tp-step-chosen")
    assert chosen["probability"] == pct(p08[0]) and chosen["raw (T 1)"] == \
        pct(math.exp(t.steps[0].logprob))  # type: ignore[arg-type]
    # The raw distribution is one click away, and says so.
    page.click(".tp-dist-seg [data-dist=raw]")
    assert "Raw distribution (T = 1), before T = 0.8" in page.text_content(".tp-dist-label")
    assert [float(r["p"]) for r in step_rows(page)] == pytest.approx(np.exp(lps[:5]), abs=5e-4)
    assert stats(page, ".tp-step-chosen")["probability"] == \
        pct(math.exp(t.steps[0].logprob))  # type: ignore[arg-type]
    clean(o)


def test_processed_logprobs_are_never_processed_again(open_trace: Any) -> None:
    t = imported()
    t.logprobs_kind = "processed"
    t.request.temperature = 0.7
    o = open_trace([t])
    page = o.page
    assert page.is_disabled(".tp-slider")
    assert "Temperature off" in page.text_content(".tp-tnote")
    page.click("text=Step by step")
    page.click("text=Next \u25b6")
    page.click("text=Next \u25b6")
    label = page.text_content(".tp-dist-label")
    assert label.startswith("As the server reported them") and "nothing is applied again" in label
    got = step_rows(page)
    reported = [math.exp(c.logprob) for c in t.steps[CLOUD].top]  # type: ignore[arg-type]
    assert [float(r["p"]) for r in got] == pytest.approx(reported, rel=1e-9)
    assert [r["pct"] for r in got] == [pct(p) for p in reported]
    clean(o)


def test_a_server_answer_sampled_at_a_temperature_opens_on_its_ranges(
        open_trace: Any) -> None:
    t = imported()
    t.request.temperature = 0.7
    o = open_trace([t])
    page = o.page
    page.click("text=Step by step")
    page.click("text=Next \u25b6")
    page.click("text=Next \u25b6")
    assert "drawn from: T = 0.7" in page.text_content(".tp-dist-label")
    view = t.at_temperature(0.7)[CLOUD]
    got = step_rows(page)
    for r, c in zip(got, view.candidates, strict=True):
        assert r["pct"] == rng(c.low, c.high) and ENDASH in r["pct"]
    assert stats(page, ".tp-step-chosen")["probability"] == \
        rng(view.candidates[0].low, view.candidates[0].high)
    clean(o)


def test_greedy_generation_opens_on_the_raw_distribution(open_trace: Any) -> None:
    t = local_trace()
    t.request.temperature = 0.0
    o = open_trace([t])
    o.page.click("text=Step by step")
    assert o.page.get_attribute(".tp-dist-label", "data-dist") == "raw"
    assert "taken greedily" in o.page.text_content(".tp-dist-label")
    got = step_rows(o.page)
    assert [r["pct"] for r in got] == [pct(math.exp(c.logprob))  # type: ignore[arg-type]
                                       for c in t.steps[0].top]
    clean(o)


def test_split_characters_show_as_glyphs_in_the_step_view(open_trace: Any) -> None:
    t = local_trace()  # steps 4 and 5 are the two byte fragments of 曇 (E6 9B | 87)
    o = open_trace([t])
    page = o.page
    page.click("text=Step by step")
    for _ in range(4):
        page.click("text=Next \u25b6")
    assert page.text_content(".tp-step-counter") == "step 5 of 8"
    pending = page.locator(".tp-context .tp-ctx-bytes")
    assert pending.text_content() == "\\xe6\\x9b" and "曇" in pending.get_attribute("title")
    names = page.eval_on_selector_all(".tp-step-cands .tp-bar-label",
                                      "ls => ls.map(l => l.textContent)")
    # Each alternative byte completes E6 9B into a character of its own.
    assert names[:2] == ["\\x87 \u2192 曇", "\\x9c \u2192 曜"]
    assert "曇" in page.text_content(".tp-chosen-tok")
    page.click("text=\u25c0 Previous")
    assert "of 曇" in page.text_content(".tp-step-cands .tp-bar-row.chosen")
    assert "\ufffd" not in page.text_content(".tp-stepview")
    clean(o)


def top_p_numpy(lps: np.ndarray, temperature: float, top_p: float) -> np.ndarray:
    """Temperature, then top-p, over a whole vocabulary (sorted by logprob), in numpy."""
    p = np.exp(lps / temperature) / np.exp(lps / temperature).sum()
    before = np.concatenate([[0.0], np.cumsum(p)[:-1]])
    kept = np.where(before < top_p, p, 0.0)
    return kept / kept.sum()


@pytest.mark.parametrize("settings", [
    {"temperature": 0.8, "top_p": 0.9, "pin": True},   # Q from the sampled logprob: exact
    {"temperature": 0.8, "pin": True},                   # no truncation, Q recorded
    {"temperature": 0.8, "top_k": 3},                    # top-k inside the list: exact
    {"temperature": 1.3, "top_p": 0.6},                  # the cut falls in the list: exact
    {"temperature": 1.3, "top_p": 0.99},                 # past the list: ranges
    {"temperature": 1.3, "top_k": 20},                   # top-k past the list: ranges
])
def test_step_view_applies_top_k_and_top_p_as_the_library_does(open_trace: Any,
                                                                settings: dict[str, Any]) -> None:
    from tokenprobe.distribution import step_sampled

    t = local_trace()
    req = t.request
    req.temperature = settings["temperature"]
    req.top_p = settings.get("top_p", 1.0)
    req.top_k = settings.get("top_k", 0)
    lps = full_vocab_step0()
    truth = top_p_numpy(lps, req.temperature, req.top_p) if req.top_k == 0 else None
    if settings.get("pin"):
        assert truth is not None
        t.steps[0].sample_logprob = round(math.log(truth[0]), 4)  # as an engine records it
    view = step_sampled(t.steps[0], req.temperature, req.top_k, req.top_p,
                        t.tail_temperatures, vocab_size=t.vocab_size, logprobs_kind="raw")
    assert view is not None
    o = open_trace([t])
    page = o.page
    page.click("text=Step by step")
    assert page.get_attribute(".tp-dist-label", "data-dist") == "sampled"
    got = step_rows(page)
    for r, c in zip(got, view.candidates, strict=True):
        assert float(r["low"]) == pytest.approx(c.low, rel=1e-9, abs=1e-15)
        assert float(r["high"]) == pytest.approx(c.high, rel=1e-9, abs=1e-15)
        assert r["pct"] == rng(c.low, c.high)
    assert view.tail_low is not None and view.tail_high is not None
    assert page.text_content(".tp-step-cands .tp-acc") == \
        f"{view.note}; tail {rng(view.tail_low, view.tail_high)}"
    if settings.get("pin"):  # and independently: numpy's truncated distribution
        assert truth is not None
        assert [float(r["p"]) for r in got] == pytest.approx(truth[:5], abs=5e-4)
    clean(o)


@pytest.mark.parametrize("pinned", [False, True])
def test_a_server_answer_with_top_p_gives_the_librarys_ranges(open_trace: Any,
                                                              pinned: bool) -> None:
    from tokenprobe.distribution import step_sampled

    t = imported()
    t.request.temperature, t.request.top_p = 0.7, 0.5
    if pinned:  # a server that reports the sampled logprob (as if the listed were all kept)
        for st in t.steps:
            w = [c.logprob / 0.7 for c in st.top]  # type: ignore[operator]
            st.sample_logprob = round(st.logprob / 0.7 - math.log(  # type: ignore[operator]
                sum(math.exp(x) for x in w)), 4)
    o = open_trace([t])
    page = o.page
    page.click("text=Step by step")
    for k in range(len(t.steps)):
        if k:
            page.click("text=Next \u25b6")
        view = step_sampled(t.steps[k], 0.7, 0, 0.5, None, vocab_size=None,
                            logprobs_kind="raw")
        assert view is not None
        got = step_rows(page)
        for r, c in zip(got, view.candidates, strict=True):
            assert float(r["low"]) == pytest.approx(c.low, rel=1e-9, abs=1e-15)
            assert float(r["high"]) == pytest.approx(c.high, rel=1e-9, abs=1e-15)
        assert view.tail_low is not None and view.tail_high is not None
        assert page.text_content(".tp-step-cands .tp-acc") == \
            f"{view.note}; tail {rng(view.tail_low, view.tail_high)}"
    clean(o)

