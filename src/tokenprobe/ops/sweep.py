"""Temperature sweep: one prompt, the step-by-step distributions at several temperatures.

Two views side by side for each temperature: the same prefix re-normalised (one greedy
generation, each step's candidates and entropy at T), and a fresh sample drawn at T (same
seed), so that a class sees the candidates flatten or sharpen and what that does to the
text. With the local engine's tail summary each value is a point; from a server's top-N
list each is a range (renormalise.step_at_temperature), bounded by the vocabulary size
where the trace knows it, and the entropy at T is not known. A server that reports its
probabilities after its samplers (logprobs_kind "processed") gives nothing to re-normalise
and is refused. `stop` strings end the base and every sample alike.

The history keeps a sweep as `to_dict` gives it (`tokenprobe/sweep@1`): the prompt, the
greedy base and each temperature's sample as traces; `from_dict` makes each column's view
again from the base trace, by the same computation on the same recorded numbers.

It leaves out display (views/).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tokenprobe.api import generate
from tokenprobe.backends import BackendOptions
from tokenprobe.distribution import TemperatureView, entropy_at_temperature, step_at_temperature
from tokenprobe.errors import FormatError, InputError
from tokenprobe.trace import Trace, _now

SCHEMA = "tokenprobe/sweep@1"


@dataclass
class SweepColumn:
    temperature: float
    views: list[TemperatureView | None]  # per base step; None at T = 0 (a point mass)
    entropies: list[float | None]  # per base step, of the distribution at T (None: unknown)
    sample: Trace


@dataclass
class Sweep:
    prompt: str
    base: Trace  # greedy: the shared prefix
    columns: list[SweepColumn]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: str = field(default_factory=_now)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "id": self.id, "created": self.created,
                "prompt": self.prompt, "base": self.base.to_dict(),
                "columns": [{"temperature": c.temperature, "sample": c.sample.to_dict()}
                            for c in self.columns]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Sweep:
        """A `tokenprobe/sweep@1` document back, each column's view made from the base."""
        if d.get("schema") != SCHEMA:
            raise FormatError(f"not a tokenprobe sweep (schema is {d.get('schema')!r})")
        base = Trace.from_dict(d["base"])
        columns = [column(base, float(c["temperature"]), Trace.from_dict(c["sample"]))
                   for c in d["columns"]]
        return cls(d["prompt"], base, columns, id=d["id"], created=d["created"])


def column(base: Trace, t: float, sample: Trace) -> SweepColumn:
    """The base's steps at temperature `t`, beside the sample drawn at `t`."""
    if t == 0:
        views: list[TemperatureView | None] = [None] * len(base.steps)
        ents: list[float | None] = [0.0] * len(base.steps)
    else:
        views = [step_at_temperature(s, t, base.tail_temperatures, base.vocab_size)
                 for s in base.steps]
        ents = [entropy_at_temperature(s, t, base.tail_temperatures) for s in base.steps]
    return SweepColumn(t, views, ents, sample)


def sweep(
    prompt: str,
    temperatures: list[float],
    model: str | None = None,
    max_tokens: int = 16,
    seed: int = 0,
    alternatives: int = 10,
    backend_options: BackendOptions | None = None,
    stop: Sequence[str] | None = None,
) -> Sweep:
    if len(temperatures) < 2:
        raise InputError("a sweep needs at least two temperatures")
    if any(t < 0 for t in temperatures):
        raise InputError("temperatures must be >= 0")
    base = generate(prompt, model=model, max_tokens=max_tokens, temperature=0.0,
                    alternatives=alternatives, options=backend_options, stop=stop)
    if base.logprobs_kind == "processed":
        raise InputError(f"{base.model} reports its probabilities after its samplers, so "
                         "they cannot be re-normalised at other temperatures; ask it for raw "
                         "logprobs to sweep")
    columns = []
    for t in temperatures:
        sample = generate(prompt, model=model, max_tokens=max_tokens, temperature=t,
                          seed=seed, alternatives=alternatives, options=backend_options,
                          stop=stop)
        columns.append(column(base, t, sample))
    return Sweep(prompt, base, columns)
