"""Confidence signals of one labelled item, read from its traces.

Every probability here is under the trace's `logprobs_kind` (raw, T = 1, for the local
engine and a server reporting raw logprobs), whatever temperature generated the answer.

Open answers (the generated trace's steps, the engine's control tokens left out):
`first_token` the first token's probability; `mean_logprob` exp(mean logprob), the
per-token probability's geometric mean; `total_logprob` exp(total logprob), the whole
answer's probability; `min_token` the lowest token probability; `neg_entropy` minus the
mean entropy in nats (a ranking score, not a probability: it has AUROC and AUPRC but no
calibration figures); `gold` the probability of the accepted answer scored as a fixed answer
after the prompt, the highest over the accepted answers.

Multiple choice (the options' fixed-answer traces, as `choose` makes them): the options'
probabilities are a softmax of their scores divided by the run's temperature T; the scores
are `total` the option's total logprob (choose's own probabilities at T = 1), `per_token`
its mean logprob per token, `per_char` its total logprob per character. The prediction is
the most probable option; the signal is its probability.

A reasoning model's thinking (`Trace.reasoning`) is in no signal: every signal is over the
answer's steps, and the answer alone is judged (`PART`, recorded in the document as `part`);
`thinking_of` gives an item's thinking figures beside its signals (ops/parts.py).

It leaves out the figures (metrics.py, report.py) and running the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tokenprobe.metrics import counts
from tokenprobe.ops.choose import Choice
from tokenprobe.ops.parts import PART as ANSWER
from tokenprobe.ops.parts import thinking_note, thinking_stats
from tokenprobe.trace import Trace


@dataclass(frozen=True)
class Signal:
    name: str
    label: str
    probability: bool  # a probability (calibration figures) or only a ranking score


# What the document's `part` field says: the signals' part of each answer, and why.
PART = {"over": ANSWER,
        "note": "every signal is over the answer's tokens; a reasoning model's thinking is "
                "in none of them (an item's `thinking` gives its own figures)"}


def thinking_of(traces: list[Trace]) -> dict[str, Any] | None:
    """An item's thinking beside its signals: the line the views print and its figures
    (`ops.parts.thinking_stats`), or None when no trace of the item has a thinking."""
    stats = thinking_stats(traces)
    if stats is None:
        return None
    return {"note": thinking_note(traces),
            **{k: (list(v) if isinstance(v, tuple) else v) for k, v in stats.items()}}


OPEN_SIGNALS = (
    Signal("first_token", "first-token probability", True),
    Signal("mean_logprob", "per-token probability, geometric mean", True),
    Signal("total_logprob", "answer probability (exp total logprob)", True),
    Signal("min_token", "lowest token probability", True),
    Signal("neg_entropy", "−mean entropy (nats; ranking only)", False),
    Signal("gold", "gold answer probability (fixed answer)", True),
)
CHOICE_SIGNALS = (
    Signal("total", "option probability, no length normalisation (choose's)", True),
    Signal("per_token", "option probability, normalised per token", True),
    Signal("per_char", "option probability, normalised per character", True),
)


def open_signals(answer: Trace, gold: list[Trace]) -> dict[str, float | None]:
    steps = [s for s in answer.steps if counts(s)]
    lps = [s.logprob for s in steps]
    known = [x for x in lps if x is not None]
    whole = bool(steps) and len(known) == len(lps)
    ents = [s.entropy for s in steps if s.entropy is not None]
    gold_totals = [_total(t) for t in gold]
    golds = [g for g in gold_totals if g is not None]
    total = math.fsum(known) if whole else None
    return {
        "first_token": math.exp(lps[0]) if steps and lps[0] is not None else None,
        "mean_logprob": math.exp(total / len(known)) if total is not None else None,
        "total_logprob": math.exp(total) if total is not None else None,
        "min_token": math.exp(min(known)) if whole else None,
        "neg_entropy": -math.fsum(ents) / len(ents) if steps and len(ents) == len(steps)
        else None,
        "gold": math.exp(max(golds)) if golds else None,
    }


def _total(trace: Trace) -> float | None:
    lps = [s.logprob for s in trace.steps if counts(s)]
    if not lps or any(x is None for x in lps):
        return None
    return math.fsum(lps)  # type: ignore[arg-type]


def choice_scores(choice: Choice) -> dict[str, list[float]]:
    """Each normalisation's score per option (before dividing by T)."""
    return {
        "total": [o.total_logprob for o in choice.options],
        "per_token": [o.total_logprob / max(o.n_tokens, 1) for o in choice.options],
        "per_char": [o.total_logprob / max(len(o.option), 1) for o in choice.options],
    }


def option_probabilities(scores: list[float], temperature: float) -> list[float]:
    z = [s / temperature for s in scores]
    top = max(z)
    e = [math.exp(x - top) for x in z]
    total = math.fsum(e)
    return [x / total for x in e]


def choice_outcome(choice: Choice, right: int, temperature: float) -> dict[str, Any]:
    """Per normalisation: the probabilities, the predicted option and whether it is right."""
    out: dict[str, Any] = {}
    for name, scores in choice_scores(choice).items():
        probs = option_probabilities(scores, temperature)
        pick = max(range(len(probs)), key=lambda k: probs[k])
        out[name] = {"scores": scores, "probabilities": probs, "predicted": pick,
                     "confidence": probs[pick], "correct": pick == right}
    return out
