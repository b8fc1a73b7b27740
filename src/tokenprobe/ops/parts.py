"""Which part of a reasoning model's answer an operation's figures are over.

compare, choose and calibrate read a trace's `steps`, which are the answer's: a reasoning
model's thinking (`Trace.reasoning`) is never in their figures. This module gives the
thinking's own figures beside them, so that a view can say "answer only (the thinking: …)":
`thinking_stats` over several traces (mean and standard deviation over samples, as
`Variant.stats`), `thinking_note` the one line the views print.

Every figure is `metrics.thinking_summary`'s, over the thinking's steps with a reported
logprob. It leaves out computing the answer's figures (metrics.py, ops/) and display.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from tokenprobe.metrics import thinking_summary
from tokenprobe.trace import Trace

# The part every operation's figures are over; documents record it as `part`.
PART = "answer"

# The thinking's figures a note gives (metrics.Summary names).
THINKING_METRICS = ("tokens", "geometric_mean_prob", "arithmetic_mean_prob", "mean_entropy")


def has_thinking(traces: Sequence[Trace]) -> bool:
    return any(t.reasoning is not None for t in traces)


def thinking_stats(traces: Sequence[Trace]) -> dict[str, Any] | None:
    """The thinking's figures over the traces that have one, or None when none has.

    `traces` and `with_logprobs` count the traces with a thinking and those whose thinking
    had reported logprobs; each figure is (mean, standard deviation) over the latter, None
    when none had; `characters` is the thinking texts' mean length."""
    thinking = [t for t in traces if t.reasoning is not None]
    if not thinking:
        return None
    sums = [s for s in (thinking_summary(t) for t in thinking) if s is not None and s.reported]
    out: dict[str, Any] = {
        "traces": len(thinking), "with_logprobs": len(sums),
        "characters": statistics.fmean(len(t.reasoning.text) for t in thinking),  # type: ignore[union-attr]
        "entropy_exact": all(s.entropy_exact for s in sums),
    }
    for name in THINKING_METRICS:
        vals = [float(v) for v in (getattr(s, name) for s in sums) if v is not None]
        out[name] = None if not vals else (
            statistics.fmean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0)
    return out


def thinking_note(traces: Sequence[Trace]) -> str | None:
    """"answer only (the thinking: …)" with the thinking's own figures, or None when no
    trace has a thinking (the figures are then simply the answer's)."""
    st = thinking_stats(traces)
    if st is None:
        return None
    several = st["traces"] > 1
    head = (f"answer only (the thinking, mean over {st['traces']} samples: " if several
            else "answer only (the thinking: ")
    if not st["with_logprobs"]:
        chars = st["characters"]
        return head + f"{chars:.0f} characters, no logprobs reported by the server)"
    parts = [_fmt(st["tokens"], "tokens", several)]
    geo, ari, ent = (st["geometric_mean_prob"], st["arithmetic_mean_prob"],
                     st["mean_entropy"])
    if geo is not None and ari is not None:
        parts.append(f"per-token probability: geometric mean {_pct(geo[0])}, "
                     f"arithmetic mean {_pct(ari[0])}")
    if ent is not None:
        parts.append(f"mean entropy {ent[0]:.2f} nats"
                     + ("" if st["entropy_exact"] else " (a lower bound, top-N only)"))
    if st["with_logprobs"] < st["traces"]:
        parts.append(f"{st['traces'] - st['with_logprobs']} without logprobs")
    return head + ", ".join(parts) + ")"


def _fmt(stat: tuple[float, float] | None, unit: str, several: bool) -> str:
    if stat is None:
        return f"no {unit}"
    return f"{stat[0]:.1f} {unit}" if several else f"{stat[0]:.0f} {unit}"


def _pct(p: float) -> str:
    """A percentage that keeps small values visible (0.004% rather than 0.0%)."""
    if p >= 0.001 or p == 0:
        return f"{100 * p:.1f}%"
    return f"{100 * p:.2g}%"
