"""What a vLLM server's numbers are: log-probabilities or logits, never guessed silently.

vLLM's `--logprobs-mode` decides what every number of an answer means, and nothing in the
answer says which mode the server runs: `raw_logprobs` (the default: log-softmax of the
logits before any processing), `processed_logprobs` (after temperature, penalties, top-k and
top-p; masked tokens -9999.0), `raw_logits` and `processed_logits` (logits, not
log-probabilities: often positive, never normalised). Prompt logprobs skip the sampling
processors: they are raw in both logprob modes, and raw logits in both logit modes.

`ValueJudge` reads the values as the server sent them and settles them once per batch of
steps: as logits (logprobs_kind "logits": the numbers go to `Step.logit` /
`Candidate.logit`, and `logprob` stays null, so no probability is invented), or as
log-probabilities (sentinels and clamps read as "not reported", as every importer does).
The kind is the one declared (`--logprobs-kind`), or found where the numbers prove it: a
value above zero, or a row whose listed probabilities would sum to more than one, is not a
log-probability. Numbers that prove logits when log-probabilities were declared, or after
earlier tokens of the same answer were already read as log-probabilities, are refused with
one line. Logits that happen to look like log-probabilities (all negative, summing to less
than one) cannot be told apart: only a declaration reads those right.

It leaves out the wire shapes (vllm.py) and which request set what (backends/openai.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from tokenprobe.errors import FormatError
from tokenprobe.formats.wire_tokens import entropy_bound
from tokenprobe.formats.wire_values import openai_logprob
from tokenprobe.trace import SENTINEL_FLOOR, Candidate, Step

KINDS = ("raw", "processed", "unknown", "logits")
# A positive log-probability above this is not rounding (clean_logprob's own bound).
POSITIVE_TOL = 1e-3
# Listed probabilities may sum to a little more than one: float32 rounding in the server,
# and values rounded for display in saved files (three values of one decimal can reach
# 1.004). Logits are far past this whenever the top logit is above zero.
SUM_TOL = 0.02
LOGITS_HINT = ("the server reports logits (vLLM's --logprobs-mode raw_logits or "
               "processed_logits): say --logprobs-kind logits")


# No logit or log-probability is this large; exp() of a larger one overflows a float.
VALUE_CEILING = 700.0


def raw_value(x: Any) -> float | None:
    """A number as the server sent it; None for a non-number, NaN, ±inf, a sentinel or a
    value past any logit (above VALUE_CEILING)."""
    if type(x) is float:
        return x if SENTINEL_FLOOR < x < VALUE_CEILING else None
    if x is None or isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    try:
        v = float(x)
    except OverflowError:
        return None
    return v if SENTINEL_FLOOR < v < VALUE_CEILING else None


def logits_proof(step: Step) -> str | None:
    """Why the step's raw numbers cannot be log-probabilities, or None when they may be."""
    values = [c.logprob for c in step.top if c.logprob is not None]
    if step.logprob is not None:
        values.append(step.logprob)
    if not values:
        return None
    top = max(values)
    if top > POSITIVE_TOL:
        return f"a value of {top:+.4g}, above zero"
    listed = [c.logprob for c in step.top if c.logprob is not None]
    if step.logprob is not None and not any(_same(c, step) for c in step.top):
        listed.append(step.logprob)
    total = math.fsum(math.exp(v) for v in listed)
    if total > 1.0 + SUM_TOL:
        return f"listed probabilities that would sum to {total:.4g}"
    return None


def _same(c: Candidate, step: Step) -> bool:
    # Without ids, the chosen token's own entry is the one with its value (its label may
    # hide its bytes); counting a different token of equal value once only understates
    # the sum, which never proves logits falsely.
    if c.id is not None and step.id is not None:
        return c.id == step.id
    return c.logprob == step.logprob


class ValueJudge:
    """Settles an answer's numbers as log-probabilities or logits, batch by batch.

    `declared` is the kind the user declared (None: find it). `kind` is the kind read so far
    (None until a number was read); `note` says why, when it was found rather than declared.
    """

    def __init__(self, declared: str | None = None) -> None:
        if declared is not None and declared not in KINDS:
            raise ValueError(f"unknown logprobs kind {declared!r}")
        self.declared = declared
        self.kind: str | None = declared
        self.note: str | None = None
        self.read_as_logprobs = False  # some number was already read as a log-probability

    @property
    def logits(self) -> bool:
        return self.kind == "logits"

    def settle(self, steps: Iterable[Step], where: str) -> None:
        """Check the raw numbers of `steps`, then store them as the kind says."""
        steps = list(steps)
        if self.kind != "logits":
            for k, s in enumerate(steps):
                proof = logits_proof(s)
                if proof is None:
                    continue
                if self.declared is None and not self.read_as_logprobs:
                    self.kind = "logits"
                    self.note = (f"the server's numbers are logits, not log-probabilities "
                                 f"({proof}); they are kept as logits")
                    break
                said = (f"--logprobs-kind {self.declared}" if self.declared is not None
                        else "earlier tokens")
                raise FormatError(f"{where}[{k}]: the numbers are not log-probabilities "
                                  f"({proof}), but {said} read them as such; {LOGITS_HINT}")
        if self.kind == "logits":
            for s in steps:
                to_logits(s)
            return
        for s in steps:
            _clean(s)
        if any(s.logprob is not None or s.top for s in steps):
            self.read_as_logprobs = True


def to_logits(step: Step) -> None:
    """Move the step's raw numbers to its `logit` fields; no log-probability remains."""
    step.logit, step.logprob = step.logprob, None
    for c in step.top:
        c.logit, c.logprob = c.logprob, None
    step.top.sort(key=_logit_key)
    step.entropy = None
    step.entropy_exact = False
    step.sample_logprob = None


def _logit_key(c: Candidate) -> float:
    return -c.logit if c.logit is not None else math.inf


def _clean(step: Step) -> None:
    """Raw numbers read as log-probabilities: clamps and rounding as every importer reads
    them (openai_logprob), and the entropy bound over what remains."""
    changed = False
    lp = openai_logprob(step.logprob)
    if lp != step.logprob:
        step.logprob, changed = lp, True
    for c in step.top:
        v = c.logprob
        if v is not None and (v > 0.0 or v == -100.0):
            c.logprob, changed = openai_logprob(v), True
    if changed:
        step.top.sort(key=lambda c: -c.logprob if c.logprob is not None else math.inf)
        step.entropy = entropy_bound(step)
