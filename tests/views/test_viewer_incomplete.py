"""The summary of a trace that ended early says whose figures they are: the tokens that came
before the error or the stop. A trace with no tokens at all is an answer, never "the scored
text"."""

from __future__ import annotations

from typing import Any

from tests.views.traces import local_trace, missing_trace

from tokenprobe.trace import Request, Trace


def test_an_incomplete_trace_marks_its_summary(open_trace: Any) -> None:
    o = open_trace([missing_trace()])  # 3 tokens, then "connection reset"
    page = o.page
    assert page.text_content(".tp-summary .tp-card-title") == "Summary (incomplete)"
    foot = page.text_content(".tp-summary .tp-foot")
    assert "Incomplete: these figures cover the 3 tokens received before it stopped " \
           "(connection reset)." in foot
    assert o.errors == [] and o.blocked == []


def test_a_complete_trace_is_not_marked(open_trace: Any) -> None:
    o = open_trace([local_trace()])
    assert o.page.text_content(".tp-summary .tp-card-title") == "Summary"
    assert "Incomplete" not in o.page.text_content(".tp-summary")


def test_a_trace_without_tokens_is_not_a_scored_text(open_trace: Any) -> None:
    t = Trace(backend="openai", model="m", request=Request(prompt="hi"), steps=[],
              complete=True, created="2026-11-22T13:00:00Z")
    o = open_trace([t])
    assert o.page.text_content(".tp-summary .tp-card-title") == "Summary"
    assert "This trace has no tokens." in o.page.text_content(".tp-text-gen")
