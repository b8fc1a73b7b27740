"""The figures the viewer's summary names, in a real browser (Chromium through Playwright):
the geometric and arithmetic means of the per-token probability and the whole answer's
probability, checked against numpy (and written with Decimal where a float underflows),
and a scored text's first token, a control token or one without context, named as such.
"""

from __future__ import annotations

from decimal import Decimal, getcontext
from typing import Any

import numpy as np
import pytest
from tests.views.bounds import imported
from tests.views.jsfmt import pct
from tests.views.test_viewer import clean, hover, stats
from tests.views.traces import local_trace

from tokenprobe.metrics import summarize
from tokenprobe.trace import Candidate, Request, Step, Trace


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

