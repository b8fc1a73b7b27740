"""`print(trace)`, `print(step)` and `print(summarize(trace))` give one short, useful line,
not the dataclasses' dump of every step and candidate."""

from __future__ import annotations

import math

from tokenprobe.metrics import summarize
from tokenprobe.trace import Candidate, Request, Step, Trace


def _trace(n: int = 400) -> Trace:
    """A long trace with ten candidates per step, as the local engine records it."""
    t = Trace(backend="llama", model="gemma-3-270m-q4_k_m",
              request=Request(prompt="The capital of France is", max_tokens=n))
    words = [" Paris", ",", " the", " city", " of", " light"]
    for k in range(n):
        w = words[k % len(words)]
        lp = -0.05 * (k % 7) - 0.01
        top = [Candidate(w, lp)] + [Candidate(f" alt{j}", lp - 1 - j) for j in range(9)]
        t.steps.append(Step(w, lp, id=k, top=top, entropy=0.3 + 0.01 * (k % 5),
                            entropy_exact=True, tail_logsumexp=[-5.0, -6.0]))
    t.rebuild_text()
    return t


def test_trace_repr_is_one_short_line() -> None:
    t = _trace()
    r = repr(t)
    assert "\n" not in r and len(r) < 120, r
    assert r == ("<Trace llama gemma-3-270m-q4_k_m completion 400 steps "
                 "' Paris, the city of ligh…' complete>")
    assert str(t) == r  # print(trace) shows the same line


def test_incomplete_branch_and_scored_traces_say_so() -> None:
    t = _trace(3)
    t.complete, t.error = False, "interrupted by the user"
    t.parent = {"id": "0123456789abcdef", "step": 1, "token": " Lyon"}
    r = repr(t)
    assert r.endswith("' Paris, the' branch of 01234567 at 1 incomplete (interrupted by the "
                      "user)>"), r
    s = Trace(backend="llama", model="m", request=Request(mode="score", prompt="the cat sat"),
              prompt_steps=[Step("the", None), Step(" cat", -3.0), Step(" sat", -4.0)])
    assert repr(s) == "<Trace llama m score 3 prompt steps 'the cat sat' complete>"


def test_step_repr_names_its_numbers() -> None:
    step = _trace(2).steps[1]
    assert repr(step) == ("<Step ',' logprob -0.0600 (p 0.9418), rank 1 of 10 listed, "
                          "entropy 0.310 nats>")
    assert f"{math.exp(-0.06):.4g}" == "0.9418"  # the p shown is exp(logprob)
    unlisted = Step(" x", -7.5, top=[Candidate(" a", -0.1), Candidate(" b", -0.2)], forced=True)
    assert repr(unlisted) == "<Step ' x' logprob -7.5000 (p 0.0005531), not among 2 listed, " \
        "forced>"
    assert repr(Step("<bos>", None, bytes=b"", special=True)) == \
        "<Step <bos> logprob not reported, special>"


def test_summary_repr_is_short_and_its_figures_are_the_traces() -> None:
    t = _trace()
    r = repr(summarize(t))
    assert "\n" not in r and len(r) < 200, r
    lps = [s.logprob for s in t.steps]
    mean = math.fsum(lps) / len(lps)  # type: ignore[arg-type]
    assert r == (f"<Summary 400 tokens, perplexity {math.exp(-mean):.4g}, per-token "
                 f"probability geometric mean {math.exp(mean):.2%}, total logprob "
                 f"{math.fsum(lps):.3f}, mean entropy "  # type: ignore[arg-type]
                 f"{sum(0.3 + 0.01 * (k % 5) for k in range(400)) / 400:.3f} nats>")
