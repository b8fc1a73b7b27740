"""Distribution math against a float64 reference, and the sampler against its distribution."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tokenprobe.distribution import (
    TAIL_BETAS,
    TAIL_TEMPERATURES,
    RowAnalyzer,
    Sampler,
    process,
    step_at_temperature,
    tail_logsumexp_at,
)
from tokenprobe.trace import Candidate, Step


def reference(row: np.ndarray, n: int) -> dict[str, object]:
    x = row.astype(np.float64)
    m = x.max()
    lse = m + math.log(np.exp(x - m).sum())
    lp = x - lse
    p = np.exp(lp)
    order = sorted(range(len(x)), key=lambda i: (-x[i], i))[:n]
    top = set(order)
    tails = []
    for b in TAIL_BETAS:
        rest = np.array([b * lp[i] for i in range(len(x)) if i not in top])
        tails.append(float(np.log(np.exp(rest - rest.max()).sum()) + rest.max()))
    return {"lse": lse, "entropy": float(-(p * lp).sum()), "top": order, "tail": tails}


ROWS = {
    "normal": lambda r: (r.standard_normal(5000) * 3).astype(np.float32),
    "peaked": lambda r: np.concatenate([[40.0], r.standard_normal(4999) * 2]).astype(np.float32),
    "flat": lambda r: np.zeros(5000, dtype=np.float32) + r.random(5000).astype(np.float32) * 1e-3,
    "extreme": lambda r: (r.standard_normal(5000) * 60 - 1e3).astype(np.float32),
    "huge_logits": lambda r: (r.standard_normal(5000) + 3e4).astype(np.float32),
}


@pytest.mark.parametrize("size", [5000, 900])  # the large-row path and the small-row one
@pytest.mark.parametrize("kind", sorted(ROWS))
def test_row_stats_match_float64_reference(kind: str, size: int) -> None:
    row = ROWS[kind](np.random.default_rng(7))[:size]
    stats = RowAnalyzer(row.shape[0]).analyze(row, 10)
    ref = reference(row, 10)
    assert stats.lse == pytest.approx(ref["lse"], abs=1e-4, rel=1e-6)
    assert stats.entropy == pytest.approx(ref["entropy"], abs=2e-4)
    got_top = stats.top_ids.tolist()
    ref_top = ref["top"]
    # float32 rounding may swap exact ties; the values must agree.
    assert sorted(row[got_top].tolist(), reverse=True) == pytest.approx(
        sorted(row[ref_top].tolist(), reverse=True))
    assert list(stats.top_logprobs) == sorted(stats.top_logprobs, reverse=True)
    # The tail sums matter as a share of the whole distribution at each temperature: terms
    # below float32's range (e^-87 of the top token) may be lost, nothing that shows.
    x = row.astype(np.float64)
    lp = x - ref["lse"]
    for b, got, want in zip(TAIL_BETAS, stats.tail_logsumexp, ref["tail"]):
        log_z = float(np.log(np.exp(b * lp - (b * lp).max()).sum()) + (b * lp).max())
        assert math.exp(got - log_z) == pytest.approx(math.exp(want - log_z), abs=1e-6,
                                                      rel=2e-3)


def test_top_n_ties_break_by_lower_id_like_argmax() -> None:
    row = np.zeros(100, dtype=np.float32)
    row[[7, 3, 50]] = 5.0
    top = RowAnalyzer(100).top_n(row, 2, 5.0)
    assert top.tolist() == [3, 7]
    assert int(np.argmax(row)) == top[0]


def test_top_n_never_sorts_whole_row_when_n_is_large() -> None:
    row = np.random.default_rng(1).standard_normal(262_144).astype(np.float32)
    top = RowAnalyzer(row.shape[0]).top_n(row, 1000, float(row.max()))
    ref = np.argsort(-row.astype(np.float64), kind="stable")[:1000]
    assert top.tolist() == ref.tolist()


def _processed_reference(row: np.ndarray, t: float, k: int, p: float) -> dict[int, float]:
    x = row.astype(np.float64) / t
    probs = np.exp(x - x.max())
    probs /= probs.sum()
    order = sorted(range(len(x)), key=lambda i: (-x[i], i))
    if k:
        order = order[:k]
        s = probs[order].sum()
        probs = probs / s
    kept, cum = [], 0.0
    for i in order:
        if cum >= p - 1e-12:
            break
        kept.append(i)
        cum += probs[i]
    z = sum(probs[i] for i in kept)
    return {i: probs[i] / z for i in kept}


@pytest.mark.parametrize(("t", "k", "p"), [(1.0, 0, 1.0), (0.7, 0, 0.9), (1.3, 20, 1.0),
                                           (0.5, 50, 0.8), (2.0, 0, 0.5)])
def test_processing_matches_reference(t: float, k: int, p: float) -> None:
    row = (np.random.default_rng(3).standard_normal(3000) * 2).astype(np.float32)
    dist = process(row, t, k, p)
    ref = _processed_reference(row, t, k, p)
    if dist.ids is None:
        got = {i: float(q) for i, q in enumerate(dist.probs) if q > 0}
    else:
        got = {int(i): float(q) for i, q in zip(dist.ids, dist.probs)}
    assert set(got) == set(ref) if dist.ids is not None else len(got) == len(ref)
    for i, q in ref.items():
        assert got[i] == pytest.approx(q, rel=1e-4, abs=1e-9)


def test_temperature_zero_is_greedy() -> None:
    row = np.array([0.0, 3.0, 3.0, 1.0], dtype=np.float32)
    dist = process(row, 0.0)
    assert dist.greedy and Sampler(1).sample(dist) == 1
    assert dist.logprob_of(1) == 0.0


def test_sampler_frequencies_match_processed_distribution() -> None:
    """Chi-square goodness of fit with a fixed seed (df = 19, critical value 43.82 at 0.999)."""
    rng = np.random.default_rng(11)
    row = (rng.standard_normal(20) * 1.5).astype(np.float32)
    dist = process(row, 0.8)
    sampler = Sampler(12345)
    n = 40_000
    counts = np.bincount([sampler.sample(dist) for _ in range(n)], minlength=20)
    expected = dist.probs.astype(np.float64) * n
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 43.82, chi2


@pytest.mark.parametrize("size", [20, 3000, 50_000])  # one cumulative sum, and two levels
def test_sampler_draws_the_float64_inverse_cdf(size: int) -> None:
    """Each draw is the token whose float64 cumulative probability first passes the
    generator's uniform number: checked against numpy's own cumsum of the whole row."""
    row = (np.random.default_rng(size).standard_normal(size) * 2).astype(np.float32)
    dist = process(row, 1.0)
    cdf = np.cumsum(dist.probs.astype(np.float64))
    sampler = Sampler(99)
    uniform = np.random.Generator(np.random.PCG64(99))
    for _ in range(300):
        want = int(np.searchsorted(cdf, uniform.random() * cdf[-1], side="right"))
        assert sampler.sample(dist) == want


def test_sampler_respects_top_k_and_top_p() -> None:
    row = np.linspace(0, 5, 1000).astype(np.float32)
    dist = process(row, 1.0, top_k=5, top_p=0.9)
    sampler = Sampler(0)
    drawn = {sampler.sample(dist) for _ in range(2000)}
    assert drawn <= set(range(995, 1000))


def test_same_seed_same_draws() -> None:
    row = np.random.default_rng(2).standard_normal(50_000).astype(np.float32)
    dist = process(row, 1.0)
    a = [Sampler(5).sample(dist) for _ in range(1)] + [Sampler(5).sample(dist)]
    assert a[0] == a[1]


def test_reference_math_for_extreme_values() -> None:
    from tokenprobe.distribution import entropy_of_logprobs, logsumexp

    assert logsumexp([1000.0, 1000.0]) == pytest.approx(1000 + math.log(2))
    assert logsumexp([-1e308, 0.0]) == pytest.approx(0.0)
    assert entropy_of_logprobs([math.log(0.5), math.log(0.5)]) == pytest.approx(math.log(2))


def _step_from_row(row: np.ndarray, n: int) -> Step:
    stats = RowAnalyzer(row.shape[0]).analyze(row, n)
    return Step(token="x", id=int(stats.top_ids[0]), logprob=float(stats.top_logprobs[0]),
                top=[Candidate(str(i), float(lp), int(i))
                     for i, lp in zip(stats.top_ids, stats.top_logprobs)],
                entropy=stats.entropy, entropy_exact=True,
                tail_logsumexp=stats.tail_logsumexp)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_temperature_renormalisation_is_accurate(seed: int) -> None:
    """Every top-10 probability within 0.005 of the exact value, for T from 0.3 to 2.0."""
    rng = np.random.default_rng(seed)
    row = (rng.standard_normal(262_144) * 2.5 + rng.gumbel(size=262_144)).astype(np.float32)
    row[rng.integers(0, 262_144, 30)] += 8  # a realistic head
    step = _step_from_row(row, 10)
    x = row.astype(np.float64)
    for t in np.arange(0.3, 2.0001, 0.05):
        view = step_at_temperature(step, float(t), list(TAIL_TEMPERATURES))
        exact = np.exp(x / t - (x / t).max())
        exact /= exact.sum()
        for c in view.candidates:
            assert c.prob is not None
            assert abs(c.prob - exact[c.candidate.id]) < 0.005, (t, c, exact[c.candidate.id])
        assert view.accuracy in ("exact", "interpolated")


def test_tail_interpolation_is_exact_on_grid_and_labelled_outside() -> None:
    temps = [2.0, 1.0, 0.5]
    vals = [3.0, 1.0, -1.5]
    assert tail_logsumexp_at(1.0, temps, vals) == (1.0, "exact")
    assert tail_logsumexp_at(0.1, temps, vals)[1] == "approximate"
    v, acc = tail_logsumexp_at(0.7, temps, vals)
    assert acc == "interpolated" and -1.5 < v < 1.0


def test_renormalisation_without_tail_gives_the_reported_values_at_t1_and_ranges_else() -> None:
    step = Step(token="a", logprob=math.log(0.5),
                top=[Candidate("a", math.log(0.5)), Candidate("b", math.log(0.3))])
    view = step_at_temperature(step, 1.0, None)
    assert view.accuracy == "exact" and not view.is_range and view.basis == "listed"
    assert view.candidates[0].prob == pytest.approx(0.5)
    assert view.tail_low == view.tail_high == pytest.approx(0.2)
    assert view.note == "as reported (T = 1)"
    hot = step_at_temperature(step, 2.0, None, vocab_size=50)
    assert hot.is_range and hot.accuracy == "bounded" and hot.log_z is None
    a = hot.candidates[0]
    assert a.prob is None and 0.0 < a.low < a.high
    # T = 2 with 48 unlisted tokens sharing 0.2 at most 0.3 each: the tail's weight
    # Σ √p lies between √0.2 (one token) and √(48 × 0.2) (all equal).
    h = math.sqrt(0.5) + math.sqrt(0.3)
    assert a.low == pytest.approx(math.sqrt(0.5) / (h + math.sqrt(48 * 0.2)), rel=1e-9)
    assert a.high == pytest.approx(math.sqrt(0.5) / (h + math.sqrt(0.2)), rel=1e-9)


@pytest.mark.parametrize("size", [900, 50_000])
def test_the_raw_distribution_from_analyze_is_what_process_gives_at_t1(size: int) -> None:
    """The draw at T = 1 reuses analyze's exp pass: the same float32 probabilities, so the
    same tokens for the same seed; its tail sum agrees with process's own."""
    row = (np.random.default_rng(size).standard_normal(size) * 3).astype(np.float32)
    stats = RowAnalyzer(size).analyze(row, 10, raw_probs=True)
    mine = stats.raw_distribution()
    theirs = process(row, 1.0, exclude=stats.top_ids)
    assert mine.ids is None and np.array_equal(mine.probs, theirs.probs)
    assert mine.row_max == theirs.row_max
    assert mine.tail_log_norm == pytest.approx(theirs.tail_log_norm, abs=1e-5)
    a, b = Sampler(3), Sampler(3)
    assert [a.sample(mine) for _ in range(50)] == [b.sample(theirs) for _ in range(50)]
    assert RowAnalyzer(size).analyze(row, 10).probs is None  # only when asked for
