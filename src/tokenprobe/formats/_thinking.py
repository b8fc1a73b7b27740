"""Keeping a reasoning model's thinking apart from its answer in an imported trace.

`keep_thinking` routes the tokens of each document (a stream chunk, or the one whole
response) to the thinking or the answer by the texts the document gave each part, as a live
stream does (reasoning.PartRouter); `split_thinking` finishes the trace's `reasoning` once
the answer is settled, or, when the server gave no thinking apart, splits a text that opens
with a think tag at the tags' tokens (reasoning.split_inline).

It leaves out reading any format's documents (the format modules pass their own reader).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tokenprobe.formats.trace_finish import add_note
from tokenprobe.formats.wire_tokens import Piece, fit_to_text, name_hidden_chosen
from tokenprobe.reasoning import (
    INLINE_NOTE,
    PartRouter,
    Reasoning,
    settle_reasoning,
    split_inline,
)
from tokenprobe.textbytes import TextAssembler, token_label
from tokenprobe.trace import Step, Trace

ReadItems = Callable[[Any], tuple[list[Piece], list[Step]]]


def keep_thinking(trace: Trace, docs: list[tuple[Any, str, str]], source: str,
                  read: ReadItems) -> list[Piece]:
    """Route each document's tokens, given as (logprob items, thinking text, answer text),
    to `trace.reasoning` or `trace.steps`; returns the answer's pieces for `settle`."""
    router = PartRouter()
    thinking = Reasoning(source=source)
    t_pieces: list[Piece] = []
    a_pieces: list[Piece] = []
    answer: list[Step] = []
    routed = [router.route(*read(items), thought, content)
              for items, thought, content in docs]
    for think, part in [*routed, router.flush()]:
        thinking.text += think.text
        t_pieces += think.pieces
        thinking.steps += think.steps
        a_pieces += part.pieces
        answer += part.steps
    fit_thinking(thinking, t_pieces)
    trace.reasoning = thinking
    trace.steps = answer
    return a_pieces


def fit_thinking(thinking: Reasoning, pieces: list[Piece]) -> None:
    """The thinking's tokens with hidden bytes get them from the thinking's text."""
    if all(p.hidden is None for p in pieces):
        return
    fitted = fit_to_text(pieces, thinking.text)
    for step, piece, data in zip(thinking.steps, pieces, fitted or [p.data for p in pieces]):
        if piece.hidden is not None and fitted is not None and data != step.data:
            step.bytes, step.token = data, token_label(data)
            name_hidden_chosen(step)


def split_thinking(trace: Trace) -> Trace:
    """Finish the trace's thinking, or find it inline at the start of the answer."""
    if trace.reasoning is not None:
        settle_reasoning(trace.reasoning, trace.steps)
        return trace
    where = split_inline([s.data for s in trace.steps])
    if where is None:
        return trace
    open_end, close_start, close_end = where
    inside = TextAssembler()
    for s in trace.steps[open_end:close_start]:
        inside.add(s.data)
    trace.reasoning = Reasoning(text=inside.finish(), steps=trace.steps[:close_end],
                                source="think_tags")
    trace.steps = trace.steps[close_end:]
    trace.rebuild_text()
    settle_reasoning(trace.reasoning, trace.steps)
    add_note(trace, INLINE_NOTE)
    return trace
