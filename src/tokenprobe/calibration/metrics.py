"""Calibration figures over (confidence, correct) pairs, numpy only.

Every function takes `confidence` (a number per item; a probability in [0, 1] for the
calibration figures, any score for the ranking ones) and `correct` (0/1 per item). Figures:
accuracy; the reliability bins and the expected / maximum calibration error over them, with
equal-width bins ([0, 1] cut into n equal intervals) or equal-mass bins (edges at the
confidences' quantiles, so each holds about as many items; tied confidences can merge
bins); a percentile bootstrap interval for the ECE with a fixed seed; the Brier score; the
AUROC and the average precision (AUPRC) of the confidence as a predictor of a correct
answer; the selective-prediction curve (accuracy among the items answered when answering
only at or above each confidence); and temperature scaling fitted on one split and
reported on the other.

Bins follow scikit-learn's `calibration_curve` (bin b holds lo < p <= hi: an item at an
inner edge goes to the bin below it; 0.0 is in the first bin) so the two can be checked
against each other; AUROC and average precision are scikit-learn's definitions (ties
averaged / grouped).

It leaves out where the confidences come from (calibration/signals.py) and display.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass
class Bin:
    lo: float
    hi: float
    count: int
    mean_confidence: float | None  # None for an empty bin
    accuracy: float | None


def _arrays(confidence: npt.ArrayLike, correct: npt.ArrayLike) -> tuple[Floats, Floats]:
    p = np.asarray(confidence, dtype=np.float64)
    y = np.asarray(correct, dtype=np.float64)
    if p.shape != y.shape or p.ndim != 1:
        raise ValueError("confidence and correct must be 1-D and of the same length")
    return p, y


def accuracy(correct: npt.ArrayLike) -> float | None:
    y = np.asarray(correct, dtype=np.float64)
    return float(y.mean()) if y.size else None


def bin_edges(confidence: npt.ArrayLike, n_bins: int, strategy: str) -> Floats:
    """The n+1 edges: equal width over [0, 1], or ("mass") the confidences' quantiles."""
    if n_bins < 1:
        raise ValueError("the number of bins must be at least 1")
    if strategy == "width":
        return np.linspace(0.0, 1.0, n_bins + 1)
    if strategy == "mass":
        return np.percentile(np.asarray(confidence, dtype=np.float64),
                             np.linspace(0.0, 100.0, n_bins + 1))
    raise ValueError(f"unknown bin strategy {strategy!r} (width or mass)")


def _assign(p: Floats, edges: Floats) -> Ints:
    return np.searchsorted(edges[1:-1], p, side="left").astype(np.int64)


def reliability(confidence: npt.ArrayLike, correct: npt.ArrayLike, n_bins: int = 10,
                strategy: str = "width") -> list[Bin]:
    """The bins of a reliability diagram, empty ones included (count 0)."""
    p, y = _arrays(confidence, correct)
    edges = bin_edges(p, n_bins, strategy)
    idx = _assign(p, edges)
    n = len(edges) - 1
    count = np.bincount(idx, minlength=n)
    conf_sum = np.bincount(idx, weights=p, minlength=n)
    hit_sum = np.bincount(idx, weights=y, minlength=n)
    out = []
    for b in range(n):
        c = int(count[b])
        out.append(Bin(float(edges[b]), float(edges[b + 1]), c,
                       float(conf_sum[b] / c) if c else None,
                       float(hit_sum[b] / c) if c else None))
    return out


def ece_of_bins(bins: list[Bin]) -> float | None:
    """Σ_b (n_b / N)·|accuracy_b − mean confidence_b| over the non-empty bins."""
    total = sum(b.count for b in bins)
    if not total:
        return None
    return math.fsum(b.count / total * abs(b.accuracy - b.mean_confidence)  # type: ignore[operator]
                     for b in bins if b.count)


def mce_of_bins(bins: list[Bin]) -> float | None:
    """max_b |accuracy_b − mean confidence_b| over the non-empty bins."""
    gaps = [abs(b.accuracy - b.mean_confidence) for b in bins if b.count]  # type: ignore[operator]
    return max(gaps) if gaps else None


def _ece_fast(p: Floats, y: Floats, edges: Floats) -> float:
    idx = _assign(p, edges)
    n = len(edges) - 1
    gap = np.abs(np.bincount(idx, weights=y, minlength=n)
                 - np.bincount(idx, weights=p, minlength=n))
    return float(gap.sum() / len(p))


def ece_bootstrap(confidence: npt.ArrayLike, correct: npt.ArrayLike, n_bins: int = 10,
                  strategy: str = "width", resamples: int = 1000, level: float = 0.95,
                  seed: int = 0) -> tuple[float, float] | None:
    """A percentile bootstrap interval for the ECE: the items resampled with replacement
    `resamples` times (numpy's default_rng(seed)), the bins' edges recomputed for each
    resample when they are equal-mass."""
    p, y = _arrays(confidence, correct)
    if not len(p):
        return None
    rng = np.random.default_rng(seed)
    values = np.empty(resamples)
    # Resamples in blocks, each as one array operation (a loop of a thousand small numpy
    # calls cost more than the engine's work on a small set); the draws are the same as
    # one `integers(0, n, n)` per resample, and every value is the same double as
    # `_ece_fast` of that resample gives.
    block = max(1, 2_000_000 // (len(p) * max(n_bins, 1)))
    for start in range(0, resamples, block):
        rows = min(block, resamples - start)
        pick = rng.integers(0, len(p), (rows, len(p)))
        values[start:start + rows] = _ece_rows(p[pick], y[pick], n_bins, strategy)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def _ece_rows(ps: Floats, ys: Floats, n_bins: int, strategy: str) -> Floats:
    """`_ece_fast` of each row (a resample), its own equal-mass edges where asked."""
    rows, n = ps.shape
    if strategy == "width":
        idx = _assign(ps, bin_edges(ps[0], n_bins, "width"))
    else:
        inner = np.percentile(ps, np.linspace(0.0, 100.0, n_bins + 1), axis=1)[1:-1].T
        # searchsorted(side="left") counts the edges below each value.
        idx = (ps[:, :, None] > inner[:, None, :]).sum(axis=2).astype(np.int64)
    flat = (idx + np.arange(rows)[:, None] * n_bins).ravel()
    gap = np.abs(np.bincount(flat, weights=ys.ravel(), minlength=rows * n_bins)
                 - np.bincount(flat, weights=ps.ravel(), minlength=rows * n_bins))
    return gap.reshape(rows, n_bins).sum(axis=1) / n  # type: ignore[no-any-return]


def brier(confidence: npt.ArrayLike, correct: npt.ArrayLike) -> float | None:
    """Mean of (confidence − correct)²."""
    p, y = _arrays(confidence, correct)
    return float(np.mean((p - y) ** 2)) if len(p) else None


def _ranks(x: Floats) -> Floats:
    """1-based ranks, ties given their average rank."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    first = np.concatenate(([True], xs[1:] != xs[:-1]))
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    ends = np.concatenate((starts[1:], [len(xs)]))
    avg = (starts + ends + 1) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(len(x))
    ranks[order] = avg[group]
    return ranks


def auroc(score: npt.ArrayLike, correct: npt.ArrayLike) -> float | None:
    """P(a correct item's score > a wrong one's), ties counting one half (Mann–Whitney);
    None when every item is correct or every item wrong."""
    s, y = _arrays(score, correct)
    pos = int(y.sum())
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return None
    r = _ranks(s)
    return float((r[y == 1].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def average_precision(score: npt.ArrayLike, correct: npt.ArrayLike) -> float | None:
    """Σ_k (R_k − R_{k−1})·P_k over the distinct scores from the highest down (the area
    under the precision-recall curve as a step function); None without a correct item."""
    s, y = _arrays(score, correct)
    pos = y.sum()
    if pos == 0:
        return None
    order = np.argsort(-s, kind="mergesort")
    ss, ys = s[order], y[order]
    last = np.concatenate((ss[1:] != ss[:-1], [True]))  # the last item of each tie group
    tp = np.cumsum(ys)[last]
    answered = (np.flatnonzero(last) + 1).astype(np.float64)
    precision = tp / answered
    recall = tp / pos
    return float(np.sum(np.diff(np.concatenate(([0.0], recall))) * precision))


@dataclass
class SelectivePoint:
    threshold: float  # answer only items with a confidence at or above this
    coverage: float  # share of the items answered
    accuracy: float  # accuracy among them


def selective_curve(score: npt.ArrayLike, correct: npt.ArrayLike) -> list[SelectivePoint]:
    """One point per distinct score, from the most confident alone to every item."""
    s, y = _arrays(score, correct)
    if not len(s):
        return []
    order = np.argsort(-s, kind="mergesort")
    ss, ys = s[order], y[order]
    last = np.concatenate((ss[1:] != ss[:-1], [True]))
    hits = np.cumsum(ys)[last]
    answered = np.flatnonzero(last) + 1
    return [SelectivePoint(float(t), float(a / len(s)), float(h / a))
            for t, a, h in zip(ss[last], answered, hits)]


# --- temperature scaling ---------------------------------------------------------------

def nll(logits: npt.ArrayLike, labels: npt.ArrayLike, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the labels under softmax(logits / T), per row."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    lab = np.asarray(labels, dtype=np.int64)
    m = z.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
    return float(np.mean(lse - z[np.arange(len(lab)), lab]))


def fit_temperature(logits: npt.ArrayLike, labels: npt.ArrayLike,
                    lo: float = 0.05, hi: float = 20.0) -> float:
    """The T in [lo, hi] minimising the NLL of softmax(logits / T): a golden-section search
    over log T after a coarse grid (the NLL is convex in 1/T, so one minimum)."""
    z = np.asarray(logits, dtype=np.float64)
    lab = np.asarray(labels, dtype=np.int64)
    grid = np.exp(np.linspace(math.log(lo), math.log(hi), 81))
    values = [nll(z, lab, t) for t in grid]
    k = int(np.argmin(values))
    a = math.log(grid[max(k - 1, 0)])
    b = math.log(grid[min(k + 1, len(grid) - 1)])
    g = (math.sqrt(5.0) - 1.0) / 2.0
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = nll(z, lab, math.exp(c)), nll(z, lab, math.exp(d))
    for _ in range(80):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = nll(z, lab, math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = nll(z, lab, math.exp(d))
    return math.exp((a + b) / 2.0)


def binary_logits(confidence: npt.ArrayLike) -> Floats:
    """Rows [0, logit(p)]: softmax of a row / T is (1 − p_T, p_T) with p_T = σ(logit(p) / T),
    so a confidence in one answer is scaled like a choice between two."""
    p = np.clip(np.asarray(confidence, dtype=np.float64), 1e-12, 1.0 - 1e-12)
    return np.stack((np.zeros_like(p), np.log(p) - np.log1p(-p)), axis=1)


def softmax(logits: npt.ArrayLike, temperature: float = 1.0) -> Floats:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


def split(n: int, seed: int = 0) -> tuple[Ints, Ints]:
    """A fixed random half of the items to fit on and the other half to report on."""
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2:])
