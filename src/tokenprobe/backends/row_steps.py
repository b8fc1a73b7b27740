"""What the engines that compute their own logits rows share (llama.py, torch_model.py):
a step and its candidates from a row and its statistics, the temperatures a trace's tail
summary covers, and the end of a scored text.

It leaves out the rows themselves (each engine's evaluation) and the arithmetic
(distribution.RowAnalyzer, process).
"""

from __future__ import annotations

import numpy as np

from tokenprobe.distribution import TAIL_TEMPERATURES, Processed, RowStats
from tokenprobe.textbytes import TextAssembler
from tokenprobe.trace import Candidate, Step, Trace


def tail_temperatures(temperature: float) -> tuple[bool, list[float]]:
    """Whether a request's temperature is off the fixed grid (its tail sum is then added to
    every step), and the temperatures the trace's tail summary covers."""
    grid = list(TAIL_TEMPERATURES)
    extra = temperature > 0 and all(abs(temperature - t) > 1e-9 for t in grid)
    return extra, [*grid, temperature] if extra else grid


def tail_at(dist: Processed, lse: float, temperature: float) -> float:
    """The log of the unlisted tokens' summed exp(lp / T) at the request's own temperature,
    from the processed row's tail (a step's extra tail summary entry)."""
    # Σ_{j∉top} exp(lp_j/T) = Σ_{j∉top} exp((x_j - m)/T) · exp((m - lse)/T)
    assert dist.tail_log_norm is not None
    return dist.tail_log_norm + (dist.row_max - lse) / temperature


def finish_scored(trace: Trace, steps: list[Step], text: str) -> Trace:
    """A scored text's steps in place, with their offsets; an error where the tokens do not
    spell the text (a tokenizer that normalised it: said, never hidden)."""
    assembler = TextAssembler()
    for s in steps:
        s.offset = assembler.add(s.data)
    trace.prompt_steps = steps
    trace.finish_reason = None
    trace.complete = True
    if assembler.finish() != text:
        trace.error = "the model's tokens do not spell the given text exactly"
    return trace


class RowSteps:
    """Steps and candidates named by the engine's `piece` (a token's label and bytes)."""

    def piece(self, token_id: int) -> tuple[str, bytes]:
        raise NotImplementedError

    def _step(self, row: np.ndarray, chosen: int, stats: RowStats, tail: list[float],
              sample_lp: float | None = None, forced: bool = False) -> Step:
        label, data = self.piece(chosen)
        # tolist(): Python ints and floats in one call each (the same values). The
        # candidates are built positionally (token, logprob, id, bytes), without a method
        # call each: this runs for every alternative of every token.
        ids = stats.top_ids.tolist()
        return Step(
            token=label, id=chosen, bytes=data,
            logprob=float(row[chosen]) - stats.lse,
            sample_logprob=sample_lp,
            top=[Candidate(p[0], lp, t, p[1])
                 for t, lp, p in zip(ids, stats.top_logprobs.tolist(), map(self.piece, ids))],
            entropy=stats.entropy, entropy_exact=True,
            tail_logsumexp=[round(v, 5) for v in tail],
            forced=forced,
        )
