"""Re-normalising a recorded step at another temperature: a point value, or bounds.

A step lists its top-N candidates with their raw logprobs (T = 1). At temperature T
(β = 1/T) candidate i has p_i^β / Σ_j p_j^β, the sum running over the whole vocabulary.
With the local engine's tail summary (`Step.tail_logsumexp`) the unlisted part of that sum
is known at a grid of temperatures and interpolated between them, so each value is a
point. Without one (servers, imports, plugins) only the listed p_i and the unlisted mass
are known: each value is then an interval that holds for every distribution consistent
with them (`tail_sum_bounds`; docs/architecture.md, "Temperature re-normalisation").

It leaves out the distribution a token was sampled from, after top-k and top-p
(sampled.py), anything over logits (distribution.py) and how values are shown (views/).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tokenprobe.trace import Candidate, Step, is_chosen

# Logprobs below this are taken as this in the bounds: exp() of them is still a normal
# float64, so ratios of probabilities never divide by an underflowed zero (1e-304 or less
# is nothing any view shows).
_LP_FLOOR = -700.0
_EPS = 2.0 ** -52


@dataclass
class CandidateAt:
    """One listed candidate's probability at a temperature: a point, or bounds.

    `low == high` when the value is known; otherwise the true value lies in [low, high]
    and no point within it is implied.
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

    `candidates` follow the step's `top` order (those with a logprob). accuracy:
    - "exact": known exactly (a stored tail temperature of the local engine; T = 1 or
      nothing unlisted for a top-N list; a sampled distribution fixed by its settings);
    - "interpolated": between the stored tail temperatures (docs/architecture.md gives the
      error bound);
    - "approximate": outside the stored grid (the end chord extended);
    - "bounded": each value is an interval [low, high] that holds for any distribution
      consistent with what was recorded (without a tail summary: only the listed
      probabilities, the unlisted mass, each unlisted token at most as likely as the least
      likely listed one, and at most V − N of them; see tail_sum_bounds).
    `tail_low` / `tail_high`: the probability outside the list (equal when known).
    `basis`: "summary" (the local engine's tail summary covers the whole vocabulary),
    "listed" (only the top N were reported) or "reported" (the server's own values after
    its samplers, shown as they are).
    `vocab_known`: whether V was known. Without it the bounds can use no count of unlisted
    tokens: the unlisted mass may be spread over any number of them, so at T < 1 it may
    vanish (a listed token's upper bound and the tail's lower bound are those of the listed
    tokens alone) and at T > 1 it may take everything (a listed token's lower bound is 0,
    the tail's upper bound 1).
    `reason`: the note's text where the maker has a more specific one.
    """

    temperature: float
    candidates: list[CandidateAt]
    tail_low: float | None
    tail_high: float | None
    accuracy: str
    log_z: float | None = None  # log Σ exp(lp/T) over the vocabulary (summary traces only)
    vocab_known: bool = True
    basis: str = "summary"
    reason: str = ""

    @property
    def is_range(self) -> bool:
        return self.accuracy == "bounded"

    @property
    def note(self) -> str:
        """One line saying how the values were made (for a view to print beside them)."""
        if self.reason:
            return self.reason
        if self.basis == "reported":
            return "as the server reported them, after its samplers"
        if self.basis == "listed":
            n = len(self.candidates)
            if self.accuracy == "exact":
                return (f"as reported (T = {self.temperature:g})" if self.temperature == 1.0
                        else f"exact: the top {n} reported leave nothing unknown")
            why = (f"only the top {n} were reported, so away from T = 1 each value is a "
                   "range over every distribution consistent with them")
            if not self.vocab_known:
                why += " (vocabulary size unknown: the widest ranges)"
            return why
        if self.accuracy == "exact":
            return "exact over the whole vocabulary"
        if self.accuracy == "interpolated":
            return "over the whole vocabulary, the tail interpolated between stored temperatures"
        if self.accuracy == "bounded":
            return "over the whole vocabulary; ranges where the kept tokens are not known"
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
    More mass than `count` × `cap` cannot be (rounding in the data): the excess is dropped.
    """
    if mass <= 0.0 or count == 0:
        return 0.0, 0.0
    if beta == 1.0:
        return mass, mass
    if count is not None:
        mass = min(mass, count * cap)
    if cap <= 0.0 or mass <= 0.0 or not math.isfinite(mass / cap):
        # Every unlisted token is (all but) 0 while the mass is not: only infinitely many
        # of them can hold it, which at β > 1 weighs nothing and at β < 1 everything.
        return (0.0, 0.0) if beta > 1.0 else (math.inf, math.inf)
    n_full = math.floor(mass / cap)
    rest = max(mass - n_full * cap, 0.0)
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


@dataclass
class Weights:
    """A step at one β = 1/T as weights p^β, scaled so the top listed token weighs 1.

    `w`: the listed candidates' (in `listed` order, the step's `top` order); `w_out`: the
    chosen token's when it is outside the list and its logprob is known (else 0); the
    other unlisted tokens' weights sum to between `s_low` and `s_high`, each is at most
    `u_max`, and there are at most `count` of them (None: unknown). `log_scale` is the
    log of the scale (β × the top listed logprob). `accuracy` is how `s_low`/`s_high`
    were made: the tail summary's label, or "bounded" / "exact" for a top-N list.
    """

    listed: list[Candidate]
    w: list[float]
    w_out: float
    s_low: float
    s_high: float
    u_max: float
    count: int | None
    log_scale: float
    accuracy: str
    basis: str

    @property
    def tail_known(self) -> bool:
        return self.s_low == self.s_high


def step_weights(
    step: Step,
    beta: float,
    tail_temperatures: list[float] | None,
    vocab_size: int | None,
) -> Weights | None:
    """What is known of the step's distribution at β (None when nothing is listed)."""
    listed = [c for c in step.top if c.logprob is not None]
    if not listed:
        return None
    lps = [max(c.logprob, _LP_FLOOR) for c in listed]  # type: ignore[type-var]
    top_lp = max(lps)
    w = [math.exp(beta * (lp - top_lp)) for lp in lps]
    out_lp = None
    if step.logprob is not None and not any(is_chosen(step, c) for c in listed):
        out_lp = max(step.logprob, _LP_FLOOR)
    w_out = math.exp(beta * (out_lp - top_lp)) if out_lp is not None else 0.0
    n_known = len(listed) + (out_lp is not None)
    count = max(vocab_size - n_known, 0) if vocab_size is not None else None
    cap_lp = min(lps)
    u_max = math.exp(beta * (cap_lp - top_lp))
    log_scale = beta * top_lp
    if step.tail_logsumexp is not None and tail_temperatures:
        tail_lse, accuracy = tail_logsumexp_at(1.0 / beta, tail_temperatures,
                                               step.tail_logsumexp)
        # The summary covers every token outside `top`, the chosen one among them.
        s = max(math.exp(tail_lse - log_scale) - w_out, 0.0)
        return Weights(listed, w, w_out, s, s, u_max, count, log_scale, accuracy, "summary")
    # The unlisted mass 1 − Σ known p, as −expm1(log Σ known p): when the list holds nearly
    # everything, 1 − Σ would lose the few digits that are left to cancellation.
    known = lps + ([out_lp] if out_lp is not None else [])
    mass = max(-math.expm1(_lse(known)), 0.0)
    # Scaled by the top listed p (cap and mass alike), the sums come out scaled by its β-th
    # power, as the weights are.
    scale, cap = math.exp(-top_lp), math.exp(cap_lp - top_lp)
    if beta == 1.0:
        s_low, s_high = tail_sum_bounds(mass * scale, cap, count, beta)
    else:
        # The mass is known to the rounding of the sum it comes from; away from T = 1 a
        # rounding-sized mass spread over many tokens still weighs (p^β grows as β falls),
        # so the bounds take the mass within that rounding.
        slack = 4.0 * (len(known) + 1) * _EPS
        s_low = tail_sum_bounds(max(mass - slack, 0.0) * scale, cap, count, beta)[0]
        s_high = tail_sum_bounds((mass + slack) * scale, cap, count, beta)[1]
    if s_high - s_low <= 1e-12:
        # As close as rounding: the top listed weighs 1, so this moves no value visibly.
        s_low = s_high = (s_low + s_high) / 2
    accuracy = "exact" if s_low == s_high else "bounded"
    return Weights(listed, w, w_out, s_low, s_high, u_max, count, log_scale, accuracy, "listed")


def _lse(xs: list[float]) -> float:
    """log Σ exp(x), with log1p around the largest term (exact when one term dominates)."""
    i = max(range(len(xs)), key=xs.__getitem__)
    m = xs[i]
    rest = math.fsum(math.exp(x - m) for j, x in enumerate(xs) if j != i)
    return m + math.log1p(rest)


def step_at_temperature(
    step: Step,
    temperature: float,
    tail_temperatures: list[float] | None,
    vocab_size: int | None = None,
) -> TemperatureView:
    """The step's listed candidates re-normalised at `temperature` (> 0).

    With a tail summary (local engine) the normaliser covers the whole vocabulary and each
    value is a point. Without one, only the listed probabilities and the unlisted mass are
    known, and each value is bounded (see TemperatureView, tail_sum_bounds): candidate i is
    w_i / (H + S) with H the listed weights (and the chosen token's when it is unlisted),
    so its lower bound takes the largest unlisted sum S and its upper bound the smallest.
    """
    if temperature <= 0:
        raise ValueError("temperature must be > 0")
    weights = step_weights(step, 1.0 / temperature, tail_temperatures, vocab_size)
    if weights is None:
        return TemperatureView(temperature, [], None, None, "bounded", None,
                               vocab_size is not None, "listed")
    return normalised_view(weights, temperature, vocab_size is not None)


def normalised_view(wt: Weights, temperature: float, vocab_known: bool) -> TemperatureView:
    """Every listed candidate w_i / Z with Z = H + w_out + S, S anywhere in its bounds."""
    h = math.fsum(wt.w) + wt.w_out
    if wt.tail_known:
        z = h + wt.s_low
        cands = [CandidateAt(c, x / z, x / z) for c, x in zip(wt.listed, wt.w)]
        tail = (wt.s_low + wt.w_out) / z
        log_z = wt.log_scale + math.log(z) if wt.basis == "summary" else None
        return TemperatureView(temperature, cands, tail, tail, wt.accuracy, log_z,
                               vocab_known or wt.basis == "summary", wt.basis)
    z_low, z_high = h + wt.s_low, h + wt.s_high  # z_high may be inf
    cands = [CandidateAt(c, x / z_high, x / z_low) for c, x in zip(wt.listed, wt.w)]
    tail_low = (wt.s_low + wt.w_out) / z_low
    tail_high = 1.0 if math.isinf(z_high) else (wt.s_high + wt.w_out) / z_high
    return TemperatureView(temperature, cands, tail_low, tail_high, "bounded", None,
                           vocab_known, wt.basis)


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
    log_z = _lse([beta * lp for lp in listed] + [tail])
    mean_lp = math.fsum(math.exp(beta * lp - log_z) * lp for lp in listed)
    mean_lp += math.exp(tail - log_z) * slope
    return max(log_z - beta * mean_lp, 0.0)
