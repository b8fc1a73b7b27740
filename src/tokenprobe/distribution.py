"""Distribution math over one row of logits, and re-normalisation of recorded steps.

From a row of logits (262,144 floats for Gemma 3) this module computes, without ever sorting
the whole vocabulary: logsumexp, the exact entropy, the top-N tokens, the tail summary that
lets a view re-normalise the distribution at another temperature, and the processed
(temperature / top-k / top-p) distribution that a seeded sampler draws from.

Hot-path functions work in float32 with float64 accumulators and reuse preallocated buffers,
because they run once per generated token and must cost a small fraction of a decode.

It leaves out anything that knows about models or traces' provenance (backends/), and how
numbers are shown (views/).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tokenprobe.trace import Candidate, Step

# Temperatures at which every local step stores the exact tail sum (log Σ exp(lp_j / T) over
# the tokens not in `top`), as β = 1/T. Each is a dot product of two powers of e = exp(x - m)
# that cost one sqrt or one product to make (see RowAnalyzer.analyze), so the whole grid
# costs about as much as one more exp pass. The grid is densest at small β, where the
# function bends most (the tail's many unlikely tokens take over as T grows); between the
# points `tail_logsumexp_at` interpolates in β.
TAIL_BETAS: tuple[float, ...] = (0.5, 0.625, 0.75, 1.0, 1.125, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0)
TAIL_TEMPERATURES: tuple[float, ...] = tuple(round(1.0 / b, 6) for b in TAIL_BETAS)

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

    def analyze(self, row: Float32Array, n_top: int) -> RowStats:
        d, e, r, q = self._buf
        m = float(row.max())
        np.subtract(row, np.float32(m), out=d)  # d = x - m <= 0
        np.exp(d, out=e)
        s = float(e.sum(dtype=np.float64))
        log_s = math.log(s)
        lse = m + log_s
        # H = -Σ p (d - log s) = log s - Σ e d / s. Using d rather than x keeps the dot
        # product small, so large logits (1e4) lose no precision to cancellation.
        entropy = max(log_s - float(np.dot(e, d)) / s, 0.0)
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
        return RowStats(lse, entropy, top_ids, top_lp, tail)


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


# ---------------------------------------------------------------------------------------
# Re-normalising a recorded step at another temperature


@dataclass
class CandidateAt:
    """One listed candidate's probability at a temperature: a point, or bounds.

    `low == high` when the value is known (the trace carries the exact tail summary);
    otherwise the true value lies in [low, high] and no point within it is implied.
    """

    candidate: Candidate
    low: float
    high: float

    @property
    def prob(self) -> float | None:
        """The value when it is a point, else None (only bounds are known)."""
        return self.low if self.low == self.high else None


@dataclass
class TemperatureView:
    """A step's listed candidates at temperature T, and how much is known about the rest.

    accuracy:
    - "exact": T is one of the stored tail temperatures (local engine);
    - "interpolated": between them (see docs/architecture.md for the error bound);
    - "approximate": outside the stored grid (the end chord extended);
    - "bounded": no tail summary (servers, imports, plugins). Only the listed candidates'
      probabilities and the tail mass 1 − Σp are known; each unlisted token is at most as
      likely as the least likely listed one, and there are at most V − N of them. Every
      value is then an interval [low, high] that holds for any distribution consistent
      with the data (distribution.tail_sum_bounds).
    `tail_low` / `tail_high`: the probability outside the list (equal when known).
    `vocab_known`: whether V was known; without it the bounds that need V are open
    (at T < 1 a listed token's upper bound, at T > 1 its lower bound is 0 and the tail's
    upper bound 1).
    """

    temperature: float
    candidates: list[CandidateAt]
    tail_low: float | None
    tail_high: float | None
    accuracy: str
    log_z: float | None = None  # log Σ exp(lp/T) over the vocabulary (summary traces only)
    vocab_known: bool = True

    @property
    def is_range(self) -> bool:
        return self.accuracy == "bounded"

    @property
    def note(self) -> str:
        """One line saying how the values were made (for a view to print beside them)."""
        n = len(self.candidates)
        if self.accuracy == "bounded":
            why = (f"only the top {n} were reported, so at T = {self.temperature:g} each "
                   "value is a range over every distribution consistent with them")
            if not self.vocab_known:
                why += " (vocabulary size unknown: the widest range)"
            return why
        if self.accuracy == "exact":
            return "exact over the whole vocabulary"
        if self.accuracy == "interpolated":
            return "over the whole vocabulary, the tail interpolated between stored temperatures"
        return "over the whole vocabulary, the tail extrapolated beyond stored temperatures"


def tail_sum_bounds(
    mass: float, cap: float, count: int | None, beta: float
) -> tuple[float, float]:
    """Bounds on Σ_j p_j^β over unlisted tokens with Σ p_j = mass, 0 ≤ p_j ≤ cap and at
    most `count` of them (None: unknown, unbounded).

    p^β is convex for β > 1 and concave for β < 1, so the sum is extreme at the two
    extreme ways of spreading the mass: concentrated (as few tokens as possible, each at
    the cap, plus one remainder) and even (all `count` tokens equal). For β > 1 the
    concentrated spread is the largest and the even one the smallest; for β < 1 the
    reverse. Returns (low, high); high may be inf when `count` is unknown and β < 1.
    """
    if mass <= 0.0 or count == 0:
        return 0.0, 0.0
    if beta == 1.0:
        return mass, mass
    if count is not None:
        mass = min(mass, count * cap)  # more than count × cap cannot be: rounding
    n_full = math.floor(mass / cap)
    rest = mass - n_full * cap
    conc = (n_full * math.exp(beta * math.log(cap)) if n_full else 0.0) + (
        math.exp(beta * math.log(rest)) if rest > 0.0 else 0.0
    )
    if count is None:
        even = 0.0 if beta > 1.0 else math.inf
    else:
        even = math.exp(beta * math.log(mass) + (1.0 - beta) * math.log(count))
    return (even, conc) if beta > 1.0 else (conc, even)


def tail_logsumexp_at(
    temperature: float, temps: list[float], values: list[float]
) -> tuple[float, str]:
    """log Σ exp(lp/T) over the tail at any T, from the stored grid.

    Interpolates in β = 1/T, where the function is smooth and convex (a log-partition
    function), with the cubic through the four nearest grid points (a local cubic keeps
    the true curvature at the ends of the grid, where a natural spline would force it to
    zero); outside the grid it extends the end chord and says "approximate".
    """
    beta = 1.0 / temperature
    pts = sorted(zip((1.0 / t for t in temps), values))
    xs = [b for b, _ in pts]
    ys = [v for _, v in pts]
    for b, v in pts:
        if abs(b - beta) < 1e-9:
            return v, "exact"
    if beta < xs[0] or beta > xs[-1]:
        i = 0 if beta < xs[0] else len(xs) - 2
        slope = (ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i])
        return ys[i] + slope * (beta - xs[i]), "approximate"
    return _local_cubic(xs, ys, beta), "interpolated"


def _local_cubic(xs: list[float], ys: list[float], x: float) -> float:
    """Lagrange interpolation through the (up to) four grid points nearest to x."""
    n = len(xs)
    if n <= 2:
        t = (x - xs[0]) / (xs[1] - xs[0])
        return ys[0] + t * (ys[1] - ys[0])
    k = max(i for i in range(n - 1) if xs[i] <= x)  # x in [xs[k], xs[k+1]]
    lo = min(max(k - 1, 0), max(n - 4, 0))
    idx = range(lo, min(lo + 4, n))
    total = 0.0
    for i in idx:
        w = 1.0
        for j in idx:
            if j != i:
                w *= (x - xs[j]) / (xs[i] - xs[j])
        total += w * ys[i]
    return total


def step_at_temperature(
    step: Step,
    temperature: float,
    tail_temperatures: list[float] | None,
    vocab_size: int | None = None,
) -> TemperatureView:
    """The step's listed candidates re-normalised at `temperature` (> 0).

    With a tail summary (local engine) the normaliser covers the whole vocabulary and each
    value is a point. Without one, only the listed probabilities and the unlisted mass are
    known, and each value is bounded (see TemperatureView, tail_sum_bounds).
    """
    if temperature <= 0:
        raise ValueError("temperature must be > 0")
    listed = [c for c in step.top if c.logprob is not None]
    beta = 1.0 / temperature
    if not listed:
        return TemperatureView(temperature, [], None, None, "bounded", None,
                               vocab_size is not None)
    scaled = [beta * c.logprob for c in listed]  # type: ignore[operator]
    head = logsumexp(scaled)
    if step.tail_logsumexp is not None and tail_temperatures:
        tail_lse, accuracy = tail_logsumexp_at(
            temperature, tail_temperatures, step.tail_logsumexp
        )
        log_z = logsumexp([head, tail_lse])
        tail = math.exp(tail_lse - log_z)
        points = [CandidateAt(c, math.exp(x - log_z), math.exp(x - log_z))
                  for c, x in zip(listed, scaled)]
        return TemperatureView(temperature, points, tail, tail, accuracy, log_z)
    return _bounded_view(step, listed, scaled, head, temperature, vocab_size)


def _bounded_view(
    step: Step,
    listed: list[Candidate],
    scaled: list[float],
    head: float,
    temperature: float,
    vocab_size: int | None,
) -> TemperatureView:
    beta = 1.0 / temperature
    known = sum(math.exp(c.logprob) for c in listed)  # type: ignore[arg-type]
    n_known = len(listed)
    # The chosen token, when it is outside the list, is known mass too (not unknown tail).
    extra = 0.0
    if step.logprob is not None and not any(is_chosen(step, c) for c in listed):
        extra = math.exp(step.logprob)
        n_known += 1
    mass = max(0.0, 1.0 - known - extra)
    cap = min(math.exp(c.logprob) for c in listed)  # type: ignore[arg-type]
    count = max(vocab_size - n_known, 0) if vocab_size is not None else None
    s_lo, s_hi = tail_sum_bounds(mass, cap, count, beta)
    w_extra = math.exp(beta * step.logprob) if extra > 0.0 else 0.0  # type: ignore[operator]
    h = math.exp(head) + w_extra

    def share(x: float, s: float) -> float:
        return 0.0 if math.isinf(s) else math.exp(x - math.log(h + s))

    cands = [CandidateAt(c, share(x, s_hi), share(x, s_lo)) for c, x in zip(listed, scaled)]
    tail_lo = (s_lo + w_extra) / (h + s_lo)
    tail_hi = 1.0 if math.isinf(s_hi) else (s_hi + w_extra) / (h + s_hi)
    accuracy = "exact" if s_lo == s_hi else "bounded"  # T = 1, or nothing unlisted
    return TemperatureView(temperature, cands, tail_lo, tail_hi, accuracy, None,
                           vocab_size is not None)


def is_chosen(step: Step, c: Candidate) -> bool:
    """Whether candidate `c` is the token chosen at `step` (by id when both have one)."""
    if step.id is not None and c.id is not None:
        return c.id == step.id
    return c.data == step.data


def step_sampled(
    step: Step,
    temperature: float | None,
    top_k: int | None,
    top_p: float | None,
    tail_temperatures: list[float] | None,
) -> TemperatureView | None:
    """The listed candidates under the distribution the token was drawn from.

    Temperature, then top-k, then top-p, as the local engine samples. The mass that
    top-k / top-p kept is recovered exactly from the step's `sample_logprob` (the chosen
    token's processed probability) when it is known. Returns None for greedy decoding
    (a point mass on the top token: nothing to show beyond the raw distribution).
    """
    if temperature is None or temperature == 0.0:
        return None
    view = step_at_temperature(step, temperature, tail_temperatures)
    if not view.probs:
        return view
    kept: list[bool] = []
    cum = 0.0
    for i, (_, p) in enumerate(view.probs):
        ok = (not top_k or i < top_k) and (top_p is None or top_p >= 1.0 or cum < top_p)
        kept.append(ok)
        cum += p
    truncated = bool(top_k) or (top_p is not None and top_p < 1.0)
    kept_mass: float | None = 1.0
    if truncated:
        kept_mass = None
        if step.sample_logprob is not None and step.logprob is not None and view.log_z is not None:
            p_chosen = math.exp(step.logprob / temperature - view.log_z)
            kept_mass = p_chosen / math.exp(step.sample_logprob)
    if kept_mass is None or kept_mass <= 0:
        return TemperatureView(temperature, view.probs, view.tail, "approximate", view.log_z)
    probs = [(c, p / kept_mass if k else 0.0) for (c, p), k in zip(view.probs, kept)]
    rest = max(0.0, 1.0 - sum(p for _, p in probs))
    return TemperatureView(temperature, probs, rest, view.accuracy, view.log_z)


def entropy_at_temperature(
    step: Step, temperature: float, tail_temperatures: list[float] | None
) -> float | None:
    """Entropy (nats) of the step's distribution at `temperature`, from the tail summary.

    H = log Z(β) − β·E[lp], and the tail's share of E[lp] is exp(F)·F'(β) with F the
    interpolated log tail sum; F' is taken from the interpolant. None without a summary.
    """
    listed = [c.logprob for c in step.top if c.logprob is not None]
    if not listed or step.tail_logsumexp is None or not tail_temperatures:
        return None
    if temperature <= 0:
        return 0.0
    beta = 1.0 / temperature

    def f(b: float) -> float:
        return tail_logsumexp_at(1.0 / b, tail_temperatures, step.tail_logsumexp)[0]  # type: ignore[arg-type]

    h = 1e-3 * beta
    tail = f(beta)
    slope = (f(beta + h) - f(beta - h)) / (2 * h)  # E[lp] over the tail at β
    log_z = logsumexp([beta * lp for lp in listed] + [tail])
    mean_lp = math.fsum(math.exp(beta * lp - log_z) * lp for lp in listed)
    mean_lp += math.exp(tail - log_z) * slope
    return max(log_z - beta * mean_lp, 0.0)
