"""Metrics over hand-made traces, and the stream's handling of interruptions and failures."""

from __future__ import annotations

import math
from collections.abc import Generator

import pytest

from tokenprobe.backends.base import Backend, GenerationError
from tokenprobe.errors import ModelError
from tokenprobe.metrics import low_confidence_spans, summarize
from tokenprobe.trace import Candidate, Request, Step, Trace


def _step(tok: str, p: float | None, rank_first: bool = True) -> Step:
    lp = None if p is None else math.log(p)
    top = [Candidate(tok, lp, 1), Candidate("zz", math.log(0.01), 2)]
    if not rank_first:
        top = [Candidate("best", math.log(0.9), 3), *top]
    return Step(token=tok, id=1, logprob=lp, top=top, entropy=1.0, entropy_exact=True)


def test_summary_excludes_and_counts_missing() -> None:
    steps = [_step("a", 0.5), _step("b", None), _step("c", 0.25, rank_first=False)]
    t = Trace(backend="import", model="m", steps=steps)
    s = summarize(t)
    assert (s.tokens, s.reported, s.missing) == (3, 2, 1)
    assert s.total_logprob == pytest.approx(math.log(0.5) + math.log(0.25))
    assert s.mean_logprob == pytest.approx(math.log(0.125) / 2)
    assert s.geometric_mean_prob == pytest.approx(math.sqrt(0.125))
    assert s.arithmetic_mean_prob == pytest.approx((0.5 + 0.25) / 2)
    assert s.sequence_prob == pytest.approx(0.125)
    assert s.perplexity == pytest.approx(1 / math.sqrt(0.125))
    assert s.top1_share == pytest.approx(0.5)
    assert [i for i, _ in s.least_likely] == [2, 0]


def test_all_missing_gives_no_numbers() -> None:
    s = summarize(Trace(backend="import", model="m", steps=[_step("a", None)]))
    assert s.mean_logprob is None and s.perplexity is None and s.missing == 1


def test_low_confidence_spans_break_on_unknown() -> None:
    steps = [_step("a", 0.9), _step("b", 0.1), _step("c", 0.05), _step("d", None),
             _step("e", 0.1), _step("f", 0.95)]
    spans = low_confidence_spans(steps, threshold=0.2)
    assert [(s.start, s.end, s.text) for s in spans] == [(1, 3, "bc"), (4, 5, "e")]


class _Scripted(Backend):
    """A backend that yields a fixed list of steps and then fails (tests the stream)."""

    name = "scripted"
    model = "scripted"

    def __init__(self, steps: list[Step], fail_with: Exception | None) -> None:
        self.steps = steps
        self.fail_with = fail_with

    def generate_steps(self, request: Request, trace: Trace) -> Generator[Step, None, str | None]:
        yield from self.steps
        if self.fail_with is not None:
            raise self.fail_with
        return "length"


def test_broken_stream_keeps_received_tokens() -> None:
    b = _Scripted([Step("a", -0.1), Step("b", -0.2)], ModelError("connection reset"))
    with pytest.raises(GenerationError) as e:
        b.stream(Request(prompt="x")).run()
    t = e.value.trace
    assert [s.token for s in t.steps] == ["a", "b"] and t.text == "ab"
    assert not t.complete and t.finish_reason == "error" and "connection reset" in t.error


def test_failure_before_any_token_is_plain_error() -> None:
    with pytest.raises(ModelError):
        _Scripted([], ModelError("refused")).stream(Request(prompt="x")).run()


def test_consumer_interrupt_marks_incomplete() -> None:
    stream = _Scripted([Step("a", -0.1), Step("b", -0.2), Step("c", -0.3)], None).stream(
        Request(prompt="x"))
    for step in stream:
        if step.token == "b":
            break
    t = stream.interrupt()
    assert [s.token for s in t.steps] == ["a", "b"]
    assert not t.complete and t.error == "interrupted by the user"


def test_complete_stream() -> None:
    t = _Scripted([Step("a", -0.1)], None).stream(Request(prompt="x")).run()
    assert t.complete and t.finish_reason == "length" and t.error is None
