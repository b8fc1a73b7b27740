"""The terminal view (rich): coloured text, a live token printer, a summary, shared labels.

Each token is coloured by its probability (five bands, with a legend). Byte fragments that
only make a character together are printed as one glyph, with the product of their
probabilities, and lists name such a fragment by its character (`曇 (token 1 of 2)`), so
no byte that is known is ever drawn as U+FFFD. Control tokens the engine added (`<bos>`)
are not part of the text and are not shown. The step view is views/step_view.py.

It leaves out the arithmetic (metrics.py, distribution.py) and the command line (cli/).
"""

from __future__ import annotations

import codecs
import math
from collections.abc import Sequence

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tokenprobe.metrics import Summary, counts, scope, summarize, thinking_summary
from tokenprobe.textbytes import display_text, glyph_groups
from tokenprobe.trace import Step, Trace

# (lower bound of probability, style, legend label)
BANDS: tuple[tuple[float, str, str], ...] = (
    (0.9, "bold green", "≥90%"),
    (0.6, "green3", "60–90%"),
    (0.3, "yellow3", "30–60%"),
    (0.1, "dark_orange", "10–30%"),
    (0.0, "bold red", "<10%"),
)
MISSING_STYLE = "grey50"
NO_CONTEXT = "first token: no context"


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
    t.append("no logprob", style="dim")
    return t


def _group_logprob(steps: Sequence[Step]) -> float | None:
    if any(s.logprob is None for s in steps):
        return None
    return math.fsum(s.logprob for s in steps)  # type: ignore[misc]


def show_token(label: str) -> str:
    """A token label with whitespace made visible (for lists, not for running text)."""
    return (label.replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥")
            .replace("\r", "␍")) or "∅"


def own_text(data: bytes, label: str) -> str:
    """A token's own text from its bytes (escapes for bytes that are not a character yet);
    the label only for a token without bytes (a control token such as <end_of_turn>)."""
    return display_text(data) if data else label


def glyph_labels(steps: Sequence[Step]) -> list[str]:
    """Per step, how a list names it: its own text with whitespace made visible, or for a
    piece of a character split over several tokens that character and which piece it is
    (`曇 (token 1 of 2)`)."""
    out = [""] * len(steps)
    for g in glyph_groups([s.data for s in steps]):
        if len(g) == 1:
            out[g[0]] = show_token(own_text(steps[g[0]].data, steps[g[0]].token))
            continue
        glyph = show_token(display_text(b"".join(steps[i].data for i in g)))
        for k, i in enumerate(g):
            out[i] = f"{glyph} (token {k + 1} of {len(g)})"
    return out


def glyph_runs(steps: Sequence[Step]) -> list[tuple[str, float | None]]:
    """The steps as glyphs with their joint logprob (None when a piece was not reported):
    for lists that show a text token by token."""
    out: list[tuple[str, float | None]] = []
    for g in glyph_groups([s.data for s in steps]):
        group = [steps[i] for i in g if counts(steps[i])]
        if group:
            data = b"".join(s.data for s in group)
            out.append((show_token(own_text(data, "".join(s.token for s in group))),
                        _group_logprob(group)))
    return out


def colored_text(steps: Sequence[Step]) -> Text:
    """The steps' text, one styled span per glyph group; tokens without bytes (such as
    <end_of_turn>) shown dim, control tokens the engine added left out."""
    shown = [s for s in steps if counts(s)]
    out = Text()
    for g in glyph_groups([s.data for s in shown]):
        group = [shown[i] for i in g]
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
    return _pct_number(p) + "%"


def _pct_number(p: float) -> str:
    if 0 < p < 0.001:
        return f"{100 * p:.1g}"  # keep small probabilities visible, not "0.0"
    return f"{100 * p:.1f}"


def pct_range(low: float | None, high: float | None) -> str:
    """A probability known only within bounds, as `62.0–71.3%`; one number when both
    bounds round to it (the value is then known to the precision shown)."""
    if low is None or high is None:
        return "n/a"
    a, b = _pct_number(low), _pct_number(high)
    return f"{a}%" if a == b else f"{a}–{b}%"


def sci_prob(logprob: float | None) -> str:
    """exp(logprob) as a percentage, or in scientific notation when it is small (`3.2e-45`),
    computed from the logarithm so that it survives where the float underflows."""
    if logprob is None:
        return "not reported"
    if logprob >= math.log(0.001):
        return _pct(math.exp(logprob))
    log10 = logprob / math.log(10)
    exp = math.floor(log10)
    mant = round(10 ** (log10 - exp), 1)
    if mant >= 10.0:
        mant, exp = 1.0, exp + 1
    return f"{mant:.1f}e{exp}"


def whole_text_label(trace: Trace, s: Summary) -> str:
    """What exp(total logprob) is the probability of, given what was reported."""
    what = "answer" if trace.steps else "text"
    if s.missing:
        return f"probability of the {s.reported} reported tokens"
    if s.no_context_first:
        return f"probability of the {what} after its first token"
    return f"probability of the whole {what}"


def greedy_note(trace: Trace, s: Summary) -> str | None:
    """A greedy request whose chosen tokens were not all the top ones: say so plainly."""
    if not trace.steps or trace.request.temperature != 0 or not s.not_top:
        return None
    n = s.not_top
    return (f"greedy request (T = 0), but {n} token{'s were' if n > 1 else ' was'} not the "
            "top choice: the server sampled, or reported another distribution")


def summary_panel(trace: Trace, summary: Summary | None = None) -> Panel:
    if trace.logprobs_kind == "logits":
        return _logits_panel(trace)
    s = summary or summarize(trace)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column(justify="right")
    grid.add_column(style="dim")
    grid.add_column(justify="right")
    ent_label = "mean entropy" if s.entropy_exact else "mean entropy (≥, top-N only)"
    notes = ([NO_CONTEXT] if s.no_context_first else []) + (
        [f"{s.missing} not reported"] if s.missing else [])
    rows = [
        ("tokens", f"{s.tokens}" + (f" ({'; '.join(notes)})" if notes else ""),
         "perplexity", _fmt(s.perplexity, ".2f")),
        ("total logprob", _fmt(s.total_logprob), "mean logprob", _fmt(s.mean_logprob)),
        ("top-1 share", _pct(s.top1_share), ent_label, _fmt(s.mean_entropy, ".2f") +
         (" nats" if s.mean_entropy is not None else "")),
        ("distribution", trace.logprobs_kind, "", ""),
    ]
    for r in rows:
        grid.add_row(*r)
    parts: list[Table | Text] = [grid]
    # Whole lines, so that the figures' full names fit a narrow terminal.
    means = Text("per-token probability: ", style="dim")
    means.append(f"geometric mean {_pct(s.geometric_mean_prob)}")
    means.append(", ", style="dim")
    means.append(f"arithmetic mean {_pct(s.arithmetic_mean_prob)}")
    parts.append(means)
    whole = Text(whole_text_label(trace, s) + " ", style="dim")
    whole.append(sci_prob(s.total_logprob))
    parts.append(whole)
    if s.least_likely:
        labels = glyph_labels(scope(trace))
        least = Text("least likely: ", style="dim")
        for n, (i, step) in enumerate(s.least_likely):
            if n:
                least.append("  ")
            least.append(labels[i], style=prob_style(step.logprob))
            least.append(f" {_pct(step.prob)} @{i}", style="dim")
        parts.append(least)
    if trace.reasoning is not None:
        parts.append(thinking_line(trace))
    note = greedy_note(trace, s)
    if note:
        parts.append(Text(note, style="yellow"))
    if not trace.complete:
        parts.append(Text(f"incomplete: {trace.error or 'stopped early'}", style="bold red"))
    title = f"{trace.model} · {trace.backend}"
    return Panel(Group(*parts), title=title, title_align="left", border_style="grey50")


def _logits_panel(trace: Trace) -> Panel:
    """The summary of a trace whose numbers are logits: what can be said without a
    probability (how often the chosen token had the highest listed logit), and why the
    rest is not shown."""
    steps = [s for s in scope(trace) if counts(s)]
    known = [(s.logit, _top_logit(s)) for s in steps if s.logit is not None]
    pairs = [(lg, top) for lg, top in known if top is not None]
    top1 = sum(1 for lg, top in pairs if lg >= top) if pairs else None
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column(justify="right")
    grid.add_row("tokens", str(len(steps)))
    grid.add_row("highest listed logit chosen",
                 "n/a" if top1 is None else f"{top1} of {len(pairs)}")
    grid.add_row("distribution", "logits")
    note = Text("the server reported logits, not log-probabilities: no probability, "
                "perplexity or entropy can be computed from them, so none is shown",
                style="dim")
    parts: list[Table | Text] = [grid, note]
    if not trace.complete:
        parts.append(Text(f"incomplete: {trace.error or 'stopped early'}", style="bold red"))
    return Panel(Group(*parts), title=f"{trace.model} · {trace.backend}", title_align="left",
                 border_style="grey50")


def _top_logit(step: Step) -> float | None:
    values = [c.logit for c in step.top if c.logit is not None]
    return max(values) if values else None


def thinking_line(trace: Trace) -> Text:
    """The thinking's own figures, beside the answer's (which the rest of the panel is)."""
    r = trace.reasoning
    assert r is not None
    t = thinking_summary(trace)
    line = Text("the figures above are the answer's; thinking: ", style="dim")
    if t is None or not t.reported:
        line.append(f"{len(r.text)} characters, no logprobs reported by the server")
        if r.source == "responses_summary":
            line.append(" (the server's summary of it)", style="dim")
        return line
    line.append(f"{t.tokens} tokens")
    if t.missing:
        line.append(f" ({t.missing} not reported)", style="dim")
    line.append(", per-token probability: ", style="dim")
    line.append(f"geometric mean {_pct(t.geometric_mean_prob)}")
    line.append(", ", style="dim")
    line.append(f"arithmetic mean {_pct(t.arithmetic_mean_prob)}")
    if t.mean_entropy is not None:
        line.append(", ", style="dim")
        line.append(f"mean entropy {_fmt(t.mean_entropy, '.2f')} nats"
                    + ("" if t.entropy_exact else " (≥, top-N only)"))
    return line


def _bar(p: float, width: int = 24) -> str:
    full = p * width
    n = int(full)
    frac = full - n
    partial = " ▏▎▍▌▋▊▉"[int(frac * 8)] if n < width else ""
    return ("█" * n + partial).ljust(width)


def bar_range(low: float, high: float, width: int = 24) -> str:
    """A bar solid up to the lower bound and shaded up to the upper one."""
    if low == high:
        return _bar(low, width)
    n_low = int(low * width)
    n_high = max(math.ceil(high * width), n_low + 1)
    return ("█" * n_low + "░" * (min(n_high, width) - n_low)).ljust(width)


def print_trace(console: Console, trace: Trace, steps: bool = False, dist: str = "sampled",
                text: bool = True) -> None:
    """The whole trace: optional step panels, the coloured text, legend and summary."""
    if steps:
        from tokenprobe.views.step_view import step_tables  # it builds on this module

        for panel in step_tables(trace, dist=dist):
            console.print(panel)
    if text:
        if trace.prompt_steps and not trace.steps:
            console.print(colored_text(trace.prompt_steps))
        else:
            if trace.request.mode == "completion" and trace.request.prompt:
                console.print(Text(trace.request.prompt, style="dim"), end="")
            if trace.reasoning is not None:
                console.print(Text("thinking:", style="bold dim"))
                console.print(colored_text(trace.reasoning.steps) if trace.reasoning.steps
                              else Text(trace.reasoning.text, style="dim"))
                console.print(Text("answer:", style="bold dim"))
            console.print(colored_text(trace.steps))
    console.print(legend())
    console.print(summary_panel(trace))
