"""The terminal views on small traces built by hand: what the summary and the step view
say where data is missing, split characters drawn as glyphs, labelled distributions, ranges
where the trace only bounds a value, and a greedy request that did not get the top token."""

from __future__ import annotations

import io
import math
import re

import numpy as np
from rich.console import Console

from tokenprobe.metrics import summarize
from tokenprobe.trace import Candidate, Request, Step, Trace
from tokenprobe.views.step_view import step_tables
from tokenprobe.views.terminal import print_trace, summary_panel


def _console(width: int = 140) -> Console:
    return Console(width=width, record=True, color_system=None, file=io.StringIO())


def _render(*items: object, width: int = 140) -> str:
    con = _console(width)
    for it in items:
        con.print(it)
    return con.export_text()


def _steps_text(trace: Trace, dist: str = "sampled", width: int = 140) -> str:
    return _render(*step_tables(trace, dist=dist), width=width)


def _lp(p: float) -> float:
    return math.log(p)


def _scored(steps: list[Step]) -> Trace:
    return Trace(backend="llama", model="m", request=Request(mode="score", prompt="x",
                                                             temperature=None),
                 prompt_steps=steps)


def _word(tok: str, p: float, others: tuple[tuple[str, float], ...] = (("q", 0.01),)) -> Step:
    top = [Candidate(tok, _lp(p), 10), *(Candidate(t, _lp(x), 20 + k)
                                         for k, (t, x) in enumerate(others))]
    top.sort(key=lambda c: c.logprob, reverse=True)  # type: ignore[arg-type,return-value]
    return Step(token=tok, id=10, logprob=_lp(p), top=top, entropy=0.5, entropy_exact=True)


BOS = Step(token="<bos>", id=2, bytes=b"", logprob=None, special=True)


def test_scored_text_with_bos_counts_only_the_text() -> None:
    t = _scored([BOS, _word("the", 0.2), _word(" cat", 0.1), _word(" sat", 0.3)])
    out = _render(summary_panel(t))
    assert re.search(r"tokens\s+3\b", out), out
    assert "not reported" not in out and "<bos>" not in out
    steps = _steps_text(t)
    assert "step 0" not in steps and "step 1" in steps and "<bos>" not in steps


def test_first_token_without_context_says_so() -> None:
    t = _scored([Step(token="The", logprob=None), _word(" cat", 0.1), _word(" sat", 0.3)])
    out = _render(summary_panel(t))
    assert "first token: no context" in out and "not reported" not in out
    assert "probability of the text after its first token" in out
    steps = _steps_text(t)
    first = steps.split("step 1")[0]
    assert "first token: no context" in first
    for wrong in ("not reported", "rank", "n/a"):
        assert wrong not in first, wrong


def test_no_alternatives_is_said_once_plainly() -> None:
    t = Trace(backend="import", model="m", request=Request(temperature=1.0),
              steps=[Step(token="hi", logprob=_lp(0.5))], logprobs_kind="raw")
    out = _steps_text(t)
    assert "no alternatives reported" in out
    assert "rank >" not in out and "not in the list" not in out


def _kanji_trace() -> Trace:
    # 𠮷 (f0 a0 ae b7) as four byte tokens, 曇 (e6 9b 87) as two, then の.
    pieces = [(b"\xf0", 0.5), (b"\xa0", 0.9), (b"\xae", 0.95), (b"\xb7", 0.99),
              (b"\xe6\x9b", 0.04), (b"\x87", 0.7), ("の".encode(), 0.8)]
    steps = []
    for k, (data, p) in enumerate(pieces):
        alt = b"\x80" if k == 5 else b"\xe3"
        top = [Candidate.from_bytes(data, _lp(p), 100 + k),
               Candidate.from_bytes(alt, _lp((1 - p) / 2), 200 + k)]
        top.sort(key=lambda c: c.logprob, reverse=True)  # type: ignore[arg-type,return-value]
        steps.append(Step.from_dict({"token": data.decode("utf-8", "backslashreplace"),
                                     "id": 100 + k, "bytes": list(data), "logprob": _lp(p),
                                     "top": [c.to_dict() for c in top]}))
    return Trace(backend="llama", model="m", request=Request(prompt="", temperature=0),
                 steps=steps)


def test_split_characters_are_glyphs_everywhere() -> None:
    t = _kanji_trace()
    steps = _steps_text(t)
    summary = _render(summary_panel(t))
    for out in (steps, summary):
        assert "\ufffd" not in out
        assert "\\xe6\\x9b" not in out
    assert "曇 (token 1 of 2)" in summary  # the least likely token, by its character
    assert "𠮷 (token 1 of 4)" in steps and "𠮷 (token 4 of 4)" in steps
    # In the context line of the step after 𠮷 the character is drawn whole.
    assert "𠮷曇" in steps
    # At 曇's second token, the alternative 0x80 would have made 曀 with the bytes before.
    assert "曀 (with the tokens before)" in steps


def test_greedy_request_that_did_not_take_the_top_token() -> None:
    steps = [_word("a", 0.6), _word("b", 0.3, (("c", 0.5),)), _word("d", 0.2, (("e", 0.7),))]
    t = Trace(backend="openai", model="m", request=Request(prompt="p", temperature=0.0),
              steps=steps)
    assert summarize(t).not_top == 2
    out = _render(summary_panel(t))
    assert "greedy request (T = 0), but 2 tokens were not the top choice" in out
    panels = _steps_text(t).split("step ")[1:]
    assert ["yet not the top token" in p for p in panels] == [False, True, True]
    t.request.temperature = 0.7
    assert "greedy" not in _render(summary_panel(t))


def test_raw_columns_are_labelled() -> None:
    t = _scored([BOS, _word("the", 0.2), _word(" cat", 0.1)])
    out = _steps_text(t, dist="raw")
    assert "p (T=1)" in out and "logprob (T=1)" in out


def _server_trace(temperature: float, vocab: int | None = 1000) -> Trace:
    """A server trace (no tail summary): top-3 listed, the rest only as a lump."""
    listed = [("の", 0.55), ("が", 0.25), ("は", 0.1)]
    top = [Candidate(tok, _lp(p), 10 + k) for k, (tok, p) in enumerate(listed)]
    step = Step(token="の", id=10, logprob=_lp(0.55), top=top)
    return Trace(backend="openai", model="m", request=Request(prompt="p",
                                                              temperature=temperature),
                 steps=[step], logprobs_kind="raw", vocab_size=vocab)


def _extremes(p: list[float], rest: float, vocab: int, beta: float) -> tuple[float, float]:
    """The first candidate's probability at 1/beta over the two extreme full distributions
    consistent with the listed ones (numpy, float64 over the whole vocabulary)."""
    cap = min(p)
    n_full = int(rest // cap)
    conc = np.array(p + [cap] * n_full + [rest - n_full * cap])
    even = np.array(p + [rest / (vocab - len(p))] * (vocab - len(p)))
    vals = []
    for dist in (conc, even):
        w = dist ** beta
        vals.append(float(w[0] / w.sum()))
    return min(vals), max(vals)


def test_sampled_probabilities_without_tail_summary_are_ranges() -> None:
    t = _server_trace(0.5)
    was = t.steps[0].top[1]
    t.steps[0].top[1] = Candidate("a rather long token label", was.logprob, was.id)
    out = _steps_text(t, width=70)  # a narrow terminal: the numbers are never cut
    lo, hi = _extremes([0.55, 0.25, 0.1], 0.1, 1000, 2.0)
    row = next(ln for ln in out.splitlines() if "▶" in ln)
    assert f"{100 * lo:.1f}–{100 * hi:.1f}%" in row, out
    assert "p at T=0.5" in out and "p (T=1)" in out
    assert "ranges: only the top 3 were reported" in out
    # The raw column stays the reported point value.
    assert "55.0%" in out


def test_sampled_probabilities_with_tail_summary_are_points() -> None:
    # A tail summary that makes the 997 unlisted tokens exactly even at every T.
    temps = [2.0, 1.0, 0.5]
    q = 0.1 / 997
    tail = [math.log(997) + math.log(q) / tt for tt in temps]
    t = _server_trace(0.5)
    t.tail_temperatures = temps
    t.steps[0].tail_logsumexp = tail
    out = _steps_text(t)
    p = np.array([0.55, 0.25, 0.1] + [q] * 997) ** 2.0
    assert f"{100 * p[0] / p.sum():.1f}%" in out
    assert "ranges:" not in out and "–" not in out.split("step 0")[1].split("chosen")[0]


def test_print_trace_runs_end_to_end() -> None:
    t = _kanji_trace()
    con = _console(120)
    print_trace(con, t, steps=True)
    text = con.export_text()
    assert "\ufffd" not in text and "𠮷曇の" in text


def test_comparison_table_names_both_means_and_the_answers_probability() -> None:
    from tokenprobe.ops.compare import Comparison, Variant
    from tokenprobe.views.ops_terminal import comparison_view

    probs = [[0.9, 0.1, 0.5], [0.2, 0.3, 0.4]]
    variants = []
    for n, ps in enumerate(probs):
        steps = [Step(token=f"t{k}", logprob=_lp(p), forced=True) for k, p in enumerate(ps)]
        variants.append(Variant(f"v{n}", {}, [Trace(backend="llama", model="m", steps=steps)]))
    out = _render(comparison_view(Comparison(variants, answer="t0t1t2")), width=200)
    lines = {ln.split("│")[1].strip(): [c.strip() for c in ln.split("│")[2:-1]]
             for ln in out.splitlines() if ln.startswith("│")}
    a, b = (np.array(ps) for ps in probs)
    assert lines["per-token probability: geometric mean"] == [
        f"{100 * float(np.exp(np.log(x).mean())):.1f}%" for x in (a, b)]
    assert lines["per-token probability: arithmetic mean"] == [
        f"{100 * x.mean():.1f}%" for x in (a, b)]
    assert lines["probability of the whole answer"] == [
        f"{100 * float(x.prod()):.1f}%" for x in (a, b)]


def test_choice_and_deltas_name_split_characters_by_glyph() -> None:
    from tokenprobe.ops.choose import Choice, OptionScore
    from tokenprobe.views.ops_terminal import choice_view

    t = _kanji_trace()
    opt = OptionScore(option="𠮷曇の", probability=1.0, total_logprob=-3.0, n_tokens=7,
                      trace=t)
    out = _render(choice_view(Choice(prompt="p", model="m", options=[opt])), width=200)
    assert "𠮷 " in out and "曇 " in out and "\\x" not in out and "\ufffd" not in out
    # The glyph's probability is the product of its pieces'.
    assert f"𠮷 {100 * 0.5 * 0.9 * 0.95 * 0.99:.1f}%" in out


def test_summary_names_both_means_and_the_whole_text() -> None:
    ps = np.array([0.2, 0.1, 0.3])
    t = _scored([BOS, *(_word(f"w{k}", float(p)) for k, p in enumerate(ps))])
    out = _render(summary_panel(t), width=80)
    assert (f"per-token probability: geometric mean {100 * np.exp(np.log(ps).mean()):.1f}%, "
            f"arithmetic mean {100 * ps.mean():.1f}%") in out
    assert f"probability of the whole text {100 * ps.prod():.1f}%" in out
    assert "mean probability" not in out
