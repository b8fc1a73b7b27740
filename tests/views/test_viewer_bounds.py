"""The viewer's numbers where the data only bound them, the figures it names, and the
distribution its step view opens on, in a real browser (Chromium through Playwright).

A response imported from a server lists only each step's top-N: at another temperature
every value is then a range (distribution.tail_sum_bounds). What the page shows is compared
with the library (Trace.at_temperature, metrics.summarize) and with whole distributions
built in numpy that agree with the data: the two extreme ways of spreading the unlisted
mass attain the bounds, so they check them independently of the code that computes them.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, getcontext
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.views.jsfmt import pct
from tests.views.test_viewer import GEN, clean, hover, set_temperature, stats
from tests.views.traces import local_trace

from tokenprobe.formats import parse_document
from tokenprobe.metrics import summarize
from tokenprobe.trace import Candidate, Request, Step, Trace

# An answer as OpenAI's chat completions return it with top_logprobs=4; the third token is
# the 曇 step (曇 15.5 %, 晴 14.4 %, 雨 10.9 %, とても 5.5 %: 46.3 % listed, 53.7 % not).
WORDS: list[tuple[str, list[tuple[str, float]]]] = [
    ("明日", [("明日", -0.4943), ("今日", -1.2040), ("午後", -2.9957), ("週末", -3.5066)]),
    ("は", [("は", -0.1054), ("の", -2.6593), ("も", -3.2189), ("、", -4.1997)]),
    ("曇", [("曇", -1.8643), ("晴", -1.9379), ("雨", -2.2164), ("とても", -2.9004)]),
    ("り", [("り", -0.2231), ("って", -2.3026), ("で", -3.5066), ("ると", -4.6052)]),
    ("です", [("です", -0.3567), ("でしょう", -1.6094), ("。", -2.9957), ("だ", -3.9120)]),
]
CLOUD = 2  # the 曇 step
ENDASH = "\u2013"


def chat_doc() -> dict[str, Any]:
    content = [{"token": w, "logprob": top[0][1], "bytes": list(w.encode()),
                "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode())}
                                 for t, lp in top]} for w, top in WORDS]
    return {"id": "chatcmpl-bounds", "object": "chat.completion", "created": 1702685778,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant",
                                     "content": "".join(w for w, _ in WORDS)},
                         "logprobs": {"content": content}}]}


def imported() -> Trace:
    t = parse_document(chat_doc())[0]
    assert t.steps[CLOUD].tail_logsumexp is None and t.vocab_size is None
    return t


def rng(lo: float, hi: float) -> str:
    """The page's range format: "62.0–71.3%", a point where the ends print the same."""
    a, b = pct(lo), pct(hi)
    if a == b:
        return a
    plain = re.compile(r"^[0-9.]+%$")
    return a[:-1] + ENDASH + b if plain.match(a) and plain.match(b) else f"{a} {ENDASH} {b}"


def shown(page: Any, scope: str = ".tp-pop") -> list[dict[str, str]]:
    return page.eval_on_selector_all(f"{scope} .tp-bars .tp-bar-row", """rs => rs.map(r => ({
        token: r.dataset.token, low: r.dataset.low, high: r.dataset.high, p: r.dataset.p,
        pct: r.querySelector('.tp-bar-pct').textContent}))""")


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


# ---------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------- summary figures


def test_summary_names_the_means_and_the_whole_answer(open_trace: Any) -> None:
    for t in (local_trace(), imported()):
        s = summarize(t)
        lps = np.array([x.logprob for x in t.steps if x.logprob is not None])
        geo, arith = float(np.exp(lps.mean())), float(np.exp(lps).mean())
        assert s.geometric_mean_prob == pytest.approx(geo) and \
            s.arithmetic_mean_prob == pytest.approx(arith)
        o = open_trace([t])
        m = stats(o.page, ".tp-summary")
        assert m["per-token probability"] == \
            f"geometric mean {pct(geo)}, arithmetic mean {pct(arith)}"
        whole = float(np.exp(lps.sum()))
        assert m["probability of the whole answer"] == (
            pct(whole) if whole >= 0.001 else sci(lps.sum()))
        assert "mean probability" not in m
        assert m["perplexity"] == f"{1 / geo:.2f}"
        clean(o)


def sci(total: float) -> str:
    """exp(total) in scientific notation with Decimal arithmetic (no float underflow)."""
    getcontext().prec = 40
    x = Decimal(total).exp()
    m, e = f"{x:.1e}".split("e")
    return f"{m}e{int(e)}"


def test_the_whole_answer_is_written_even_where_a_float_underflows(open_trace: Any) -> None:
    steps = [Step(" word", -0.6931, 7, top=[Candidate(" word", -0.6931, 7),
                                             Candidate(" other", -0.9163, 8)])
             for _ in range(1200)]
    t = Trace(backend="import", model="long", request=Request(prompt="Say it"), steps=steps,
              finish_reason="length", created="2026-11-22T13:00:00Z")
    t.rebuild_text()
    s = summarize(t)
    assert s.sequence_prob == 0.0 and s.total_logprob is not None  # underflowed in Python
    o = open_trace([t])
    m = stats(o.page, ".tp-summary")
    assert m["probability of the whole answer"] == sci(s.total_logprob) == "6.1e-362"
    clean(o)


def test_scored_text_counts_no_control_token_and_names_the_first(open_trace: Any) -> None:
    words = ["The", " cat", " sat"]
    steps = [Step("<bos>", None, 2, bytes=b"", special=True),
             Step(words[0], None, 10, top=[]),
             *[Step(w, -1.5 - k, 11 + k, top=[Candidate(w, -1.5 - k, 11 + k)])
               for k, w in enumerate(words[1:])]]
    t = Trace(backend="import", model="m", request=Request(mode="score", prompt="The cat sat"),
              prompt_steps=steps, created="2026-11-22T13:00:00Z")
    o = open_trace([t])
    m = stats(o.page, ".tp-summary")
    assert m["tokens"] == str(summarize(t).tokens) == "3"
    assert "1 token without a logprob" in o.page.text_content(".tp-summary")
    hover(o.page, 0, ".tp-text-prompt .t")
    assert stats(o.page)["probability"] == "none: a control token the engine added"
    clean(o)


def test_a_first_token_without_context_says_so(open_trace: Any) -> None:
    words = ["Roses", " are", " red"]
    steps = [Step(words[0], None, 10, top=[]),
             *[Step(w, -1.0 - k, 11 + k, top=[Candidate(w, -1.0 - k, 11 + k)])
               for k, w in enumerate(words[1:])]]
    t = Trace(backend="import", model="m", request=Request(mode="score", prompt="Roses are red"),
              prompt_steps=steps, created="2026-11-22T13:00:00Z")
    s = summarize(t)
    assert s.no_context_first and s.missing == 0
    o = open_trace([t])
    foot = o.page.text_content(".tp-summary .tp-foot")
    assert foot.startswith("First token: no context") and "not reported" not in foot
    hover(o.page, 0, ".tp-text-prompt .t")
    assert stats(o.page)["probability"] == "first token: no context"
    clean(o)


# ------------------------------------------------------------------ the step view


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
