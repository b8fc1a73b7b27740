"""Pure functions over a Trace: sums, means, perplexity, ranks, the least likely tokens.

Which steps a summary is about: the generated ones, or for a scored text its prompt steps
(`scope`); indices in a Summary are positions in that list. Of those, only the tokens of
the text count (`counts`, `scored_steps`): a control token the engine added, such as the
`<bos>` in front of a scored text (`Step.special`), is left out of every count and figure.
Every figure is computed over the counted steps whose logprob was reported; steps with
`null` logprobs are excluded and counted (`missing`), never treated as numbers. The first
token of a scored text with nothing before it has no logprob because it has no context
(`no_context_first`): it is excluded too, but it is not "missing".

A reasoning model's thinking (`Trace.reasoning`) is never in `scope`: the summary is the
answer's; `thinking_summary` gives the same figures over the thinking's own steps.

It leaves out formatting (views/) and anything that needs the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from tokenprobe.textbytes import token_label
from tokenprobe.trace import Step, Trace


def scope(trace: Trace) -> list[Step]:
    """The step list a summary is about: generated steps, or the scored text's tokens.

    Indices in a Summary (least likely tokens, spans) are positions in this list."""
    return trace.steps if trace.steps else trace.prompt_steps


def counts(step: Step) -> bool:
    """Whether a step is a token of the text: control tokens the engine added are not."""
    return not step.special


def scored_steps(trace: Trace) -> list[Step]:
    """The steps that count: `scope(trace)` without the engine's control tokens."""
    return [s for s in scope(trace) if counts(s)]


def no_context_first(trace: Trace) -> bool:
    """Whether the scored text's first token has no logprob because nothing precedes it.

    Only a scored text (prompt steps, no generated steps) starts without context, and only
    when no control token such as `<bos>` stands before its first token (when one does,
    the token was predicted from it, and a missing logprob is simply not reported)."""
    if trace.steps or not trace.prompt_steps:
        return False
    first = trace.prompt_steps[0]
    return counts(first) and first.logprob is None


@dataclass
class Span:
    """A run of consecutive low-probability tokens: indices [start, end)."""

    start: int
    end: int
    mean_logprob: float
    text: str


@dataclass
class Summary:
    """The summary figures of a trace (views label them; see docs/architecture.md).

    Probabilities are under the trace's `logprobs_kind`. Every figure is over the
    `reported` steps; `sequence_prob` may underflow to 0.0 for a long text, so views
    write it from `total_logprob`.
    """

    tokens: int  # tokens of the text in scope (control tokens such as <bos> excluded)
    reported: int  # of which with a logprob
    missing: int  # of which not reported (excluded from every figure below)
    no_context_first: bool  # the first token had no context, so no logprob (not "missing")
    total_logprob: float | None
    mean_logprob: float | None
    geometric_mean_prob: float | None  # exp(mean logprob) = 1 / perplexity
    arithmetic_mean_prob: float | None  # mean over tokens of exp(logprob)
    sequence_prob: float | None  # exp(total logprob): the probability of the whole text
    perplexity: float | None  # exp(-mean logprob)
    mean_entropy: float | None
    entropy_exact: bool  # False if any entropy is a lower bound over a truncated list
    top1_share: float | None  # share of ranked steps where the chosen token was the top one
    not_top: int = 0  # steps chosen by the model (not forced) whose token was not the top one
    least_likely: list[tuple[int, Step]] = field(default_factory=list)

    def __repr__(self) -> str:
        # The figures a reader looks at first, named as the views name them; the
        # dataclass's own repr would print every least likely step in full.
        parts = [f"{self.tokens} tokens"]
        if self.missing:
            parts.append(f"{self.missing} not reported")
        if self.perplexity is not None and self.geometric_mean_prob is not None:
            parts += [f"perplexity {self.perplexity:.4g}",
                      f"per-token probability geometric mean {self.geometric_mean_prob:.2%}"]
        if self.total_logprob is not None:
            parts.append(f"total logprob {self.total_logprob:.3f}")
        if self.mean_entropy is not None:
            parts.append(f"mean entropy {self.mean_entropy:.3f} nats"
                         + ("" if self.entropy_exact else " (lower bound)"))
        return "<Summary " + ", ".join(parts) + ">"


def summarize(trace: Trace, n_least: int = 5, steps: list[Step] | None = None) -> Summary:
    """All the figures at once; `steps` replaces `scope(trace)` (indices are then positions
    in it). Low-confidence runs are `low_confidence_spans`' (the views ask for them)."""
    listed = scope(trace) if steps is None else steps
    counted = [s for s in listed if counts(s)]
    lps = [s.logprob for s in counted if s.logprob is not None]
    n = len(lps)
    total = math.fsum(lps) if n else None
    mean = total / n if total is not None and n else None
    first_free = steps is None and no_context_first(trace)
    ents = [s for s in counted if s.entropy is not None]
    ranked = [s for s in counted if s.top and s.logprob is not None]
    top1 = sum(1 for s in ranked if s.rank() == 1) / len(ranked) if ranked else None
    return Summary(
        tokens=len(counted),
        reported=n,
        missing=len(counted) - n - (1 if first_free else 0),
        no_context_first=first_free,
        total_logprob=total,
        mean_logprob=mean,
        geometric_mean_prob=math.exp(mean) if mean is not None else None,
        arithmetic_mean_prob=math.fsum(math.exp(x) for x in lps) / n if n else None,
        sequence_prob=math.exp(total) if total is not None else None,
        perplexity=math.exp(-mean) if mean is not None else None,
        mean_entropy=math.fsum(s.entropy for s in ents) / len(ents) if ents else None,  # type: ignore[misc]
        entropy_exact=all(s.entropy_exact for s in ents),
        top1_share=top1,
        not_top=sum(1 for s in ranked if not s.forced and s.rank() != 1),
        least_likely=least_likely(listed, n_least),
    )


def thinking_summary(trace: Trace, n_least: int = 5) -> Summary | None:
    """The summary figures over a reasoning model's thinking (its tokens and the tags that
    close it), or None when the trace has no thinking tokens. Indices are positions in
    `trace.reasoning.steps`."""
    if trace.reasoning is None or not trace.reasoning.steps:
        return None
    return summarize(trace, n_least, steps=trace.reasoning.steps)


def least_likely(steps: list[Step], n: int = 5) -> list[tuple[int, Step]]:
    """The n counted steps with the lowest logprob, as (index in `steps`, step), least
    likely first."""
    known = [(i, s) for i, s in enumerate(steps) if counts(s) and s.logprob is not None]
    known.sort(key=lambda x: (x[1].logprob, x[0]))  # type: ignore[arg-type,return-value]
    return known[:n]


def low_confidence_spans(steps: list[Step], threshold: float = 0.2) -> list[Span]:
    """Maximal runs of consecutive tokens whose probability is below `threshold`.

    A token whose logprob was not reported ends a run (nothing is known about it), and so
    does a control token (it is not part of the text).
    """
    spans: list[Span] = []
    limit = math.log(threshold)
    start: int | None = None
    for i, s in enumerate([*steps, None]):
        low = s is not None and counts(s) and s.logprob is not None and s.logprob < limit
        if low and start is None:
            start = i
        elif not low and start is not None:
            run = steps[start:i]
            mean = math.fsum(x.logprob for x in run) / len(run)  # type: ignore[misc]
            text = token_label(b"".join(x.data for x in run))  # bytes shown, never U+FFFD
            spans.append(Span(start, i, mean, text))
            start = None
    return spans
