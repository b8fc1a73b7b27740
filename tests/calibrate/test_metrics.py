"""The calibration metrics against scikit-learn (and, for the ECE, a plain float64 loop)
on random data, ties and edge values included."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from tokenprobe.calibration import metrics as m


def _data(seed: int, n: int = 400, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, n)
    if ties:  # coarse confidences, as a model's rounded or few options give
        p = np.round(p * 8) / 8
    y = (rng.uniform(0, 1, n) < p ** 1.5).astype(int)  # overconfident on purpose
    return p, y


def _ece_by_hand(p: np.ndarray, y: np.ndarray, edges: list[float]) -> tuple[float, float]:
    """The textbook definition, one item at a time: bin b holds edges[b] < p <= edges[b+1]
    (the first bin also holds p == its lower edge)."""
    n_bins = len(edges) - 1
    members: list[list[int]] = [[] for _ in range(n_bins)]
    for i, x in enumerate(p):
        b = 0
        while b < n_bins - 1 and x > edges[b + 1]:
            b += 1
        members[b].append(i)
    ece, mce = 0.0, 0.0
    for idx in members:
        if idx:
            gap = abs(sum(float(y[i]) for i in idx) / len(idx)
                      - sum(float(p[i]) for i in idx) / len(idx))
            ece += len(idx) / len(p) * gap
            mce = max(mce, gap)
    return ece, mce


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("strategy,sk", [("width", "uniform"), ("mass", "quantile")])
def test_reliability_bins_match_calibration_curve(seed: int, ties: bool, strategy: str,
                                                  sk: str) -> None:
    p, y = _data(seed, ties=ties)
    bins = m.reliability(p, y, 10, strategy)
    filled = [b for b in bins if b.count]
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy=sk)
    assert len(filled) == len(prob_true)
    np.testing.assert_allclose([b.accuracy for b in filled], prob_true, rtol=0, atol=1e-12)
    np.testing.assert_allclose([b.mean_confidence for b in filled], prob_pred, rtol=0,
                               atol=1e-12)
    assert sum(b.count for b in bins) == len(p)


@pytest.mark.parametrize("seed", [3, 4])
@pytest.mark.parametrize("strategy", ["width", "mass"])
def test_ece_and_mce_match_a_plain_loop(seed: int, strategy: str) -> None:
    p, y = _data(seed, n=300, ties=seed == 4)
    edges = list(m.bin_edges(p, 15, strategy))
    want_ece, want_mce = _ece_by_hand(p, y, edges)
    bins = m.reliability(p, y, 15, strategy)
    assert m.ece_of_bins(bins) == pytest.approx(want_ece, abs=1e-12)
    assert m.mce_of_bins(bins) == pytest.approx(want_mce, abs=1e-12)
    assert want_ece > 0.01  # the data are miscalibrated: a zero would prove nothing


def test_ece_bootstrap_interval_is_seeded_and_holds_the_estimate() -> None:
    p, y = _data(5)
    a = m.ece_bootstrap(p, y, 10, "width", resamples=300, seed=7)
    b = m.ece_bootstrap(p, y, 10, "width", resamples=300, seed=7)
    c = m.ece_bootstrap(p, y, 10, "width", resamples=300, seed=8)
    assert a == b and a != c
    ece = m.ece_of_bins(m.reliability(p, y, 10, "width"))
    assert a is not None and a[0] < ece < a[1]
    # The same resamples by hand: each resample's ECE from the plain loop.
    rng = np.random.default_rng(7)
    edges = list(np.linspace(0, 1, 11))
    vals = []
    for _ in range(300):
        pick = rng.integers(0, len(p), len(p))
        vals.append(_ece_by_hand(p[pick], y[pick], edges)[0])
    assert a == pytest.approx(tuple(np.quantile(vals, [0.025, 0.975])), abs=1e-12)


@pytest.mark.parametrize("n", [1, 7, 120])
def test_ece_bootstrap_with_equal_mass_bins_is_each_resamples_own(n: int) -> None:
    """Each resample gets its own quantile edges: the interval is the one the plain loop
    gives over the same draws (ties included, so that bins merge)."""
    p, y = _data(11, n=n, ties=True)
    got = m.ece_bootstrap(p, y, 10, "mass", resamples=400, seed=3)
    rng = np.random.default_rng(3)
    vals = []
    for _ in range(400):
        pick = rng.integers(0, len(p), len(p))
        edges = list(np.percentile(p[pick], np.linspace(0, 100, 11)))
        vals.append(_ece_by_hand(p[pick], y[pick], edges)[0])
    assert got == pytest.approx(tuple(np.quantile(vals, [0.025, 0.975])), abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("ties", [False, True])
def test_brier_auroc_average_precision_match_sklearn(seed: int, ties: bool) -> None:
    p, y = _data(seed, ties=ties)
    assert m.brier(p, y) == pytest.approx(brier_score_loss(y, p), abs=1e-12)
    assert m.auroc(p, y) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert m.average_precision(p, y) == pytest.approx(average_precision_score(y, p),
                                                      abs=1e-12)
    assert m.accuracy(y) == pytest.approx(y.mean())


def test_ranking_figures_are_undefined_with_one_class() -> None:
    assert m.auroc([0.2, 0.9], [1, 1]) is None
    assert m.auroc([0.2, 0.9], [0, 0]) is None
    assert m.average_precision([0.2, 0.9], [0, 0]) is None


def test_selective_curve_by_hand() -> None:
    p = np.array([0.9, 0.8, 0.8, 0.3, 0.1])
    y = np.array([1, 0, 1, 1, 0])
    pts = m.selective_curve(p, y)
    assert [(q.threshold, q.coverage, q.accuracy) for q in pts] == [
        (0.9, 0.2, 1.0), (0.8, 0.6, pytest.approx(2 / 3)), (0.3, 0.8, 0.75),
        (0.1, 1.0, 0.6)]


def test_selective_curve_matches_a_threshold_loop() -> None:
    p, y = _data(9, n=200, ties=True)
    for q in m.selective_curve(p, y):
        kept = p >= q.threshold
        assert q.coverage == pytest.approx(kept.mean())
        assert q.accuracy == pytest.approx(y[kept].mean())


@pytest.mark.parametrize("k", [2, 4])
def test_fit_temperature_minimises_sklearn_log_loss(k: int) -> None:
    rng = np.random.default_rng(k)
    logits = rng.normal(0, 3, (300, k))
    probs = m.softmax(logits)
    labels = np.array([rng.choice(k, p=row ** 0.5 / (row ** 0.5).sum()) for row in probs])
    t = m.fit_temperature(logits, labels)

    def loss(log_t: float) -> float:
        return float(log_loss(labels, m.softmax(logits, math.exp(log_t)),
                              labels=list(range(k))))

    ref = minimize_scalar(loss, bounds=(math.log(0.05), math.log(20)), method="bounded",
                          options={"xatol": 1e-9})
    assert t == pytest.approx(math.exp(ref.x), rel=1e-4)
    assert t > 1.3  # the labels were drawn from a flatter distribution than the logits say
    assert m.nll(logits, labels, t) == pytest.approx(loss(math.log(t)), abs=1e-9)


def test_binary_logits_give_the_confidence_back() -> None:
    p = np.array([0.1, 0.5, 0.97])
    np.testing.assert_allclose(m.softmax(m.binary_logits(p))[:, 1], p, atol=1e-12)


def test_split_halves_are_disjoint_and_seeded() -> None:
    a, b = m.split(11, seed=3)
    assert len(a) == 5 and len(b) == 6 and not set(a) & set(b)
    assert np.array_equal(m.split(11, seed=3)[0], a)
