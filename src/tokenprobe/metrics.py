"""Pure functions over a Trace: sums, means, perplexity, ranks, the least likely tokens.

Every figure is computed over the steps whose logprob was reported; steps with `null`
logprobs are excluded and counted (`missing`), never treated as numbers. Which steps are
summed: the generated ones, or for a scored text its prompt steps.

It leaves out formatting (views/) and anything that needs the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from tokenprobe.trace import Step, Trace


def scored_steps(trace: Trace) -> list[Step]:
    """The steps a summary is about: generated steps, or the scored text's tokens."""
    return trace.steps if trace.steps else trace.prompt_steps


@dataclass
class Span:
    """A run of consecutive low-probability tokens: indices [start, end)."""

    start: int
    end: int
    mean_logprob: float
    text: str


@dataclass
class Summary:
    tokens: int  # steps in scope
    reported: int  # of which with a logprob
    missing: int  # of which without (excluded from every figure below)
    total_logprob: float | None
    mean_logprob: float | None
    mean_prob: float | None  # exp(mean logprob): the geometric mean probability
    perplexity: float | None  # exp(-mean logprob)
    mean_entropy: float | None
    entropy_exact: bool  # False if any entropy is a lower bound over a truncated list
    top1_share: float | None  # share of ranked steps where the chosen token was the top one
    least_likely: list[tuple[int, Step]] = field(default_factory=list)
    low_confidence: list[Span] = field(default_factory=list)


def summarize(
    trace: Trace, n_least: int = 5, threshold: float = 0.2, steps: list[Step] | None = None
) -> Summary:
    """All the figures at once. `threshold` is the probability below which a token is
    counted in a low-confidence span."""
    scope = scored_steps(trace) if steps is None else steps
    lps = [s.logprob for s in scope if s.logprob is not None]
    n = len(lps)
    total = math.fsum(lps) if n else None
    mean = total / n if total is not None and n else None
    ents = [s for s in scope if s.entropy is not None]
    # A chosen token missing from its step's list was not the top choice.
    ranked = [s.rank() for s in scope if s.top and s.logprob is not None]
    top1 = sum(1 for r in ranked if r == 1) / len(ranked) if ranked else None
    return Summary(
        tokens=len(scope),
        reported=n,
        missing=len(scope) - n,
        total_logprob=total,
        mean_logprob=mean,
        mean_prob=math.exp(mean) if mean is not None else None,
        perplexity=math.exp(-mean) if mean is not None else None,
        mean_entropy=math.fsum(s.entropy for s in ents) / len(ents) if ents else None,  # type: ignore[misc]
        entropy_exact=all(s.entropy_exact for s in ents),
        top1_share=top1,
        least_likely=least_likely(scope, n_least),
        low_confidence=low_confidence_spans(scope, threshold),
    )


def least_likely(steps: list[Step], n: int = 5) -> list[tuple[int, Step]]:
    """The n steps with the lowest logprob, as (index, step), least likely first."""
    known = [(i, s) for i, s in enumerate(steps) if s.logprob is not None]
    known.sort(key=lambda x: (x[1].logprob, x[0]))  # type: ignore[arg-type,return-value]
    return known[:n]


def low_confidence_spans(steps: list[Step], threshold: float = 0.2) -> list[Span]:
    """Maximal runs of consecutive tokens whose probability is below `threshold`.

    A token whose logprob was not reported ends a run (nothing is known about it).
    """
    spans: list[Span] = []
    limit = math.log(threshold)
    start: int | None = None
    for i, s in enumerate([*steps, None]):
        low = s is not None and s.logprob is not None and s.logprob < limit
        if low and start is None:
            start = i
        elif not low and start is not None:
            run = steps[start:i]
            mean = math.fsum(x.logprob for x in run) / len(run)  # type: ignore[misc]
            text = b"".join(x.data for x in run).decode("utf-8", errors="replace")
            spans.append(Span(start, i, mean, text))
            start = None
    return spans


def rank_counts(steps: list[Step]) -> dict[str, int]:
    """How many chosen tokens ranked 1, 2-10, 11-100 or past 100 among their step's list.

    A token missing from a list of length L ranked past L: it counts as "beyond" when L is
    at least 100, else as "unlisted" (its bucket is unknown); steps without a list or a
    logprob count as "unknown".
    """
    out = {"top1": 0, "top10": 0, "top100": 0, "beyond": 0, "unlisted": 0, "unknown": 0}
    for s in steps:
        if not s.top or s.logprob is None:
            out["unknown"] += 1
            continue
        r = s.rank()
        if r is None:
            out["beyond" if len(s.top) >= 100 else "unlisted"] += 1
        elif r == 1:
            out["top1"] += 1
        elif r <= 10:
            out["top10"] += 1
        elif r <= 100:
            out["top100"] += 1
        else:
            out["beyond"] += 1
    return out
