"""Distribution math over one row of logits.

From a row of logits (262,144 floats for Gemma 3) this module computes, without ever sorting
the whole vocabulary: logsumexp, the exact entropy, the top-N tokens, the tail summary that
lets a view re-normalise the distribution at another temperature, and the processed
(temperature / top-k / top-p) distribution that a seeded sampler draws from.

Hot-path functions work in float32 with float64 accumulators and reuse preallocated buffers,
because they run once per generated token and must cost a small fraction of a decode.

It leaves out anything that knows about models or traces' provenance (backends/), how
numbers are shown (views/), and re-normalising recorded steps at another temperature
(renormalise.py) or under the sampling settings (sampled.py), whose names it re-exports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tokenprobe.errors import ModelError

# Re-normalising recorded steps lives in its own modules; its names are offered here too,
# where callers have always found them.
from tokenprobe.renormalise import (  # noqa: F401
    CandidateAt,
    TemperatureView,
    entropy_at_temperature,
    is_chosen,
    step_at_temperature,
    tail_logsumexp_at,
    tail_sum_bounds,
)
from tokenprobe.sampled import step_sampled  # noqa: F401

# Temperatures at which every local step stores the exact tail sum (log Σ exp(lp_j / T) over
# the tokens not in `top`), as β = 1/T. Each is a dot product of two powers of e = exp(x - m)
# that cost one sqrt or one product to make (see RowAnalyzer.analyze), so the whole grid
# costs about as much as one more exp pass. The grid is densest at small β, where the
# function bends most (the tail's many unlikely tokens take over as T grows); between the
# points `tail_logsumexp_at` interpolates in β.
TAIL_BETAS: tuple[float, ...] = (0.5, 0.625, 0.75, 1.0, 1.125, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0)
TAIL_TEMPERATURES: tuple[float, ...] = tuple(round(1.0 / b, 6) for b in TAIL_BETAS)

# Rows up to this many tokens take shorter paths (top-N, sampling) whose cost is mostly the
# number of numpy calls rather than the passes over memory that larger rows save.
SMALL_ROW = 4096

Float32Array = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.intp]


@dataclass
class RowStats:
    """What one row of logits says about the token chosen from it."""

    lse: float  # logsumexp of the raw logits (T = 1)
    entropy: float  # exact entropy over the full vocabulary, in nats
    top_ids: IntArray  # top-N token ids, most likely first
    top_logprobs: npt.NDArray[np.float64]  # their raw logprobs
    tail_logsumexp: list[float]  # one value per TAIL_BETAS entry (see Step.tail_logsumexp)
    row_max: float = 0.0
    # The row's own distribution (T = 1, every token), float32, when analyze was asked for
    # it: what process(row, 1.0) would compute again, made from the same exp pass.
    probs: Float32Array | None = None

    def raw_distribution(self) -> Processed:
        """The distribution at T = 1 without top-k / top-p: the probabilities that
        process(row, 1.0) gives (the same float32 numbers), from analyze's own exp pass; its
        tail sum is the tail summary's at T = 1."""
        assert self.probs is not None, "analyze(..., raw_probs=True) keeps the row's probs"
        # Σ_{j∉top} e^{x_j - m} = e^{tail(β=1) + log s}, log s = lse - m
        tail = self.tail_logsumexp[TAIL_BETAS.index(1.0)]
        return Processed(None, self.probs, row_max=self.row_max,
                         tail_log_norm=(tail + self.lse - self.row_max) if tail > _NEG_FLOOR
                         else _NEG_FLOOR)


class RowAnalyzer:
    """Computes RowStats for rows of one vocabulary size, reusing its buffers."""

    def __init__(self, n_vocab: int) -> None:
        self.n_vocab = n_vocab
        # Four scratch rows, reused in turn: the working set stays small because the
        # decode between two calls evicts the caches.
        self._buf = [np.empty(n_vocab, dtype=np.float32) for _ in range(4)]
        self._margin = 8.0  # nats below the max that usually hold the top-N; adapts

    def top_n(self, row: Float32Array, n: int, row_max: float) -> IntArray:
        """Ids of the n largest logits, largest first, without sorting the vocabulary.

        Most rows have few tokens near the maximum, so we first take the tokens within a
        margin of the max (one comparison pass) and partition only those; the margin grows
        when it held too few. Ties are broken by the lower id, as argmax does.
        """
        if n <= 0:
            return np.empty(0, dtype=np.intp)
        n = min(n, row.shape[0])
        if row.shape[0] <= SMALL_ROW:
            # A small vocabulary (a character model): one partition of the whole row costs
            # less than the margin's extra passes.
            v = row.shape[0]  # (partitioning the row itself: no negated copy)
            cand = np.argpartition(row, v - n)[v - n:] if n < v else np.arange(n)
            return cand[np.lexsort((cand, -row[cand].astype(np.float64)))]
        margin = self._margin
        while True:
            cand = np.flatnonzero(row >= row_max - margin)
            if cand.shape[0] >= n or margin > 1e4:
                break
            margin *= 2.0
        # Next time, aim for a few times n candidates: too many makes the partition slow.
        if cand.shape[0] > 8 * n + 64:
            margin *= 0.8
        self._margin = max(0.5, min(margin, 64.0))
        if cand.shape[0] > n:
            vals = row[cand]
            part = np.argpartition(-vals, n - 1)[:n]
            cand = cand[part]
        # Stable sort on (-value, id) so equal logits come out in id order.
        order = np.lexsort((cand, -row[cand].astype(np.float64)))
        return cand[order]

    def analyze(self, row: Float32Array, n_top: int, raw_probs: bool = False) -> RowStats:
        """The row's statistics; with `raw_probs`, also its distribution at T = 1 (for a
        draw without temperature, top-k or top-p: RowStats.raw_distribution)."""
        d, e, r, q = self._buf
        m = float(row.max())
        if not math.isfinite(m):
            # A NaN or +inf logit (a broken model or file; numpy's max passes NaN on):
            # every number of the row would be NaN, and none may reach a trace.
            raise ModelError("the model gave a logit that is not a finite number (NaN or "
                             "infinity): its weights or its file may be damaged")
        np.subtract(row, np.float32(m), out=d)  # d = x - m <= 0
        np.exp(d, out=e)
        s = float(e.sum(dtype=np.float64))
        log_s = math.log(s)
        lse = m + log_s
        # H = -Σ p (d - log s) = log s - Σ e d / s. Using d rather than x keeps the dot
        # product small, so large logits (1e4) lose no precision to cancellation.
        entropy = max(log_s - float(np.dot(e, d)) / s, 0.0)
        probs = e / np.float32(s) if raw_probs else None  # before the top-N are zeroed
        top_ids = self.top_n(row, n_top, m)
        top_lp = row[top_ids].astype(np.float64) - lse
        # Tail sums exclude the top-N exactly (zeroed, so no cancellation). Σ e^β for each
        # β in TAIL_BETAS is one dot product of two cheap powers of e (sqrt or product).
        e[top_ids] = 0.0
        np.sqrt(e, out=r)  # e^0.5
        np.sqrt(r, out=q)  # e^0.25
        o = d  # d is no longer needed
        np.sqrt(q, out=o)  # e^0.125
        sums = {
            0.5: np.dot(q, q), 0.625: np.dot(o, r), 0.75: np.dot(q, r), 1.0: np.dot(r, r),
            1.125: np.dot(o, e), 1.25: np.dot(q, e), 1.5: np.dot(r, e), 2.0: np.dot(e, e),
        }
        e2 = o
        np.multiply(e, e, out=e2)
        sums[2.5] = np.dot(r, e2)
        sums[3.0] = np.dot(e, e2)
        sums[4.0] = np.dot(e2, e2)
        # Σ e^β -> log Σ exp(β lp) with lp = x - lse = d - log s.
        tail = []
        for b in TAIL_BETAS:
            v = float(sums[b])
            tail.append((math.log(v) - b * log_s) if v > 0.0 else _NEG_FLOOR)
        return RowStats(lse, entropy, top_ids, top_lp, tail, m, probs)


# A tail with no mass at all (every token is in `top`) is stored as this log value rather
# than -inf, which JSON cannot carry; exp() of it is 0.0 in float64.
_NEG_FLOOR = -1e4


# ---------------------------------------------------------------------------------------
# Processing (temperature, top-k, top-p) and sampling


@dataclass
class Processed:
    """The distribution a token is drawn from: kept token ids and their probabilities.

    `tail_log_norm` is log Σ exp((x_j - row_max) / T) over the tokens not in `exclude`
    (before top-k / top-p), when process() was given `exclude`: the tail sum at the
    sampling temperature, which a trace stores so that its sampled distribution is exact.
    """

    ids: IntArray | None  # None means the whole vocabulary, in id order
    probs: npt.NDArray[np.float64] | npt.NDArray[np.float32]  # sums to 1 over `ids`
    greedy: bool = False
    row_max: float = 0.0
    tail_log_norm: float | None = None

    def logprob_of(self, token_id: int) -> float | None:
        """log p(token) under this distribution; None when the token was cut away."""
        if self.ids is None:
            p = float(self.probs[token_id])
        else:
            hit = np.flatnonzero(self.ids == token_id)
            if hit.shape[0] == 0:
                return None
            p = float(self.probs[hit[0]])
        return math.log(p) if p > 0.0 else None


def process(
    row: Float32Array,
    temperature: float,
    top_k: int = 0,
    top_p: float = 1.0,
    exclude: IntArray | None = None,
) -> Processed:
    """Apply temperature, then top-k, then top-p (the order vLLM and transformers use).

    Temperature 0 is greedy: a point mass on the argmax (lowest id among ties).
    """
    if temperature < 0:
        raise ValueError("temperature must be >= 0")
    if temperature == 0.0:
        best = int(np.argmax(row))
        return Processed(np.array([best], dtype=np.intp), np.array([1.0]), greedy=True)
    m = float(row.max())
    scaled = (row - np.float32(m)) * np.float32(1.0 / temperature)
    p = np.exp(scaled)
    total = float(p.sum(dtype=np.float64))
    tail_log_norm = None
    if exclude is not None:
        tail = total - float(p[exclude].sum(dtype=np.float64))
        tail_log_norm = math.log(tail) if tail > 0.0 else _NEG_FLOOR
    ids: IntArray | None = None
    if top_k and 0 < top_k < row.shape[0]:
        ids = np.argpartition(-scaled, top_k - 1)[:top_k]
        ids = ids[np.lexsort((ids, -scaled[ids].astype(np.float64)))]
    if top_p < 1.0:
        probs_all = p if ids is None else p[ids]
        norm = total if ids is None else float(probs_all.sum(dtype=np.float64))
        ids = _nucleus(probs_all / np.float32(norm), top_p, ids)
    if ids is None:
        return Processed(None, p / np.float32(total), row_max=m, tail_log_norm=tail_log_norm)
    kept = p[ids].astype(np.float64)
    return Processed(ids, kept / kept.sum(), row_max=m, tail_log_norm=tail_log_norm)


def _nucleus(
    probs: npt.NDArray[np.float32], top_p: float, base: IntArray | None
) -> IntArray:
    """The smallest most-likely set whose mass reaches top_p, by growing partial sorts."""
    n = probs.shape[0]
    k = min(64, n)
    while True:
        idx = np.argpartition(-probs, k - 1)[:k] if k < n else np.arange(n)
        idx = idx[np.lexsort((idx, -probs[idx].astype(np.float64)))]
        cum = np.cumsum(probs[idx], dtype=np.float64)
        cut = int(np.searchsorted(cum, top_p - 1e-12)) + 1
        if cut <= k or k >= n:
            idx = idx[: min(cut, k)]
            return base[idx] if base is not None else idx
        k = min(k * 4, n)


class Sampler:
    """A seeded sampler: the same seed and the same distributions give the same tokens."""

    def __init__(self, seed: int | None) -> None:
        self.rng = np.random.Generator(np.random.PCG64(seed))

    def sample(self, dist: Processed) -> int:
        if dist.greedy:
            assert dist.ids is not None
            return int(dist.ids[0])
        u = float(self.rng.random())
        probs = dist.probs
        n = probs.shape[0]
        if n <= SMALL_ROW:
            # One cumulative sum in float64 (a character model's row): the same inverse CDF
            # as the two levels below, in fewer calls.
            cum = np.cumsum(probs, dtype=np.float64)
            j = min(int(np.searchsorted(cum, u * float(cum[-1]), side="right")), n - 1)
            while probs[j] <= 0 and j > 0:
                j -= 1
            return j if dist.ids is None else int(dist.ids[j])
        # Two-level inverse CDF in float64: block sums, then a cumsum inside one block.
        block = 512
        starts = np.arange(0, n, block)
        sums = np.add.reduceat(probs.astype(np.float64, copy=False), starts)
        total = float(sums.sum())
        target = u * total
        cum = np.cumsum(sums)
        b = min(int(np.searchsorted(cum, target, side="right")), len(starts) - 1)
        before = float(cum[b - 1]) if b > 0 else 0.0
        inner = np.cumsum(probs[starts[b] : starts[b] + block], dtype=np.float64)
        j = min(int(np.searchsorted(inner, target - before, side="right")), inner.shape[0] - 1)
        # Never return a zero-probability token through rounding at the block edge.
        while probs[starts[b] + j] <= 0 and j > 0:
            j -= 1
        pos = int(starts[b] + j)
        return pos if dist.ids is None else int(dist.ids[pos])


# ---------------------------------------------------------------------------------------
# Reference math (float64, whole vocabulary) used by tests and by non-hot paths


def logsumexp(x: npt.ArrayLike) -> float:
    a = np.asarray(x, dtype=np.float64)
    m = float(a.max())
    if math.isinf(m):
        return m
    return m + math.log(float(np.exp(a - m).sum()))


def entropy_of_logprobs(lp: npt.ArrayLike) -> float:
    a = np.asarray(lp, dtype=np.float64)
    p = np.exp(a)
    mask = p > 0
    return float(-(p[mask] * a[mask]).sum())
