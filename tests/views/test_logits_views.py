"""A trace whose numbers are a server's logits (vLLM's --logprobs-mode raw_logits or
processed_logits, read as logprobs_kind "logits") is shown as logits, labelled, in the
terminal and the viewer: the values and their distance from the top listed one, and no
probability, percentage, bar or tail mass made from them."""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console

from tokenprobe.trace import Candidate, Request, Step, Trace
from tokenprobe.views.step_view import step_tables
from tokenprobe.views.terminal import print_trace

PROMPT = "The capital of France is"


def logits_trace() -> Trace:
    """Two steps as vLLM's raw_logits mode reports them (the chosen token second-listed
    in step 1, and one candidate of step 0 a <script> to check the escaping)."""
    rows = [
        (" Paris", 18.25, [(" Paris", 18.25), (" the", 17.9), ("<script>", 16.0)]),
        (",", 14.5, [(".", 15.125), (",", 14.5)]),
    ]
    steps = [Step(token=tok, bytes=tok.encode(), logprob=None, logit=lg,
                  top=[Candidate(t, None, bytes=t.encode(), logit=v) for t, v in alts])
             for tok, lg, alts in rows]
    return Trace(backend="openai", model="gemma", logprobs_kind="logits", steps=steps,
                 request=Request(mode="completion", prompt=PROMPT, temperature=0.0),
                 created="2026-12-07T06:00:00Z")


def render(fn: Any) -> str:
    console = Console(width=100, record=True, color_system=None)
    fn(console)
    return console.export_text()


def test_terminal_step_view_shows_logits_not_probabilities() -> None:
    out = render(lambda c: [c.print(p) for p in step_tables(logits_trace())])
    assert "logit" in out and "− top logit" in out
    assert "18.250" in out and "-0.350" in out and "-2.250" in out
    # Step 1: the chosen "," had the second logit, 0.625 below the top one.
    assert "14.500" in out and "-0.625" in out and "rank 2" in out
    assert "%" not in out and "outside the list" not in out
    assert "no probabilities" in out


def test_terminal_summary_makes_no_probability() -> None:
    out = render(lambda c: print_trace(c, logits_trace()))
    summary = out[out.index("gemma · openai"):]
    assert "%" not in summary and "perplexity" not in summary.split("no probability")[0]
    assert re.search(r"highest listed logit chosen\s+1 of 2", summary)
    assert "logits, not log-probabilities" in summary


def test_viewer_popover_and_step_view_show_logits(open_trace: Any) -> None:
    o = open_trace([logits_trace()])
    page = o.page
    page.hover(".tp-text-gen .t >> nth=1")  # ","
    page.wait_for_selector(".tp-pop:not([hidden])")
    pop = page.text_content(".tp-pop")
    assert "14.500" in pop and "\u22120.625" in pop and "15.125" in pop
    assert "no probabilities" in pop and "%" not in pop
    assert page.eval_on_selector_all(".tp-pop .tp-bars", "b => b.length") == 0
    page.hover(".tp-text-gen .t >> nth=0")
    page.wait_for_selector(".tp-pop:not([hidden])")
    assert "<script>" in page.text_content(".tp-pop .tp-logit-table")
    page.click("text=Step by step")
    cands = page.text_content(".tp-step-cands")
    assert "18.250" in cands and "\u22122.250" in cands and "%" not in cands
    assert o.errors == [] and o.blocked == [] and o.dialogs == []
