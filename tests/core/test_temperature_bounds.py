"""Re-normalisation at another temperature from a top-N list, checked against the whole
distribution: random full distributions are cut to their top N, and the exact values
(numpy float64 softmax of logp / T over every token, then top-k and top-p as samplers
apply them) must lie inside the bounds the library gives from the top N alone.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokenprobe.distribution import (
    TAIL_TEMPERATURES,
    TemperatureView,
    step_at_temperature,
    step_sampled,
    tail_sum_bounds,
)
from tokenprobe.trace import Candidate, Step

F64 = npt.NDArray[np.float64]
TEMPS = [0.1, 0.15, 0.2, 0.3, 0.45, 0.6, 0.8, 0.95, 1.0, 1.05, 1.3, 1.7, 2.2, 3.0]
SHAPES = ("normal", "peaked", "flat", "zipf", "two-level", "ties")
# Slack for float64 rounding only: a wrong bound is off by far more.
TOL = 1e-9

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def logprobs(shape: str, v: int, scale: float, seed: int) -> F64:
    """A full distribution over v tokens, as float64 logprobs."""
    rng = np.random.default_rng(seed)
    if shape == "normal":
        x = rng.standard_normal(v) * scale
    elif shape == "peaked":
        x = rng.standard_normal(v)
        x[rng.integers(v)] += 4.0 * scale + 2.0
    elif shape == "flat":
        x = rng.standard_normal(v) * 0.01
    elif shape == "zipf":
        x = -scale * np.log(rng.permutation(v) + 1.0)
    elif shape == "two-level":
        x = np.where(rng.random(v) < 0.1, scale, 0.0) + rng.standard_normal(v) * 0.1
    else:  # ties: a few distinct values, many tokens on each
        x = rng.integers(0, 4, v) * scale
    x = x.astype(np.float64)
    return x - (x.max() + np.log(np.exp(x - x.max()).sum()))


@st.composite
def cases(draw: st.DrawFn) -> tuple[F64, int, int, int | None]:
    """(logprobs, N, the chosen token's id, V or None)."""
    v = draw(st.integers(2, 3000) | st.integers(2, 12))
    shape = draw(st.sampled_from(SHAPES))
    scale = draw(st.floats(0.2, 6.0))
    lp = logprobs(shape, v, scale, draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(1, min(v, 40)) | st.just(v))
    order = ranked(lp)
    chosen = int(order[draw(st.integers(0, min(v, n + 3) - 1))])
    vocab = draw(st.sampled_from([v, None]))
    return lp, n, chosen, vocab


def ranked(lp: F64) -> npt.NDArray[np.intp]:
    """Token ids by logprob, most likely first (ties by id, as engines break them)."""
    return np.lexsort((np.arange(lp.shape[0]), -lp))


def top_step(lp: F64, n: int, chosen: int, tail: bool = False) -> Step:
    """The step a server would report: its top n and the chosen token (with or without the
    local engine's tail summary, computed exactly from the whole distribution)."""
    ids = ranked(lp)[:n]
    top = [Candidate(f"t{i}", float(lp[i]), int(i)) for i in ids]
    step = Step(token=f"t{chosen}", logprob=float(lp[chosen]), id=chosen, top=top)
    if tail:
        rest = np.ones(lp.shape[0], dtype=bool)
        rest[ids] = False
        step.tail_logsumexp = [
            float(np.log(np.exp(lp[rest] / t).sum())) if rest.any() else -1e4
            for t in TAIL_TEMPERATURES
        ]
    return step


def softmax_at(lp: F64, t: float) -> F64:
    x = lp / t
    e = np.exp(x - x.max())
    return e / e.sum()


def sampled_exact(lp: F64, t: float, k: int | None, p: float | None) -> F64:
    """The distribution after temperature, top-k, then top-p, over every token."""
    q = softmax_at(lp, t)
    keep = np.lexsort((np.arange(lp.shape[0]), -q))
    if k:
        keep = keep[:k]
    if p is not None and p < 1.0:
        cum = np.cumsum(q[keep] / q[keep].sum())
        keep = keep[: int(np.searchsorted(cum, p - 1e-12)) + 1]
    out = np.zeros_like(q)
    out[keep] = q[keep] / q[keep].sum()
    return out


def assert_within(view: TemperatureView, exact: F64, listed_ids: list[int]) -> None:
    """Every listed candidate's exact value, and the tail's, inside the view's bounds."""
    assert [c.candidate.id for c in view.candidates] == listed_ids
    for c in view.candidates:
        x = float(exact[c.candidate.id])  # type: ignore[index]
        assert c.low <= c.high
        assert c.low - TOL * (1 + x) <= x <= c.high + TOL * (1 + x), (c, x)
    rest = np.ones(exact.shape[0], dtype=bool)
    rest[listed_ids] = False
    tail = float(exact[rest].sum())
    assert view.tail_low is not None and view.tail_high is not None
    assert view.tail_low - TOL <= tail <= view.tail_high + TOL, (view, tail)


@SETTINGS
@given(cases())
def test_bounds_hold_the_exact_value(case: tuple[F64, int, int, int | None]) -> None:
    lp, n, chosen, vocab = case
    step = top_step(lp, n, chosen)
    listed = [int(i) for i in ranked(lp)[:n]]
    for t in TEMPS:
        view = step_at_temperature(step, t, None, vocab)
        assert_within(view, softmax_at(lp, t), listed)
        assert view.vocab_known == (vocab is not None)
        if n == lp.shape[0] and vocab is not None:
            # Nothing unlisted: the bounds close on the exact value.
            for c in view.candidates:
                assert abs(c.high - c.low) <= 1e-12
            assert not view.is_range


@SETTINGS
@given(cases())
def test_top_token_is_never_below_its_raw_value_when_sharpened(
        case: tuple[F64, int, int, int | None]) -> None:
    lp, n, chosen, vocab = case
    step = top_step(lp, n, chosen)
    raw = math.exp(step.top[0].logprob)  # type: ignore[arg-type]
    for t in (x for x in TEMPS if x < 1):
        low = step_at_temperature(step, t, None, vocab).candidates[0].low
        assert low >= raw * (1 - 1e-12), (t, low, raw)


@SETTINGS
@given(cases())
def test_summary_gives_the_exact_point(case: tuple[F64, int, int, int | None]) -> None:
    """With the tail summary every value is a point: exact at the stored temperatures,
    within 5e-5 between them."""
    lp, n, chosen, vocab = case
    step = top_step(lp, n, chosen, tail=True)
    grid = [t for t in TEMPS if 1 / TAIL_TEMPERATURES[-1] <= 1 / t <= 1 / TAIL_TEMPERATURES[0]]
    for t in grid + list(TAIL_TEMPERATURES):
        view = step_at_temperature(step, t, list(TAIL_TEMPERATURES), vocab)
        assert view.accuracy in ("exact", "interpolated")
        exact = softmax_at(lp, t)
        tol = 1e-12 if view.accuracy == "exact" else 5e-5
        for c in view.candidates:
            assert c.prob is not None
            assert abs(c.prob - exact[c.candidate.id]) <= tol, (t, c, exact[c.candidate.id])


@st.composite
def sampling(draw: st.DrawFn) -> tuple[F64, int, int | None, float, int | None, float | None,
                                       bool]:
    """(logprobs, N, V or None, T, top-k, top-p, whether the sampled logprob is recorded)."""
    v = draw(st.integers(2, 1500) | st.integers(2, 12))
    lp = logprobs(draw(st.sampled_from(SHAPES)), v, draw(st.floats(0.2, 6.0)),
                  draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(1, min(v, 30)) | st.just(v))
    k = draw(st.none() | st.integers(1, n) | st.integers(1, v + 2))
    p = draw(st.none() | st.floats(0.05, 0.999) | st.sampled_from([0.5, 0.9, 0.95]))
    return (lp, n, draw(st.sampled_from([v, None])), draw(st.sampled_from(TEMPS)), k, p,
            draw(st.booleans()))


@SETTINGS
@given(sampling(), st.integers(0, 2**32 - 1))
def test_sampled_bounds_hold_the_exact_value(case: tuple[F64, int, int | None, float,
                                                         int | None, float | None, bool],
                                             seed: int) -> None:
    lp, n, vocab, t, k, p, recorded = case
    exact = sampled_exact(lp, t, k, p)
    # The chosen token is one the sampler could draw.
    chosen = int(np.random.default_rng(seed).choice(lp.shape[0], p=exact / exact.sum()))
    step = top_step(lp, n, chosen)
    if recorded:
        step.sample_logprob = float(np.log(exact[chosen]))
    view = step_sampled(step, t, k, p, None, vocab_size=vocab)
    assert view is not None
    listed = [int(i) for i in ranked(lp)[:n]]
    assert_within(view, exact, listed)
    if recorded:
        assert not view.is_range
        for c in view.candidates:
            assert c.prob == pytest.approx(exact[c.candidate.id], rel=1e-6, abs=1e-12)
    elif k is not None and k <= n and not near_cut(lp, t, k, p):
        # top-k within the list: the kept set is known whatever the rest is.
        assert not view.is_range, view
        for c in view.candidates:
            assert c.prob == pytest.approx(exact[c.candidate.id], rel=1e-9, abs=1e-12)


def near_cut(lp: F64, t: float, k: int | None, p: float | None) -> bool:
    """Whether a top-p cut falls within rounding of a token (which way it goes is then
    not determined by the data, and a range is the honest answer)."""
    if p is None:
        return False
    q = np.sort(softmax_at(lp, t))[::-1][: k or None]
    cum = np.cumsum(q / q.sum())
    return bool(np.any(np.abs(cum - p) < 1e-6))


def test_sampled_top_k_inside_the_list_is_exact() -> None:
    lp = logprobs("normal", 500, 2.0, 7)
    step = top_step(lp, 10, int(ranked(lp)[0]))
    for t in (0.3, 0.7, 1.0, 1.8):
        view = step_sampled(step, t, 5, None, None)
        assert view is not None and view.accuracy == "exact"
        exact = sampled_exact(lp, t, 5, None)
        for c in view.candidates:
            assert c.prob == pytest.approx(exact[c.candidate.id], rel=1e-12, abs=1e-15)
        assert view.tail_low == view.tail_high == 0.0
        assert "top-k 5 keeps only listed tokens" in view.note


def test_sampled_top_p_decided_within_the_list_is_exact() -> None:
    """A nucleus that ends inside the list whatever the unlisted tokens are: exact."""
    top = [Candidate("a", math.log(0.6)), Candidate("b", math.log(0.3)),
           Candidate("c", math.log(0.05))]
    step = Step(token="a", logprob=math.log(0.6), top=top)
    view = step_sampled(step, 1.0, None, 0.8, None)
    assert view is not None and view.accuracy == "exact"
    assert [c.prob for c in view.candidates] == [pytest.approx(2 / 3), pytest.approx(1 / 3),
                                                 0.0]


def test_sampled_with_processed_logprobs_is_not_processed_again() -> None:
    top = [Candidate("a", math.log(0.7)), Candidate("b", math.log(0.3))]
    step = Step(token="a", logprob=math.log(0.7), top=top)
    view = step_sampled(step, 0.5, 1, 0.5, None, logprobs_kind="processed")
    assert view is not None and view.basis == "reported"
    assert [c.prob for c in view.candidates] == [pytest.approx(0.7), pytest.approx(0.3)]
    assert view.tail_low == pytest.approx(0.0, abs=1e-12)
    assert "after its samplers" in view.note
    assert step_sampled(step, 0.0, None, None, None) is None  # greedy: nothing to show
    assert step_sampled(step, None, None, None, None) is None


def test_a_chat_answer_sharpened_keeps_its_top_token_above_its_raw_value() -> None:
    """A chat response's step (no vocabulary size) at T = 0.2: the top token had 15.5 %
    at T = 1, so sharpening can only raise it; treating the 53.6 % unlisted as one token
    said 0.2 %."""
    top = [Candidate("曇", math.log(0.155)), Candidate("晴", math.log(0.144)),
           Candidate("雨", math.log(0.109)), Candidate("とても", math.log(0.055))]
    step = Step(token="曇", logprob=math.log(0.155), top=top)
    view = step_at_temperature(step, 0.2, None)
    top1 = view.candidates[0]
    assert view.is_range and not view.vocab_known
    assert top1.low >= 0.155 and top1.high <= 1.0
    # The bounds in closed form: every unlisted token at most 5.5 %, 0.536 of them.
    w = [p ** 5 for p in (0.155, 0.144, 0.109, 0.055)]
    s_max = 9 * 0.055 ** 5 + (1 - 0.463 - 9 * 0.055) ** 5
    assert top1.low == pytest.approx(w[0] / (sum(w) + s_max), rel=1e-9)
    assert top1.high == pytest.approx(w[0] / sum(w), rel=1e-9)
    assert "vocabulary size unknown" in view.note


def test_tail_sum_bounds_in_closed_form() -> None:
    # β = 2: at most 3 tokens of at most 0.25 hold 0.6: concentrated 0.25² + 0.25² + 0.1²,
    # even 3 × 0.2².
    assert tail_sum_bounds(0.6, 0.25, 3, 2.0) == (pytest.approx(3 * 0.04),
                                                 pytest.approx(0.0625 * 2 + 0.01))
    lo, hi = tail_sum_bounds(0.6, 0.25, 3, 0.5)
    assert (lo, hi) == (pytest.approx(2 * 0.5 + 0.1 ** 0.5), pytest.approx(3 * 0.2 ** 0.5))
    assert tail_sum_bounds(0.6, 0.25, None, 0.5)[1] == math.inf
    assert tail_sum_bounds(0.6, 0.25, None, 2.0)[0] == 0.0
    assert tail_sum_bounds(0.0, 0.25, 3, 2.0) == (0.0, 0.0)
    assert tail_sum_bounds(0.3, 0.0, None, 2.0) == (0.0, 0.0)  # no division by a zero cap


def test_notes_say_how_values_were_made() -> None:
    top = [Candidate("a", math.log(0.5)), Candidate("b", math.log(0.3))]
    step = Step(token="a", logprob=math.log(0.5), top=top)
    at_one = step_at_temperature(step, 1.0, None, vocab_size=1000)
    assert at_one.accuracy == "exact" and at_one.note == "as reported (T = 1)"
    assert "whole vocabulary" not in at_one.note
    assert "range" in step_at_temperature(step, 0.5, None, vocab_size=1000).note
    full = Step(token="a", logprob=math.log(0.5),
                top=[Candidate("a", math.log(0.5)), Candidate("b", math.log(0.5))])
    assert step_at_temperature(full, 0.5, None, 2).note.startswith("exact: the top 2")
