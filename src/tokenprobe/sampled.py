"""The distribution a recorded token was drawn from: temperature, then top-k, then top-p.

`step_sampled` shows a step's listed candidates under the sampling settings of its trace,
as a point where what was recorded fixes the value and as bounds where it does not (no
tail summary: servers, imports, plugins). The rules are in its docstring and in
docs/architecture.md ("Temperature re-normalisation").

It leaves out re-normalisation without top-k / top-p (renormalise.py), which it builds
on, and how values are shown (views/).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tokenprobe.renormalise import (
    CandidateAt,
    TemperatureView,
    Weights,
    is_chosen,
    step_at_temperature,
    step_weights,
)
from tokenprobe.trace import Step

# A top-p cut within this relative distance of a candidate is not taken as known: the
# recorded logprobs are rounded, and the engines compare with their own rounding.
_EDGE = 1e-9
# The chosen token's sampled probability, as servers round it, pins the kept mass only
# this closely; a listed token whose prefix ends within it of that mass counts as kept.
_PIN_EDGE = 1e-6


def step_sampled(
    step: Step,
    temperature: float | None,
    top_k: int | None,
    top_p: float | None,
    tail_temperatures: list[float] | None,
    vocab_size: int | None = None,
    logprobs_kind: str = "raw",
) -> TemperatureView | None:
    """The listed candidates under the distribution the token was drawn from.

    Temperature, then top-k, then top-p (the order of the local engine, vLLM and
    transformers; llama.cpp's default chain takes top-p before the temperature, so for its
    raw logprobs with top-p < 1 the kept set assumed here may differ). Rules:

    - None for greedy decoding or an unknown temperature (T = 0: a point mass on the top
      token, nothing beyond the raw distribution to show).
    - logprobs_kind "processed": the server reported its values after its samplers; they
      are the sampled distribution already and are shown as they are, never re-processed.
      "raw" and "unknown" values are taken as the softmax of the logits at T = 1.
    - No top-k / top-p: `step_at_temperature` (points with a tail summary, else bounds).
    - Weights w_i = p_i^β (β = 1/T); the kept set is a prefix of the tokens by probability
      (the top one is always kept), and the sampled value of a kept token is w_i / Q, Q
      the kept weight. Every unlisted token weighs at most the least listed one, so the
      listed tokens come first.
    - The chosen token's sampled probability (`sample_logprob`), when recorded with its
      logprob, pins Q = w_chosen / exp(sample_logprob): every value is then exact, and a
      listed token is kept when the prefix through it fits in Q.
    - top-k k ≤ N listed: the kept set is the top k listed, so Q is their weight: exact.
      k > N: the k − N heaviest unlisted tokens (the chosen one among them when unlisted)
      are kept; their weight lies between (k − N)/K of the unlisted sum's lower bound (K
      unlisted tokens; 0 with V unknown) and the smaller of that sum's upper bound and
      (k − N) × the weight cap.
    - top-p p: token i is kept when the weight before it is below p × Z, Z the weight
      top-k kept. With Z in [Z_lo, Z_hi] a listed token is surely kept below p × Z_lo,
      surely dropped from p × Z_hi, else undetermined; the chosen token was kept, so Z is
      above the weight before it over p. When the kept set is the same for every Z (it
      ends within the list, or nothing is unlisted) Q is known: exact. Otherwise Q lies
      within [max(sure prefix, prefix through the chosen, p × Z_lo),
      min(Z_hi, p × Z_hi + the heaviest possible last kept token, the prefix before the
      first surely dropped)]; a surely kept token is in [w/Q_hi, w/Q_lo], an undetermined
      one in [0, w / max(Q_lo, its prefix through itself)], a dropped one 0.
    """
    if temperature is None or temperature <= 0.0:
        return None
    if logprobs_kind == "processed":
        return _as_reported(step, temperature)
    wt = step_weights(step, 1.0 / temperature, tail_temperatures, vocab_size)
    vocab_known = vocab_size is not None
    k = top_k if top_k and top_k > 0 else None
    if k is not None and vocab_size is not None and k >= vocab_size:
        k = None
    p = top_p if top_p is not None and top_p < 1.0 else None
    if wt is None:
        return step_at_temperature(step, temperature, tail_temperatures, vocab_size)
    order = sorted(range(len(wt.w)), key=lambda i: -wt.w[i])  # stable: ties keep `top` order
    chosen = next((r for r, i in enumerate(order) if is_chosen(step, wt.listed[i])), None)
    pin = _pin(step, wt, order, chosen)
    if k is None and p is None and pin is None:
        return step_at_temperature(step, temperature, tail_temperatures, vocab_size)
    kept = _kept(wt, order, chosen, k, p)
    if pin is not None:
        kept = _pinned(wt, order, kept, pin)
    view = _view(wt, order, kept, temperature, vocab_known, pin is not None)
    view.reason = _reason(kept, wt, k, p, pin is not None)
    return view


@dataclass
class _Kept:
    """The kept mass Q in [q_low, q_high] (scaled weights) and, by rank among the listed,
    which are surely kept (`sure`), possibly kept (up to `maybe`) and dropped after."""

    q_low: float
    q_high: float
    sure: int
    maybe: int
    unlisted_low: float  # the kept unlisted weight's bounds (the chosen one's included)
    unlisted_high: float

    @property
    def known(self) -> bool:
        return self.q_low == self.q_high and self.sure == self.maybe


def _kept(wt: Weights, order: list[int], chosen: int | None, k: int | None,
          p: float | None) -> _Kept:
    n = len(order)
    ws = [wt.w[i] for i in order]
    prefix = [0.0]
    for x in ws:
        prefix.append(prefix[-1] + x)
    n_k = n if k is None else min(k, n)  # listed tokens inside the top-k
    h_k = prefix[n_k]
    # The unlisted weight top-k keeps.
    if k is not None and k <= n:
        u_low = u_high = 0.0  # (an unlisted chosen token contradicts the settings)
    else:
        slots = None if k is None else k - n - (wt.w_out > 0.0)
        u_low, u_high = _heaviest(wt, slots)
        u_low += wt.w_out
        u_high += wt.w_out
    z_low, z_high = h_k + u_low, h_k + u_high
    if p is None:
        return _Kept(z_low, z_high, n_k, n_k, u_low, u_high)
    # The chosen token was kept, so the weight before it was below p × Z.
    before = prefix[chosen] if chosen is not None else (h_k if wt.w_out > 0.0 else None)
    if before is not None and chosen is not None and chosen >= n_k:
        before = None  # a chosen token top-k cut away: the settings do not describe it
    if before is not None and before / p <= z_high:
        z_low = max(z_low, before / p)
    sure, maybe = 1, n_k  # the top token is always kept
    for r in range(1, n_k):
        if prefix[r] >= p * z_high * (1 + _EDGE):
            maybe = r
            break
        if prefix[r] < p * z_low * (1 - _EDGE) and sure == r:
            sure = r + 1
    unlisted = maybe == n_k and u_high > 0.0 and h_k < p * z_high * (1 + _EDGE)
    if sure == maybe and not unlisted:
        q = prefix[sure]
        return _Kept(q, q, sure, maybe, 0.0, 0.0)
    through_chosen = 0.0
    if chosen is not None and chosen < n_k:
        through_chosen = prefix[chosen + 1]
    elif wt.w_out > 0.0:
        through_chosen = h_k + wt.w_out
    q_low = max(prefix[sure], through_chosen, p * z_low)
    q_high = min(z_high, p * z_high + ws[sure - 1])
    if not unlisted:
        q_high = min(q_high, prefix[maybe])
    q_low = min(q_low, q_high)  # data the settings cannot explain: keep a range
    if unlisted:
        u_low = wt.w_out if wt.w_out > 0.0 else 0.0
        u_high = max(min(u_high, q_high - prefix[sure]), u_low)
    else:
        u_low = u_high = 0.0
    return _Kept(q_low, q_high, sure, maybe, u_low, u_high)


def _heaviest(wt: Weights, slots: int | None) -> tuple[float, float]:
    """Bounds on the weight of the `slots` heaviest unlisted tokens (None: all of them)."""
    if slots is None or (wt.count is not None and slots >= wt.count):
        return wt.s_low, wt.s_high
    if slots <= 0:
        return 0.0, 0.0
    # The heaviest `slots` of K tokens hold at least slots/K of their weight, and at most
    # `slots` tokens at the cap.
    low = wt.s_low * slots / wt.count if wt.count else 0.0
    return low, min(wt.s_high, slots * wt.u_max)


def _pin(step: Step, wt: Weights, order: list[int], chosen: int | None) -> float | None:
    """Q from the chosen token's recorded sampled probability, when there is one."""
    if step.sample_logprob is None or step.logprob is None:
        return None
    if chosen is not None:
        w_chosen = wt.w[order[chosen]]
    elif wt.w_out > 0.0:
        w_chosen = wt.w_out
    else:
        return None
    q = w_chosen / math.exp(step.sample_logprob)
    return q if math.isfinite(q) and q > 0.0 else None


def _pinned(wt: Weights, order: list[int], by_settings: _Kept, q: float) -> _Kept:
    """The kept set with Q known: a listed token is kept when Q is not reached before it,
    dropped when the prefix through it exceeds Q; a token too light to tell within the
    rounding of the recorded probability is left to the settings, else undetermined."""
    through = 0.0
    sure = maybe = len(order)
    for r, i in enumerate(order):
        before = through
        through += wt.w[i]
        # Kept for sure while Q is not reached before it (the kept set goes on past it).
        fits = r == 0 or r < by_settings.sure or before < q * (1 - _PIN_EDGE)
        if not fits and sure == len(order):
            sure = r
        if r > 0 and (r >= by_settings.maybe or through > q * (1 + _PIN_EDGE)):
            maybe = r
            break
    sure = min(sure, maybe)
    listed = [0.0]
    for i in order[:maybe]:
        listed.append(listed[-1] + wt.w[i])
    return _Kept(q, q, sure, maybe, max(q - listed[maybe], 0.0), max(q - listed[sure], 0.0))


def _view(wt: Weights, order: list[int], kept: _Kept, temperature: float,
          vocab_known: bool, pinned: bool) -> TemperatureView:
    rank = {i: r for r, i in enumerate(order)}
    cands = []
    prefix = 0.0
    through = {}
    for i in order:
        prefix += wt.w[i]
        through[i] = prefix
    for i, (c, x) in enumerate(zip(wt.listed, wt.w)):
        r = rank[i]
        if r < kept.sure:
            cands.append(CandidateAt(c, x / kept.q_high, x / kept.q_low))
        elif r < kept.maybe:
            cands.append(CandidateAt(c, 0.0, x / max(kept.q_low, through[i])))
        else:
            cands.append(CandidateAt(c, 0.0, 0.0))
    if kept.known:
        # The kept weight is known, and the tail is what the listed kept leave.
        listed = math.fsum(x for i, x in enumerate(wt.w) if rank[i] < kept.sure)
        tail = max(kept.q_low - listed, 0.0) / kept.q_low if kept.unlisted_high > 0.0 else 0.0
        # Only a kept mass that takes in unlisted tokens depends on how the tail was made.
        exact = pinned or kept.unlisted_high == 0.0 or wt.basis == "listed"
        return TemperatureView(temperature, cands, tail, tail,
                               "exact" if exact else wt.accuracy, None, vocab_known, wt.basis)
    tail_low = kept.unlisted_low / kept.q_high if kept.unlisted_low > 0.0 else 0.0
    listed_max = math.fsum(wt.w[i] for i in order[:kept.maybe])
    if kept.unlisted_high > 0.0:
        tail_low = max(tail_low, 1.0 - listed_max / kept.q_low)
        tail_high = min(1.0, kept.unlisted_high / (kept.unlisted_high + math.fsum(
            wt.w[i] for i in order[:kept.sure])))
    else:
        tail_low = tail_high = 0.0
    return TemperatureView(temperature, cands, tail_low, tail_high, "bounded", None,
                           vocab_known, wt.basis)


def _as_reported(step: Step, temperature: float) -> TemperatureView:
    """The server's own values after its samplers: the sampled distribution as it is."""
    listed = [c for c in step.top if c.logprob is not None]
    cands = [CandidateAt(c, math.exp(c.logprob), math.exp(c.logprob))  # type: ignore[arg-type]
             for c in listed]
    tail = max(1.0 - math.fsum(c.low for c in cands), 0.0) if cands else None
    return TemperatureView(temperature, cands, tail, tail, "exact", None, True, "reported",
                           "as the server reported them after its samplers (not applied "
                           "again)")


def _reason(kept: _Kept, wt: Weights, k: int | None, p: float | None, pinned: bool) -> str:
    n = len(wt.listed)
    if pinned:
        return "exact: the kept mass follows from the chosen token's sampled probability"
    if kept.known and kept.unlisted_high == 0.0:
        if k is not None and k <= n and p is None:
            return f"exact: top-k {k} keeps only listed tokens"
        return "exact: the tokens kept are all listed, whatever the unlisted ones are"
    if kept.known:
        return ""  # the view's own note says how the tail was made
    if wt.basis == "summary":
        return ("which unlisted tokens top-k / top-p kept is not known, so each value is a "
                "range")
    why = (f"only the top {n} were reported, and which tokens top-k / top-p kept depends "
           "on the unlisted ones, so each value is a range")
    if wt.count is None:
        why += " (vocabulary size unknown: the widest ranges)"
    return why
