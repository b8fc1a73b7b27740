"""What the engines that compute their own logits rows share (llama.py, torch_model.py):
a request's sampling (its settings, the choice of each token, the stop strings), a step and
its candidates from a row and its statistics, the temperatures a trace's tail summary covers,
and the end of a scored text.

It leaves out the rows themselves (each engine's evaluation) and the arithmetic
(distribution.RowAnalyzer, process).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tokenprobe.distribution import (
    TAIL_TEMPERATURES,
    Processed,
    RowAnalyzer,
    RowStats,
    Sampler,
    process,
)
from tokenprobe.textbytes import TextAssembler
from tokenprobe.trace import Candidate, Request, Step, Trace


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


class Sampling:
    """A request's sampling as a row engine applies it: each row's statistics, the token
    drawn from it (or forced, or the argmax at T = 0) and the tail entry at the request's
    own temperature, and whether a stop string has appeared."""

    def __init__(self, request: Request, trace: Trace) -> None:
        t = request.temperature
        self.temperature = t if t is not None else 1.0
        self.top_k = request.top_k or 0
        self.top_p = request.top_p if request.top_p is not None else 1.0
        self.n_alt = request.alternatives if request.alternatives is not None else 10
        self.extra_t, trace.tail_temperatures = tail_temperatures(self.temperature)
        # A draw from the row's own distribution: analyze's exp pass gives it.
        self.raw = self.temperature == 1.0 and not self.top_k and self.top_p >= 1.0
        self.sampler = Sampler(request.seed)
        self.stops = [s.encode("utf-8") for s in request.stop if s]
        self._longest = max((len(s) for s in self.stops), default=0)
        self._recent = b""

    def stats(self, analyzer: RowAnalyzer, row: np.ndarray, draw: bool = True) -> RowStats:
        """The row's statistics; for a token to be drawn at T = 1, its probabilities too
        (a forced token is not drawn: no pass for them)."""
        return analyzer.analyze(row, self.n_alt, raw_probs=self.raw and draw)

    def processed(self, row: np.ndarray, stats: RowStats) -> Processed:
        if stats.probs is not None:
            return stats.raw_distribution()
        return process(row, self.temperature, self.top_k, self.top_p, exclude=stats.top_ids)

    def tail(self, row: np.ndarray, stats: RowStats, dist: Processed | None = None
             ) -> list[float]:
        """The step's tail summary, with the request's own temperature's entry when it is
        off the grid."""
        if not self.extra_t:
            return stats.tail_logsumexp
        dist = dist or self.processed(row, stats)
        return [*stats.tail_logsumexp, tail_at(dist, stats.lse, self.temperature)]

    def choose(self, row: np.ndarray, stats: RowStats, forced: int | None = None
               ) -> tuple[int, float | None, list[float]]:
        """(the token, its logprob under the distribution it was drawn from, the tail)."""
        if forced is not None:
            return forced, None, self.tail(row, stats)
        if self.temperature == 0.0:
            best = int(stats.top_ids[0]) if self.n_alt > 0 else int(np.argmax(row))
            return best, 0.0, self.tail(row, stats)
        dist = self.processed(row, stats)
        chosen = self.sampler.sample(dist)
        return chosen, dist.logprob_of(chosen), self.tail(row, stats, dist)

    def stopped(self, data: bytes) -> bool:
        """Whether a stop string ends in the text so far, given the newest token's bytes."""
        if not self.stops:
            return False
        self._recent = (self._recent + data)[-(self._longest + len(data)):]
        return any(s in self._recent for s in self.stops)


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
    """Steps and candidates named by the engine's `piece` (a token's label and bytes), and
    a fixed answer's trace as both engines start and end it."""

    def piece(self, token_id: int) -> tuple[str, bytes]:
        raise NotImplementedError

    def _answer_trace(self, request: Request, answer: str, alternatives: int
                      ) -> tuple[Trace, Sampling, list[int], list[int]]:
        """A fixed answer's trace (its request: the answer's length, no stop strings) and
        sampling, the prompt's ids and the answer's."""
        engine: Any = self  # the engine's own names: forced_ids, prompt_tokens, ...
        ids = engine.forced_ids(answer)
        req = Request(**{**request.to_dict(), "max_tokens": len(ids),
                         "alternatives": alternatives, "stop": []})
        prompt = engine.prompt_tokens(req)
        engine._check_room(len(prompt), len(ids))
        trace = Trace(backend=engine.name, model=engine.model, request=req,
                      logprobs_kind=engine.logprobs_kind, source=engine.source(),
                      complete=False, vocab_size=engine.n_vocab)
        return trace, Sampling(req, trace), prompt, ids

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
