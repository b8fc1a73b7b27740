"""A trace's steps: the token chosen at one position (`Step`) and the alternatives listed
beside it (`Candidate`), with their exact JSON form, and the one rule that says whether a
listed candidate is the chosen token (`is_chosen`).

It leaves out the trace that holds them (trace.py) and any arithmetic over the numbers
(metrics.py, distribution.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tokenprobe.textbytes import token_label

# Servers write "not reported" in many ways; anything at or below this floor is one of them
# (OpenAI and vLLM write -9999.0; some write the float32 minimum, -3.4e38).
SENTINEL_FLOOR = -9999.0


def clean_logprob(value: Any) -> float | None:
    """A logprob as a float, or None when the value means "not reported".

    None, NaN, ±inf, and values at or below -9999 (a sentinel, never a real logprob) give
    None. A tiny positive value is rounding noise from the server and reads as 0.0; a clearly
    positive one cannot be a log-probability and gives None.
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(x) or math.isinf(x) or x <= SENTINEL_FLOOR:
        return None
    if x > 0.0:
        return 0.0 if x < 1e-3 else None
    return x


class _Token:
    """What a step and a candidate share: a label, bytes (the truth) and a logprob."""

    token: str
    logprob: float | None
    bytes: bytes | None

    def __post_init__(self) -> None:
        if self.bytes is None:
            self.bytes = self.token.encode("utf-8")

    @property
    def data(self) -> bytes:
        """The token's bytes (the truth; `token` is only a label)."""
        return self.bytes if self.bytes is not None else self.token.encode("utf-8")

    @property
    def prob(self) -> float | None:
        return None if self.logprob is None else math.exp(self.logprob)


@dataclass
class Candidate(_Token):
    """One token the model weighed at a step: its label, id, bytes and logprob."""

    token: str
    logprob: float | None
    id: int | None = None
    bytes: bytes | None = None
    # The server's logit for the token, where it reports logits instead of logprobs
    # (logprobs_kind "logits"; `logprob` is then null: no probability is made up).
    logit: float | None = None

    @classmethod
    def from_bytes(cls, data: bytes, logprob: float | None, id: int | None = None) -> Candidate:
        return cls(token=token_label(data), logprob=logprob, id=id, bytes=data)

    def to_dict(self) -> dict[str, Any]:
        # Written once per alternative of every token (a batch's hot path): fields read
        # directly, not through `data`.
        d: dict[str, Any] = {"token": self.token, "id": self.id, "logprob": self.logprob}
        data = self.bytes
        if data is not None and data != self.token.encode("utf-8"):
            d["bytes"] = list(data)
        if self.logit is not None:
            d["logit"] = self.logit
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Candidate:
        raw = d.get("bytes")
        return cls(
            token=str(d.get("token", "")),
            logprob=clean_logprob(d.get("logprob")),
            id=_opt_int(d.get("id")),
            bytes=bytes(raw) if raw is not None else None,
            logit=_opt_float(d.get("logit")),
        )


@dataclass
class Step(_Token):
    """One token of the text, with what the model thought of it and of its alternatives.

    `logprob` is under the distribution named by the trace's `logprobs_kind`;
    `sample_logprob` is under the distribution the token was actually drawn from (after
    temperature, top-k and top-p), when known. `tail_logsumexp` (local engine only) holds,
    for each of the trace's `tail_temperatures` T, log Σ exp(logprob_j / T) over every
    vocabulary token j not in `top`; with it the distribution at any temperature can be
    re-normalised without the logits (see renormalise.step_at_temperature).
    """

    token: str
    logprob: float | None
    id: int | None = None
    bytes: bytes | None = None
    sample_logprob: float | None = None
    top: list[Candidate] = field(default_factory=list)
    entropy: float | None = None
    entropy_exact: bool = False
    offset: int | None = None
    tail_logsumexp: list[float] | None = None
    forced: bool = False  # put in place by the user (a branch), not chosen by the model
    special: bool = False  # a control token the engine added (<bos>), not a token of the text
    # The chosen token's rank in the whole vocabulary (1 = most likely) as the engine reported
    # it (vLLM's `rank`), even outside `top`; JSON `rank`. `rank()` is its place in `top`.
    vocab_rank: int | None = None
    logit: float | None = None  # the server's logit, where it reports logits (see Candidate)

    def __repr__(self) -> str:
        # Short: the dataclass's own repr lists every candidate and the tail summary.
        parts = [repr(token_label(self.data)) if self.data else self.token]
        if self.logprob is None:
            parts.append("logprob not reported")
        else:
            parts.append(f"logprob {self.logprob:.4f} (p {math.exp(self.logprob):.4g})")
        rank = self.rank()
        if self.top:
            parts.append(f"rank {rank} of {len(self.top)} listed" if rank is not None
                         else f"not among {len(self.top)} listed")
        if self.entropy is not None:
            parts.append(f"entropy {self.entropy:.3f} nats"
                         + ("" if self.entropy_exact else " (lower bound)"))
        parts += [w for w, on in (("forced", self.forced), ("special", self.special)) if on]
        return f"<Step {parts[0]} " + ", ".join(parts[1:]) + ">"

    def rank(self) -> int | None:
        """1-based rank of the chosen token among `top`, or None when it is not listed.

        Ties with the chosen token's logprob count in its favour, as an engine's argmax
        would have taken it.
        """
        if self.logprob is None:
            return None
        for i, c in enumerate(self.top):
            if is_chosen(self, c):
                return i + 1
        better = sum(1 for c in self.top if c.logprob is not None and c.logprob > self.logprob)
        if self.top and better < len(self.top):
            return better + 1
        return None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"token": self.token, "id": self.id, "logprob": self.logprob}
        if self.data != self.token.encode("utf-8"):
            d["bytes"] = list(self.data)
        d["sample_logprob"] = self.sample_logprob
        d["top"] = [c.to_dict() for c in self.top]
        d["entropy"] = self.entropy
        d["entropy_exact"] = self.entropy_exact
        d["offset"] = self.offset
        if self.tail_logsumexp is not None:
            d["tail_logsumexp"] = self.tail_logsumexp
        if self.forced:
            d["forced"] = True
        if self.special:
            d["special"] = True
        if self.vocab_rank is not None:
            d["rank"] = self.vocab_rank
        if self.logit is not None:
            d["logit"] = self.logit
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Step:
        raw = d.get("bytes")
        tail = d.get("tail_logsumexp")
        top = [Candidate.from_dict(c) for c in (d.get("top") or []) if isinstance(c, dict)]
        return cls(
            token=str(d.get("token", "")),
            logprob=clean_logprob(d.get("logprob")),
            id=_opt_int(d.get("id")),
            bytes=bytes(raw) if raw is not None else None,
            sample_logprob=clean_logprob(d.get("sample_logprob")),
            top=top,
            entropy=_opt_float(d.get("entropy")),
            entropy_exact=bool(d.get("entropy_exact", False)),
            offset=_opt_int(d.get("offset")),
            tail_logsumexp=[float(x) for x in tail] if tail is not None else None,
            forced=bool(d.get("forced", False)),
            special=bool(d.get("special", False)),
            vocab_rank=_opt_int(d.get("rank")),
            logit=_opt_float(d.get("logit")),
        )


def is_chosen(step: Step, c: Candidate) -> bool:
    """Whether candidate `c` is the token chosen at `step`: by id when both have one, else
    by bytes (the one rule every view, importer and backend uses)."""
    if step.id is not None and c.id is not None:
        return c.id == step.id
    return c.data == step.data


def _opt_int(x: Any) -> int | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        return int(x)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf), as from 1e999
        return None


def _opt_float(x: Any) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) or math.isinf(v) else v
