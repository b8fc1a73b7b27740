"""The terminal step view (`--steps`): one panel per token of the text.

Each panel shows the context so far (a character split over several tokens drawn as its
glyph, with which piece this step is), the listed candidates with bars, and the chosen
token with its probability and rank. Every probability column is labelled with its
distribution: the reported one (raw, T = 1, for the local engine) and, for a sampled
generation, the one the token was drawn from (temperature, top-k, top-p). Where the trace
only bounds a value at the sampling temperature (no tail summary: servers, imports), the
view prints the range and one line saying why. Control tokens the engine added (`<bos>`)
get no panel; a scored text's first token without context says so.

It leaves out the arithmetic (distribution.py, metrics.py) and the summary (terminal.py).
"""

from __future__ import annotations

import codecs
import math

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tokenprobe.distribution import CandidateAt, TemperatureView, is_chosen, step_sampled
from tokenprobe.metrics import counts, no_context_first, scope
from tokenprobe.textbytes import display_text, glyph_groups, token_label
from tokenprobe.trace import Candidate, Step, Trace
from tokenprobe.views.terminal import (
    MISSING_STYLE,
    NO_CONTEXT,
    _bar,
    _fmt,
    _pct,
    bar_range,
    own_text,
    pct_range,
    prob_style,
    show_token,
)

BAR = 20  # characters for a probability of 1


def step_tables(trace: Trace, dist: str = "sampled", context_chars: int = 60) -> list[Panel]:
    """One panel per token of the text: context, candidates with bars, the chosen marked."""
    steps = scope(trace)
    req = trace.request
    before = (req.prompt or "") if trace.steps and req.mode == "completion" else ""
    first_free = no_context_first(trace)
    panels: list[Panel] = []
    done = b""  # the bytes of the glyph groups before the current one
    for g in glyph_groups([s.data for s in steps]):
        pieces = [steps[i].data for i in g]
        glyph = b"".join(pieces)
        for k, i in enumerate(g):
            step = steps[i]
            if not counts(step):
                continue
            ctx = before + display_text(done)
            line = Text(("…" + ctx[-context_chars:]) if len(ctx) > context_chars else ctx,
                        style="dim")
            line.append(own_text(glyph, step.token) if len(g) > 1 else
                        own_text(step.data, step.token),
                        style="reverse " + prob_style(step.logprob))
            if len(g) > 1:
                line.append(f"  (token {k + 1} of {len(g)} of this character)", style="dim")
            if i == 0 and first_free:
                body = Group(line, Text(f"{NO_CONTEXT}: nothing comes before it, so the "
                                        "model gave it no probability", style="dim"))
                panels.append(_panel(i, body, "no distribution"))
                continue
            prefix = b"".join(pieces[:k])
            panels.append(_step_panel(trace, step, i, line, dist, prefix, glyph, k, len(g)))
        done += glyph
    return panels


def _panel(i: int, body: Group, label: str) -> Panel:
    return Panel(body, title=f"step {i}", title_align="left", subtitle=label,
                 subtitle_align="right", border_style="grey37")


def _step_panel(trace: Trace, step: Step, i: int, line: Text, dist: str, prefix: bytes,
                glyph: bytes, k: int, n: int) -> Panel:
    req = trace.request
    kind = trace.logprobs_kind
    if kind == "logits":
        return _logit_panel(step, i, line, prefix, glyph, k, n)
    reported = "T=1" if kind == "raw" else f"{kind}, as reported"
    label = "raw distribution (T = 1)" if kind == "raw" else f"{kind} logprobs, as reported"
    view: TemperatureView | None = None
    warn: str | None = None
    if dist == "sampled" and trace.steps and req.temperature is not None:
        view = step_sampled(step, req.temperature, req.top_k, req.top_p,
                            trace.tail_temperatures, vocab_size=trace.vocab_size,
                            logprobs_kind=kind)
        if view is not None and view.basis == "reported":
            view = None  # the server's values are the sampled distribution already
            label += " (after the server's samplers)"
        elif view is not None:
            label = f"sampled distribution ({_sampling(trace)}; {view.accuracy})"
        elif req.temperature == 0 and step.top and not step.forced and _rank(step) != 1:
            label = "greedy request (T = 0); " + label
            warn = ("greedy request (T = 0), yet not the top token: the server sampled, or "
                    "reported another distribution")
        elif req.temperature == 0:
            label = "greedy (T = 0: the top token is always taken); " + label
    table = Table(box=None, padding=(0, 1), show_header=True, header_style="dim")
    table.add_column("", width=2)
    table.add_column("token", overflow="fold")
    table.add_column("", no_wrap=True, overflow="crop")
    if view is not None:
        table.add_column(_p_sampled(trace), justify="right")
    table.add_column(f"p ({reported})", justify="right", style="" if view is None else "dim")
    table.add_column(f"logprob ({reported})", justify="right", style="dim")
    at = {_key(c.candidate): c for c in view.candidates} if view is not None else {}
    chosen_at: CandidateAt | None = None
    chosen_in = False
    widths: list[list[int]] = []
    for c in step.top:
        mine = is_chosen(step, c)
        chosen_in = chosen_in or mine
        name = _candidate_label(c, step, mine, prefix, glyph, k, n)
        cells: list[Text | str] = ["▶" if mine else "", Text(name, style="bold" if mine else "")]
        if view is not None:
            point = at.get(_key(c))
            chosen_at = point if mine else chosen_at
            cells += [_bar_cell(point), _range_cell(point)]
        else:
            cells.append(Text(_bar(c.prob or 0.0, BAR), style=prob_style(c.logprob)))
        cells += [_pct(c.prob), _fmt(c.logprob)]
        table.add_row(*cells)
        widths.append([len(str(x)) for x in cells[3:]])
    if not chosen_in:
        name = _candidate_label(Candidate(step.token, step.logprob, step.id, step.data), step,
                                True, prefix, glyph, k, n)
        if step.top:
            name += "  (not in the list)"
        cells = ["▶", Text(name, style="bold")]
        if view is not None:
            chosen_at = _chosen_outside(view, step, kind)
            cells += [_bar_cell(chosen_at), _range_cell(chosen_at)]
        else:
            cells.append(Text(_bar(step.prob or 0.0, BAR), style=prob_style(step.logprob)))
        cells += [_pct(step.prob), _fmt(step.logprob)]
        table.add_row(*cells)
        widths.append([len(str(x)) for x in cells[3:]])
    if not step.top:
        table.add_row("", Text("no alternatives reported", style="dim"))
    # Numbers are never cut to fit: the token column folds and the bars go first.
    for col, width in zip(table.columns[3:], zip(*widths)):
        col.min_width = max(width)
    me = (f"{show_token(display_text(glyph))} (token {k + 1} of {n})" if n > 1
          else show_token(own_text(step.data, step.token)))
    parts: list[Text | Table] = [line, table,
                                 _foot(trace, step, me, view, chosen_at, reported)]
    if view is not None and view.is_range:
        parts.append(Text(f"ranges: {view.note}", style="dim italic"))
    if warn is not None:
        parts.append(Text(warn, style="yellow"))
    return _panel(i, Group(*parts), label)


LOGIT_NOTE = ("logits as the server reported them: no probabilities (the normaliser over "
              "the vocabulary was not reported); a difference of two logits is the log of "
              "the two tokens' probability ratio")


def _logit_panel(step: Step, i: int, line: Text, prefix: bytes, glyph: bytes, k: int,
                 n: int) -> Panel:
    """A step whose numbers are logits: the values and their distance from the top listed
    one (exactly the log-ratio of the two tokens' probabilities under that distribution);
    no probability, bar or tail is made up."""
    table = Table(box=None, padding=(0, 1), show_header=True, header_style="dim")
    table.add_column("", width=2)
    table.add_column("token", overflow="fold")
    table.add_column("logit", justify="right")
    table.add_column("− top logit", justify="right", style="dim")
    listed = [c.logit for c in step.top if c.logit is not None]
    top = max(listed) if listed else None
    rows = list(step.top)
    chosen_in = any(is_chosen(step, c) for c in rows)
    if not chosen_in:
        rows.append(Candidate(step.token, None, step.id, step.data, logit=step.logit))
    for c in rows:
        mine = is_chosen(step, c) or (not chosen_in and c is rows[-1])
        name = _candidate_label(c, step, mine, prefix, glyph, k, n)
        if mine and not chosen_in and step.top:
            name += "  (not in the list)"
        diff = "" if c.logit is None or top is None else f"{c.logit - top:+.3f}"
        value = "not reported" if c.logit is None else f"{c.logit:.3f}"
        table.add_row("▶" if mine else "", Text(name, style="bold" if mine else ""),
                      value, diff)
    if not step.top:
        table.add_row("", Text("no alternatives reported", style="dim"))
    me = (f"{show_token(display_text(glyph))} (token {k + 1} of {n})" if n > 1
          else show_token(own_text(step.data, step.token)))
    foot = Text(f"chosen {me}: logit "
                f"{'not reported' if step.logit is None else f'{step.logit:.3f}'}", style="dim")
    if step.top:
        foot.append(", " + _rank_text(step))
    return _panel(i, Group(line, table, foot, Text(LOGIT_NOTE, style="dim italic")),
                  "logits, as reported")


def _key(c: Candidate) -> tuple[int | None, bytes]:
    return c.id, c.data


def _sampling(trace: Trace) -> str:
    """The sampled distribution's name: `T=0.3`, with top-k / top-p when they cut."""
    req = trace.request
    cuts = (f", top-k {req.top_k}" if req.top_k else "") + (
        f", top-p {req.top_p:g}" if req.top_p and req.top_p < 1 else "")
    return f"T={req.temperature:g}{cuts}"


def _p_sampled(trace: Trace) -> str:
    """The label of a probability under the sampled distribution."""
    name = _sampling(trace)
    return f"p at {name}" if "," not in name else f"p sampled ({name})"


def _range_cell(point: CandidateAt | None) -> str:
    return "n/a" if point is None else pct_range(point.low, point.high)


def _bar_cell(point: CandidateAt | None) -> Text:
    """The bar under the sampled distribution, coloured by its upper bound."""
    if point is None:
        return Text(_bar(0.0, BAR))
    style = prob_style(math.log(point.high)) if point.high > 0 else MISSING_STYLE
    return Text(bar_range(point.low, point.high, BAR), style=style)


def _chosen_outside(view: TemperatureView, step: Step, kind: str) -> CandidateAt | None:
    """The chosen token's probability under the sampled distribution when it is not listed.

    Its sampled probability, when recorded, is exact. Otherwise, for raw logprobs, its
    ratio to the top candidate is exp((lp − lp_top) / T) (the same normaliser, and the top
    token is never cut by top-k or top-p), which carries the top candidate's bounds over."""
    me = Candidate(step.token, step.logprob, step.id, step.data)
    if step.sample_logprob is not None:
        p = math.exp(step.sample_logprob)
        return CandidateAt(me, p, p)
    if kind != "raw" or step.logprob is None or not view.candidates:
        return None
    top = view.candidates[0]
    if top.candidate.logprob is None:
        return None
    f = math.exp((step.logprob - top.candidate.logprob) / view.temperature)
    return CandidateAt(me, top.low * f, min(top.high * f, 1.0))


def _candidate_label(c: Candidate, step: Step, mine: bool, prefix: bytes, glyph: bytes,
                     k: int, n: int) -> str:
    """A candidate named by what it writes: the chosen piece of a split character by the
    character, an alternative that would complete the pending bytes by the character it
    would make, a piece that is not a character yet by its bytes, and so noted."""
    if mine and n > 1:
        return f"{show_token(display_text(glyph))} (token {k + 1} of {n})"
    data = c.data
    if not data:
        return show_token(c.token)
    dec = codecs.getincrementaldecoder("utf-8")(errors="strict")
    try:
        text = dec.decode(prefix + data)
    except UnicodeDecodeError:
        return show_token(token_label(data))
    if dec.getstate()[0]:
        return show_token(token_label(data)) + " (part of a character)"
    if prefix:
        return show_token(text) + " (with the tokens before)"
    return show_token(text)


def _rank(step: Step) -> int | None:
    """The chosen token's place in the list (known even without its logprob when it is
    listed), else Step.rank(); None when it is past the list or unknown."""
    pos = next((n + 1 for n, c in enumerate(step.top) if is_chosen(step, c)), None)
    return pos if pos is not None else step.rank()


def _rank_text(step: Step) -> str:
    r = _rank(step)
    if r is not None:
        return f"rank {r}"
    if step.logprob is None:
        return "rank unknown (not in the list, logprob not reported)"
    return f"rank > {len(step.top)} (not in the list)"


def _foot(trace: Trace, step: Step, me: str, view: TemperatureView | None,
          chosen_at: CandidateAt | None, reported: str) -> Text:
    foot = Text(f"chosen {me}: ", style="dim")
    foot.append(f"p ({reported}) {_pct(step.prob)}", style=prob_style(step.logprob))
    if view is not None:
        foot.append(f", {_p_sampled(trace)} {_range_cell(chosen_at)}")
    if step.top:  # without a list, the table says "no alternatives reported"
        foot.append(", " + _rank_text(step))
    ent = "not reported" if step.entropy is None else (
        f"{step.entropy:.2f} nats" if step.entropy_exact else f"≥ {step.entropy:.2f} nats")
    foot.append(f", entropy ({reported}) {ent}")
    if view is not None and view.tail_low is not None and view.tail_high is not None:
        where = _p_sampled(trace).removeprefix("p ")
        foot.append(f", outside the list {where} {pct_range(view.tail_low, view.tail_high)}")
    elif step.top:
        listed = math.fsum(c.prob for c in step.top if c.prob is not None)
        foot.append(f", outside the list ({reported}) {_pct(max(0.0, 1.0 - listed))}")
    return foot
