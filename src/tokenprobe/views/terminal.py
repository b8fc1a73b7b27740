"""The terminal view (rich): coloured text, a live token printer, the step view, a summary.

Each token is coloured by its probability (five bands, with a legend). Byte fragments that
only make a character together are printed as one glyph, with the product of their
probabilities. The step view shows, for each step, the context so far, the top candidates
with bars, and the chosen token with its probability and rank, under the distribution it
was sampled from (labelled) or the raw T = 1 distribution.

It leaves out the arithmetic (metrics.py, distribution.py) and the command line (cli.py).
"""

from __future__ import annotations

import codecs
import math
from collections.abc import Sequence

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tokenprobe.distribution import step_at_temperature, step_sampled
from tokenprobe.metrics import Summary, scored_steps, summarize
from tokenprobe.textbytes import display_text, glyph_groups
from tokenprobe.trace import Candidate, Step, Trace

# (lower bound of probability, style, legend label)
BANDS: tuple[tuple[float, str, str], ...] = (
    (0.9, "bold green", "≥90%"),
    (0.6, "green3", "60–90%"),
    (0.3, "yellow3", "30–60%"),
    (0.1, "dark_orange", "10–30%"),
    (0.0, "bold red", "<10%"),
)
MISSING_STYLE = "grey50"


def prob_style(logprob: float | None) -> str:
    if logprob is None:
        return MISSING_STYLE
    p = math.exp(logprob)
    for low, style, _ in BANDS:
        if p >= low:
            return style
    return BANDS[-1][1]


def legend() -> Text:
    t = Text("probability: ", style="dim")
    for _, style, label in BANDS:
        t.append("■ ", style=style)
        t.append(label + "  ", style="dim")
    t.append("■ ", style=MISSING_STYLE)
    t.append("not reported", style="dim")
    return t


def _group_logprob(steps: Sequence[Step]) -> float | None:
    if any(s.logprob is None for s in steps):
        return None
    return math.fsum(s.logprob for s in steps)  # type: ignore[misc]


def show_token(label: str) -> str:
    """A token label with whitespace made visible (for lists, not for running text)."""
    return (label.replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥")
            .replace("\r", "␍")) or "∅"


def colored_text(steps: Sequence[Step]) -> Text:
    """The steps' text, one styled span per glyph group (special tokens shown dim)."""
    out = Text()
    for g in glyph_groups([s.data for s in steps]):
        group = [steps[i] for i in g]
        data = b"".join(s.data for s in group)
        if not data:
            out.append("".join(s.token for s in group), style="dim italic")
            continue
        out.append(display_text(data), style=prob_style(_group_logprob(group)))
    return out


class LivePrinter:
    """Prints tokens as they arrive, holding back bytes until they make a whole character."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._pending: list[Step] = []
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def add(self, step: Step) -> None:
        self._pending.append(step)
        self._decoder.decode(step.data)
        buffered, _ = self._decoder.getstate()
        if not buffered:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self.console.print(colored_text(self._pending), end="", soft_wrap=True)
            self._pending = []

    def finish(self) -> None:
        self.flush()
        self.console.print()


def _fmt(x: float | None, spec: str = ".3f") -> str:
    return "not reported" if x is None else format(x, spec)


def _pct(p: float | None) -> str:
    if p is None:
        return "n/a"
    if 0 < p < 0.001:
        return f"{100 * p:.1g}%"  # keep small probabilities visible, not "0.0%"
    return f"{100 * p:.1f}%"


def summary_panel(trace: Trace, summary: Summary | None = None) -> Panel:
    s = summary or summarize(trace)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column(justify="right")
    grid.add_column(style="dim")
    grid.add_column(justify="right")
    ent_label = "mean entropy" if s.entropy_exact else "mean entropy (≥, top-N only)"
    rows = [
        ("tokens", f"{s.tokens}" + (f" ({s.missing} not reported)" if s.missing else ""),
         "perplexity", _fmt(s.perplexity, ".2f")),
        ("total logprob", _fmt(s.total_logprob), "mean probability", _pct(s.mean_prob)),
        ("mean logprob", _fmt(s.mean_logprob), ent_label, _fmt(s.mean_entropy, ".2f") +
         (" nats" if s.mean_entropy is not None else "")),
        ("top-1 share", _pct(s.top1_share), "distribution", trace.logprobs_kind),
    ]
    for r in rows:
        grid.add_row(*r)
    parts: list[Table | Text] = [grid]
    if s.least_likely:
        least = Text("least likely: ", style="dim")
        for n, (i, step) in enumerate(s.least_likely):
            if n:
                least.append("  ")
            least.append(repr(step.token), style=prob_style(step.logprob))
            least.append(f" {_pct(step.prob)} @{i}", style="dim")
        parts.append(least)
    if not trace.complete:
        parts.append(Text(f"incomplete: {trace.error or 'stopped early'}", style="bold red"))
    title = f"{trace.model} · {trace.backend}"
    return Panel(Group(*parts), title=title, title_align="left", border_style="grey50")


def _bar(p: float, width: int = 24) -> str:
    full = p * width
    n = int(full)
    frac = full - n
    partial = " ▏▎▍▌▋▊▉"[int(frac * 8)] if n < width else ""
    return ("█" * n + partial).ljust(width)


def step_tables(trace: Trace, dist: str = "sampled", context_chars: int = 60) -> list[Panel]:
    """One panel per step: context, candidates with bars, the chosen token marked."""
    panels: list[Panel] = []
    steps = scored_steps(trace)
    req = trace.request
    context = (req.prompt or "") if trace.steps and req.mode == "completion" else ""
    for i, step in enumerate(steps):
        view = None
        label = "raw distribution (T = 1)"
        if dist == "sampled" and trace.steps:
            view = step_sampled(step, req.temperature, req.top_k, req.top_p,
                                trace.tail_temperatures)
            if view is not None:
                label = f"sampled distribution (T = {req.temperature:g}"
                label += f", top-k {req.top_k}" if req.top_k else ""
                label += f", top-p {req.top_p:g}" if req.top_p and req.top_p < 1 else ""
                label += f"; {view.accuracy})"
            elif req.temperature == 0:
                label = "greedy (T = 0: the top token is always taken); raw probabilities"
        if view is None:
            view = step_at_temperature(step, 1.0, trace.tail_temperatures) if step.top else None
            probs = [(c, c.prob) for c in step.top]
            tail = view.tail if view is not None else None
        else:
            probs = list(view.probs)
            tail = view.tail
        if trace.logprobs_kind != "raw":
            label += f" [server reports {trace.logprobs_kind} logprobs]"
        ctx = Text(("…" + context[-context_chars:]) if len(context) > context_chars
                   else context, style="dim")
        ctx.append(display_text(step.data) or step.token, style="reverse " + prob_style(
            step.logprob))
        table = Table(box=None, padding=(0, 1), show_header=False)
        table.add_column(width=2)
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column(justify="right")
        table.add_column(justify="right", style="dim")
        chosen_in = False
        for c, p in probs:
            is_chosen = _same(c, step)
            chosen_in = chosen_in or is_chosen
            style = "bold" if is_chosen else ""
            table.add_row("▶" if is_chosen else "", Text(show_token(c.token), style=style),
                          Text(_bar(p or 0.0), style=prob_style(c.logprob)), _pct(p),
                          _fmt(c.logprob))
        if not chosen_in:
            p_show = step.prob
            if view is not None and view.log_z is not None and step.logprob is not None:
                p_show = math.exp(step.logprob / view.temperature - view.log_z)
            table.add_row("▶", Text(show_token(step.token) + "  (not in the list)",
                                    style="bold"),
                          Text(_bar(p_show or 0.0), style=prob_style(step.logprob)),
                          _pct(p_show), _fmt(step.logprob))
        if not step.top:
            table.add_row("", Text("no alternatives reported", style="dim"), "", "", "")
        rank = step.rank()
        lines: list[Text | Table] = [ctx, table]
        foot = Text(f"chosen {show_token(step.token)}: ", style="dim")
        p_sampled = math.exp(step.sample_logprob) if step.sample_logprob is not None else None
        foot.append(f"raw {_pct(step.prob)}", style=prob_style(step.logprob))
        if dist == "sampled" and p_sampled is not None and req.temperature:
            foot.append(f", sampled {_pct(p_sampled)}")
        foot.append(f", rank {rank if rank else '>' + str(len(step.top))}")
        ent = "not reported" if step.entropy is None else (
            f"{step.entropy:.2f} nats" if step.entropy_exact else f"≥ {step.entropy:.2f} nats")
        foot.append(f", entropy {ent}")
        if tail is not None:
            foot.append(f", outside the list {_pct(tail)}")
        lines.append(foot)
        panels.append(Panel(Group(*lines), title=f"step {i}", title_align="left",
                            subtitle=label, subtitle_align="right", border_style="grey37"))
        context += step.data.decode("utf-8", errors="replace")
    return panels


def _same(c: Candidate, step: Step) -> bool:
    if c.id is not None and step.id is not None:
        return c.id == step.id
    return c.data == step.data


def print_trace(console: Console, trace: Trace, steps: bool = False, dist: str = "sampled",
                text: bool = True) -> None:
    """The whole trace: optional step panels, the coloured text, legend and summary."""
    if steps:
        for panel in step_tables(trace, dist=dist):
            console.print(panel)
    if text:
        if trace.prompt_steps and not trace.steps:
            console.print(colored_text(trace.prompt_steps))
        else:
            if trace.request.mode == "completion" and trace.request.prompt:
                console.print(Text(trace.request.prompt, style="dim"), end="")
            console.print(colored_text(trace.steps))
    console.print(legend())
    console.print(summary_panel(trace))
