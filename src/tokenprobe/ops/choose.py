"""Choose: how much the model believes each of several complete options after a prompt.

Each option is scored as a fixed answer (teacher forcing): its total logprob is the sum of
its tokens' logprobs after the prompt, exactly what scoring prompt + option gives. The
options' probabilities are those totals normalised across the options (a softmax), so they
sum to 1 and answer "which of these would the model say", with the raw totals and the
per-token detail kept. Options that share a prefix are each scored in full; the shared
tokens carry the same numbers in each, so the comparison is of what differs.
`progress(done, total)`, when given, is called after each option (the web app shows it, and
stops a choice by raising from it).

A reasoning model's thinking is never in the totals: they are over the option's own tokens
(the answer's `steps`); `OptionScore.thinking_note` says so where a trace has a thinking.
It leaves out display (views/).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tokenprobe.api import build_request
from tokenprobe.backends import BackendOptions, get_backend
from tokenprobe.distribution import logsumexp
from tokenprobe.errors import InputError
from tokenprobe.ops.parts import PART, thinking_note
from tokenprobe.trace import Trace, _now


@dataclass
class OptionScore:
    option: str
    total_logprob: float
    n_tokens: int
    probability: float  # normalised across the options
    trace: Trace

    @property
    def thinking_note(self) -> str | None:
        """"answer only (the thinking: …)" when the option's trace has a thinking."""
        return thinking_note([self.trace])


@dataclass
class Choice:
    prompt: str
    options: list[OptionScore]
    model: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: str = field(default_factory=_now)

    def best(self) -> OptionScore:
        return max(self.options, key=lambda o: o.probability)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "tokenprobe/choice@1", "id": self.id, "created": self.created,
            "prompt": self.prompt, "model": self.model, "part": PART,
            "options": [{"option": o.option, "total_logprob": o.total_logprob,
                         "n_tokens": o.n_tokens, "probability": o.probability,
                         "trace": o.trace.to_dict()} for o in self.options],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Choice:
        """A `tokenprobe/choice@1` document back, with its figures as they were saved."""
        return cls(prompt=d["prompt"], model=d.get("model", ""), id=d["id"],
                   created=d["created"],
                   options=[OptionScore(o["option"], float(o["total_logprob"]),
                                        int(o["n_tokens"]), float(o["probability"]),
                                        Trace.from_dict(o["trace"])) for o in d["options"]])


def validate_options(options: list[str]) -> None:
    if len(options) < 2:
        raise InputError("give at least two --option values to choose between")
    for o in options:
        if not o:
            raise InputError("an --option is empty")
    seen: set[str] = set()
    for o in options:
        if o in seen:
            raise InputError(f"the option {o!r} is given twice")
        seen.add(o)


def choose(
    prompt: str,
    options: list[str],
    model: str | None = None,
    chat: bool = False,
    system: str | None = None,
    alternatives: int = 10,
    backend_options: BackendOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Choice:
    """Score each option after the prompt; `progress(done, total)` is called after each
    option (raising from it stops the choice there, as `compare` does)."""
    validate_options(options)
    request = build_request(prompt, chat=chat, system=system, temperature=1.0,
                            alternatives=alternatives)
    backend = get_backend(model, backend_options)
    traces: list[Trace] = []
    for o in options:
        traces.append(backend.score_continuation(request, o, alternatives))
        if progress is not None:
            progress(len(traces), len(options))
    return choice_from_traces(prompt, options, traces, backend.model)


def choice_from_traces(prompt: str, options: list[str], traces: list[Trace],
                       model: str) -> Choice:
    """The choice the options' fixed-answer traces make (however they were scored: one by
    one here, or many at once by calibrate through batch)."""
    totals: list[float] = []
    for o, t in zip(options, traces):
        if t.logprobs_kind == "logits":
            # A logit's normaliser differs from position to position: no sum of logits
            # makes an option's probability.
            raise InputError("choosing needs log-probabilities, and this server reports "
                             "logits (vLLM's --logprobs-mode raw_logits/processed_logits): "
                             "start it with --logprobs-mode raw_logprobs")
        if any(s.logprob is None for s in t.steps):
            raise InputError(f"the model did not report a logprob for every token of {o!r}")
        totals.append(math.fsum(s.logprob for s in t.steps))  # type: ignore[misc]
    norm = logsumexp(totals)
    scored = [OptionScore(o, tot, len(t.steps), math.exp(tot - norm), t)
              for o, tot, t in zip(options, totals, traces)]
    return Choice(prompt=prompt, options=scored, model=model)
