"""Terminal views of comparisons, choices, sweeps and branch trees (rich).

It leaves out the computations (ops/) and single traces (views/terminal.py).
"""

from __future__ import annotations

import math

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.measure import Measurement
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tokenprobe.metrics import scope, summarize
from tokenprobe.ops.choose import Choice, OptionScore
from tokenprobe.ops.compare import Comparison, fmt_stat
from tokenprobe.ops.sweep import Sweep
from tokenprobe.trace import Trace
from tokenprobe.views.terminal import (
    _bar,
    _pct,
    colored_text,
    glyph_labels,
    glyph_runs,
    pct_range,
    prob_style,
    sci_prob,
    show_token,
)


def comparison_view(c: Comparison) -> Group:
    parts: list[Table | Text | Panel | Group] = []
    title = ("on the fixed answer " + repr(c.answer)) if c.answer is not None else (
        f"generated, {c.samples} sample{'s' if c.samples > 1 else ''} per variant"
        + (" (mean ± sd)" if c.samples > 1 else ""))
    legend = Text()
    for n, v in enumerate(c.variants):
        legend.append(f"{_letter(n)}  ", style="bold")
        legend.append(v.label + "\n")
    parts.append(legend)
    # One row per figure, one column per variant: the figures' names stay whole in a
    # narrow terminal, and variants line up for reading across.
    table = Table(title=f"comparison {title}", title_justify="left", show_lines=False)
    table.add_column("", no_wrap=True)
    for n in range(len(c.variants)):
        table.add_column(_letter(n), justify="right", no_wrap=True)
    stats = [v.stats() for v in c.variants]
    n_s = c.samples

    def row(label: str, cells: list[str]) -> None:
        table.add_row(Text(label, style="dim"), *cells)

    row("tokens", [fmt_stat(st["tokens"], ".1f" if n_s > 1 else ".0f", n_s) for st in stats])
    row("total logprob", [fmt_stat(st["total_logprob"], ".2f", n_s) for st in stats])
    row("mean logprob", [fmt_stat(st["mean_logprob"], ".3f", n_s) for st in stats])
    row("per-token probability: geometric mean",
        [_pct_cell(st["geometric_mean_prob"], n_s) for st in stats])
    row("per-token probability: arithmetic mean",
        [_pct_cell(st["arithmetic_mean_prob"], n_s) for st in stats])
    row("perplexity", [fmt_stat(st["perplexity"], ".2f", n_s) for st in stats])
    row("mean entropy (nats)", [fmt_stat(st["mean_entropy"], ".2f", n_s) for st in stats])
    row("top-1 share", [_pct_cell(st["top1_share"], n_s) for st in stats])
    if c.answer is not None:
        # One trace per variant: its probability of the whole answer, written from the
        # total logprob (the float underflows on long answers).
        row("probability of the whole answer",
            [sci_prob(summarize(v.traces[0]).total_logprob) for v in c.variants])
    parts.append(table)
    notes = [(n, v.thinking_note()) for n, v in enumerate(c.variants)]
    for n, note in notes:  # a reasoning model's thinking is in none of the figures above
        if note is not None:
            parts.append(Text(f"{_letter(n)}: {note}", style="dim"))
    if c.answer is not None:
        parts.append(token_delta_table(c))
    else:
        for n, v in enumerate(c.variants):
            t = v.traces[0]
            body = Text.assemble(colored_text(t.steps), "\n")
            body.append("least confident: ", style="dim")
            labels = glyph_labels(scope(t))
            for i, step in summarize(t).least_likely:
                body.append(labels[i], style=prob_style(step.logprob))
                body.append(f" {_pct(step.prob)} @{i}  ", style="dim")
            parts.append(Panel(body, title=f"{_letter(n)} · sample 1 of {len(v.traces)}",
                               title_align="left", border_style="grey50"))
    return Group(*parts)


def _letter(n: int) -> str:
    return chr(ord("A") + n) if n < 26 else f"V{n + 1}"


def _pct_cell(stat: tuple[float, float] | None, samples: int) -> str:
    """A probability's mean (± sd over samples) as a percentage; small values stay visible."""
    if stat is None:
        return "not reported"
    mean, sd = stat
    if samples > 1 and not math.isnan(sd):
        return f"{_pct(mean)} ± {_pct(sd)}"
    return _pct(mean)


def token_delta_table(c: Comparison) -> Group:
    """Per answer token: its probability under each variant, and the change vs the first.

    A variant that split the answer into other tokens (another tokenizer) gets no cells:
    its token k is not A's token k. A line under the table names those variants."""
    deltas = c.token_deltas()
    # The heading goes above the table, not in its title: a title wraps to the table's
    # width, which for a short answer is narrow.
    heading = Text("per token: probability under each variant, and Δ logprob vs A",
                   style="italic")
    t = Table()
    t.add_column("token")
    for n in range(len(c.variants)):
        t.add_column(_letter(n), justify="right")
    steps = [v.traces[0].steps for v in c.variants]
    labels = glyph_labels(steps[0])
    for k, _ in enumerate(steps[0]):
        cells: list[Text | str] = [labels[k]]
        for j in range(len(c.variants)):
            row = deltas[j]
            if row is None:
                cells.append(Text("—", style="dim"))
                continue
            s = steps[j][k]
            cell = Text(_pct(s.prob), style=prob_style(s.logprob))
            d = row[k]
            if j and d is not None:
                cell.append(f" {d:+.2f}", style="green" if d > 0.05 else
                            "red" if d < -0.05 else "dim")
            cells.append(cell)
        t.add_row(*cells)
    other = [j for j, row in enumerate(deltas) if row is None]
    if not other:
        return Group(heading, t)
    names = ", ".join(f"{_letter(j)} ({len(steps[j])} tokens)" for j in other)
    note = Text(f"{names}: the answer split into other tokens than A's (another tokenizer), "
                "so no token lines up with A's; compare their totals above", style="yellow")
    return Group(heading, t, note)


def choice_view(ch: Choice) -> _ChoiceTable | Group:
    """The options ranked, with their bars and tokens, laid out for the console's width;
    under it, for an option whose trace has a reasoning model's thinking, the line that says
    the totals are its answer's."""
    notes = [Text(f"{o.option!r}: {o.thinking_note}", style="dim")
             for o in sorted(ch.options, key=lambda o: -o.probability)
             if o.thinking_note is not None]
    return Group(_ChoiceTable(ch), *notes) if notes else _ChoiceTable(ch)


class _ChoiceTable:
    """The choice's table, sized when it is drawn: the numbers and bars keep their width,
    the options and their tokens share the rest, and a token is never parted from its
    probability (wrapping at spaces would put `␣Berlin` and `0.03%` on two lines)."""

    BAR = 12

    def __init__(self, ch: Choice) -> None:
        self.ch = ch

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.table(options.max_width)

    def table(self, width: int) -> Table:
        ch = self.ch
        rows = sorted(ch.options, key=lambda o: -o.probability)
        pcts = [_pct(o.probability) for o in rows]
        totals = [f"{o.total_logprob:.3f}" for o in rows]
        pairs = [_token_pairs(o) for o in rows]
        labels = [Text(repr(o.option), style="bold" if o is ch.best() else "") for o in rows]
        pw = max(len(p) for p in pcts)
        opt_max = max(t.cell_len for t in labels)
        pair_min = max((p.cell_len for ps in pairs for p in ps), default=1)
        pair_max = max((_Pairs(ps).one_line() for ps in pairs), default=1)
        # Borders (6) and a space either side of each of the five columns (10); the
        # heading "total logprob" on one line when all fits, and the bar gets shorter
        # before an option or a token would have to be cut.
        lw = max(max(len(t) for t in totals), len("total logprob"))
        if 16 + lw + len("tokens") + pw + 1 + self.BAR + opt_max + pair_max > width:
            lw = max(max(len(t) for t in totals), len("logprob"))
        base = 16 + lw + len("tokens")
        room = width - base - min(opt_max, 8) - pair_min - pw - 1
        bar = max(min(self.BAR, room), len("probability") - pw - 1, 0)
        rest = width - base - max(len("probability"), pw + 1 + bar)
        per = min(pair_max, max(pair_min, rest - opt_max))
        opt = max(min(opt_max, rest - per), min(opt_max, 8))
        if opt + per > rest:  # narrow: the options wrap to make room for whole tokens
            per = max(pair_min, rest - opt)
        t = Table(title=f"choose after {ch.prompt!r}", title_justify="left")
        t.add_column("option", width=max(opt, 1))
        t.add_column("probability", no_wrap=True)
        t.add_column("total logprob", justify="right", width=lw)
        t.add_column("tokens", justify="right", no_wrap=True)
        t.add_column("per token", width=max(per, 1))
        for o, label, p, total, ps in zip(rows, labels, pcts, totals, pairs):
            cell = Text(p.rjust(pw) + " ")
            cell.append(_bar(o.probability, bar), style="cyan")
            t.add_row(label, cell, total, str(o.n_tokens), _Pairs(ps))
        return t


def _token_pairs(o: OptionScore) -> list[Text]:
    out = []
    for label, lp in glyph_runs(o.trace.steps):
        pair = Text(label, style=prob_style(lp))
        pair.append(f" {_pct(None if lp is None else math.exp(lp))}", style="dim")
        out.append(pair)
    return out


class _Pairs:
    """Token–probability pairs in lines as wide as the column, a pair never split across
    lines."""

    def __init__(self, pairs: list[Text]) -> None:
        self.pairs = pairs

    def one_line(self) -> int:
        return sum(p.cell_len for p in self.pairs) + 2 * max(len(self.pairs) - 1, 0)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(max((p.cell_len for p in self.pairs), default=0), self.one_line())

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        out, line = Text(), 0
        for pair in self.pairs:
            if line and line + 2 + pair.cell_len > options.max_width:
                out.append("\n")
                line = 0
            elif line:
                out.append("  ")
                line += 2
            out.append_text(pair)
            line += pair.cell_len
        yield out


def sweep_view(sw: Sweep, n_candidates: int = 5) -> Group:
    """Per greedy step, the candidates at each temperature: a percentage where the value is
    known, a range (`62.0–71.3%`) where the trace only bounds it, with one line saying why."""
    parts: list[Table | Text] = []
    why: str | None = None
    for k, step in enumerate(sw.base.steps):
        t = Table(title=f"step {k}: after …{_tail(sw, k)}", title_justify="left",
                  show_header=True)
        for col in sw.columns:
            label = f"T = {col.temperature:g}"
            ent = col.entropies[k]
            if ent is not None:
                label += f"  H {ent:.2f}"
            t.add_column(label, overflow="fold")
        rows = []
        for col in sw.columns:
            view = col.views[k]
            if view is None:
                rows.append([Text(f"{show_token(step.top[0].token)} 100%", style="bold")]
                            if step.top else [Text("")])
                continue
            if view.is_range and why is None:
                why = view.note
            cells = []
            for c in view.candidates[:n_candidates]:
                shown = _pct(c.low) if c.prob is not None else pct_range(c.low, c.high)
                cells.append(Text(f"{show_token(c.candidate.token)} {shown}", style=prob_style(
                    math.log(c.high) if c.high > 0 else None)))
            rows.append(cells)
        for i in range(n_candidates):
            t.add_row(*[r[i] if i < len(r) else "" for r in rows])
        parts.append(t)
    if why is not None:
        parts.append(Text(f"ranges: {why}", style="dim italic"))
    samples = Table(title="a fresh sample at each temperature (same seed)",
                    title_justify="left")
    samples.add_column("T", justify="right")
    samples.add_column("text", overflow="fold")
    for col in sw.columns:
        samples.add_row(f"{col.temperature:g}", colored_text(col.sample.steps))
    parts.append(samples)
    return Group(*parts)


def _tail(sw: Sweep, k: int, width: int = 30) -> str:
    ctx = sw.prompt + b"".join(s.data for s in sw.base.steps[:k]).decode("utf-8", "replace")
    return ctx[-width:]


def tree_view(traces: list[Trace]) -> Text:
    """The branches of one root as an outline: each branch under its parent, at its fork."""
    by_parent: dict[str | None, list[Trace]] = {}
    ids = {t.id for t in traces}
    for t in traces:
        pid = (t.parent or {}).get("id")
        by_parent.setdefault(pid if pid in ids else None, []).append(t)
    out = Text()

    def walk(t: Trace, depth: int) -> None:
        fork = t.parent
        prefix = "  " * depth + ("└ " if depth else "")
        out.append(prefix + t.id[:8], style="bold")
        if fork:
            out.append(f"  at step {fork['step']}: {show_token(str(fork['token']))}", style="cyan")
        out.append("  ")
        start = int(fork["step"]) if fork else 0
        out.append_text(colored_text(t.steps[start:]))
        out.append("\n")
        for child in by_parent.get(t.id, []):
            walk(child, depth + 1)

    for root in by_parent.get(None, []):
        walk(root, 0)
    return out
