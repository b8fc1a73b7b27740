"""The summary figures (metrics.Summary) against independent computations, and which steps
they count: control tokens the engine added are not tokens of the text, and a scored text's
first token without context is not a token whose logprob was "not reported"."""

from __future__ import annotations

import math
import statistics
from decimal import Decimal, getcontext

import numpy as np
import pytest

from tokenprobe.metrics import (
    low_confidence_spans,
    no_context_first,
    scored_steps,
    summarize,
)
from tokenprobe.trace import Candidate, Request, Step, Trace
from tokenprobe.views.terminal import sci_prob

PROBS = [0.9, 0.05, 0.6, 0.3, 0.99, 0.12, 0.75]


def _step(tok: str, p: float | None, best: str | None = None, special: bool = False,
          forced: bool = False) -> Step:
    lp = None if p is None else math.log(p)
    top: list[Candidate] = []
    if p is not None:
        top = [Candidate(tok, lp, 1), Candidate("zz", math.log(min(p, 0.01) / 2), 2)]
        if best is not None:
            top = [Candidate(best, math.log(min(1 - p, 0.999)), 3), *top]
    return Step(token=tok, id=1 if p is not None else 0, logprob=lp, top=top, entropy=1.0,
                entropy_exact=True, special=special, forced=forced,
                bytes=b"" if special else None)


def _scored(with_bos: bool, first_lp: float | None = None) -> Trace:
    """A scored text as the local engine records it: <bos> (special, no logprob) first,
    then the text's tokens; or, without <bos>, a first token that has no context."""
    words = [f"w{k}" for k in range(len(PROBS))]
    steps = [_step(w, p) for w, p in zip(words, PROBS)]
    if with_bos:
        steps = [_step("<bos>", None, special=True), *steps]
    else:
        steps = [Step(token="First", logprob=first_lp), *steps]
    return Trace(backend="llama", model="m", request=Request(mode="score", prompt="x"),
                 prompt_steps=steps)


def test_means_match_numpy_and_statistics() -> None:
    t = Trace(backend="import", model="m", steps=[_step(f"t{k}", p) for k, p in
                                                     enumerate(PROBS)])
    s = summarize(t)
    p = np.array(PROBS, dtype=np.float64)
    assert s.geometric_mean_prob == pytest.approx(statistics.geometric_mean(PROBS), rel=1e-12)
    assert s.geometric_mean_prob == pytest.approx(float(np.exp(np.log(p).mean())), rel=1e-12)
    assert s.arithmetic_mean_prob == pytest.approx(float(p.mean()), rel=1e-12)
    assert s.sequence_prob == pytest.approx(float(np.prod(p)), rel=1e-12)
    assert s.perplexity == pytest.approx(1 / statistics.geometric_mean(PROBS), rel=1e-12)
    # The two means are different statistics: on these numbers far apart.
    assert s.arithmetic_mean_prob - s.geometric_mean_prob > 0.1  # type: ignore[operator]
    assert not hasattr(s, "mean_prob")


def test_whole_answer_probability_survives_underflow() -> None:
    getcontext().prec = 30
    for total in (-1000.0, -103.61632918473207, -7.5, -20.0):
        d = Decimal(total).exp()  # independent: decimal arithmetic, no float underflow
        mant, exp = f"{d:.1e}".split("e")
        assert sci_prob(total) == f"{mant}e{int(exp)}", total
    assert math.exp(-1000.0) == 0.0  # the float has underflowed; the label has not
    assert sci_prob(math.log(0.5)) == "50.0%"


def test_bos_is_not_a_token_of_the_text() -> None:
    t = _scored(with_bos=True)
    s = summarize(t)
    assert (s.tokens, s.reported, s.missing, s.no_context_first) == (len(PROBS), len(PROBS),
                                                                   0, False)
    assert [x.token for x in scored_steps(t)] == [f"w{k}" for k in range(len(PROBS))]
    # Indices stay positions in prompt_steps (the page's columns): <bos> is index 0.
    assert [i for i, _ in s.least_likely] == [2, 6, 4, 3, 7]
    assert all(not x.special for _, x in s.least_likely)


def test_a_special_token_ends_a_low_confidence_span() -> None:
    steps = [_step("a", 0.1), _step("<x>", None, special=True), _step("b", 0.1)]
    steps[1].logprob = math.log(0.05)  # even with a logprob, a control token is not text
    spans = low_confidence_spans(steps)
    assert [(x.start, x.end) for x in spans] == [(0, 1), (2, 3)]


def test_first_token_without_context_is_not_missing() -> None:
    t = _scored(with_bos=False)
    s = summarize(t)
    assert no_context_first(t)
    assert (s.tokens, s.reported, s.missing, s.no_context_first) == (len(PROBS) + 1,
                                                                   len(PROBS), 0, True)
    # A null after <bos> is a logprob not reported: it had context.
    t2 = _scored(with_bos=True)
    t2.prompt_steps[3].logprob = None
    s2 = summarize(t2)
    assert (s2.missing, s2.no_context_first) == (1, False)
    # A generated trace never starts without context (the prompt comes before it).
    t3 = Trace(backend="import", model="m", steps=[_step("a", None), _step("b", 0.5)])
    assert summarize(t3).missing == 1 and not summarize(t3).no_context_first


def test_not_top_counts_model_choices_only() -> None:
    steps = [_step("a", 0.4, best="b"), _step("c", 0.5), _step("d", 0.2, best="e", forced=True)]
    s = summarize(Trace(backend="import", model="m", steps=steps))
    assert s.not_top == 1
    assert s.top1_share == pytest.approx(1 / 3)
