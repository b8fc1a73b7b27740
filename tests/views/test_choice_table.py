"""The `choose` table fits an 80-column terminal: bars whole, and a token never parted
from its probability."""

from __future__ import annotations

import math

import numpy as np
from rich.console import Console

from tokenprobe.ops.choose import Choice, OptionScore
from tokenprobe.trace import Step, Trace
from tokenprobe.views.ops_terminal import choice_view
from tokenprobe.views.terminal import _bar

PROMPT = "The capital of France is"
OPTIONS = {
    " Paris": [-2.395],
    " Lyon": [-7.304],
    " Berlin": [-8.103],
    " Paris, the city of light": [-2.4, -1.0, -1.9, -2.9, -1.4, -3.0],
    " a beautiful city in the north of the country":
        [-2.2, -3.0, -0.8, -2.6, -0.7, -2.8, -0.2, -1.3, -0.13],
}


def _choice(names: list[str]) -> Choice:
    totals = np.array([math.fsum(OPTIONS[n]) for n in names])
    probs = np.exp(totals - totals.max()) / np.exp(totals - totals.max()).sum()
    options = []
    for name, p in zip(names, probs):
        words = name.split(" ")[1:]
        steps = [Step(" " + w, lp) for w, lp in zip(words, OPTIONS[name])]
        options.append(OptionScore(name, math.fsum(OPTIONS[name]), len(steps), float(p),
                                   Trace(backend="llama", model="m", steps=steps)))
    return Choice(PROMPT, options, "m")


def _render(ch: Choice, width: int) -> list[str]:
    con = Console(width=width, record=True, color_system=None)
    con.print(choice_view(ch))
    return con.export_text().splitlines()


def test_choose_table_fits_80_columns() -> None:
    for names in ([" Paris", " Berlin", " Lyon"],
                  [" Berlin", " Paris, the city of light",
                   " a beautiful city in the north of the country"]):
        ch = _choice(names)
        lines = _render(ch, 80)
        assert all(len(ln.rstrip()) <= 80 for ln in lines), "\n".join(lines)
        text = "\n".join(lines)
        assert "…" not in text, text
        for o in ch.options:
            # Each token with its probability on one line (␣Berlin 0.03%), the
            # probability being exp of the token's logprob.
            for step in o.trace.steps:
                pair = f"{step.token.replace(' ', '␣')} {_pct(math.exp(step.logprob))}"
                assert any(pair in ln for ln in lines), (pair, text)
        best = max(ch.options, key=lambda o: o.probability)
        row = next(ln for ln in lines if repr(best.option) in ln)
        assert f"{100 * best.probability:.1f}% {_bar(best.probability, 12).rstrip()}" in row


def _pct(p: float) -> str:
    return f"{100 * p:.1g}%" if p < 0.001 else f"{100 * p:.1f}%"
