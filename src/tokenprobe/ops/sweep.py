"""Temperature sweep: one prompt, the step-by-step distributions at several temperatures.

Two views side by side for each temperature: the same prefix re-normalised (one greedy
generation, each step's candidates and entropy at T), and a fresh sample drawn at T (same
seed), so that a class sees the candidates flatten or sharpen and what that does to the
text. With the local engine's tail summary each value is a point; from a server's top-N
list each is a range (renormalise.step_at_temperature), bounded by the vocabulary size
where the trace knows it, and the entropy at T is not known. A server that reports its
probabilities after its samplers (logprobs_kind "processed") gives nothing to re-normalise
and is refused.

It leaves out display (views/).
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenprobe.api import generate
from tokenprobe.backends import BackendOptions
from tokenprobe.distribution import TemperatureView, entropy_at_temperature, step_at_temperature
from tokenprobe.errors import InputError
from tokenprobe.trace import Trace


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


def sweep(
    prompt: str,
    temperatures: list[float],
    model: str | None = None,
    max_tokens: int = 16,
    seed: int = 0,
    alternatives: int = 10,
    backend_options: BackendOptions | None = None,
) -> Sweep:
    if len(temperatures) < 2:
        raise InputError("a sweep needs at least two temperatures")
    if any(t < 0 for t in temperatures):
        raise InputError("temperatures must be >= 0")
    base = generate(prompt, model=model, max_tokens=max_tokens, temperature=0.0,
                    alternatives=alternatives, options=backend_options)
    if base.logprobs_kind == "processed":
        raise InputError(f"{base.model} reports its probabilities after its samplers, so "
                         "they cannot be re-normalised at other temperatures; ask it for raw "
                         "logprobs to sweep")
    columns = []
    for t in temperatures:
        sample = generate(prompt, model=model, max_tokens=max_tokens, temperature=t,
                          seed=seed, alternatives=alternatives, options=backend_options)
        if t == 0:
            views: list[TemperatureView | None] = [None] * len(base.steps)
            ents: list[float | None] = [0.0] * len(base.steps)
        else:
            views = [step_at_temperature(s, t, base.tail_temperatures, base.vocab_size)
                     for s in base.steps]
            ents = [entropy_at_temperature(s, t, base.tail_temperatures) for s in base.steps]
        columns.append(SweepColumn(t, views, ents, sample))
    return Sweep(prompt, base, columns)
