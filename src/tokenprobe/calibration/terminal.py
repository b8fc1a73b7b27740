"""The terminal's view of a calibration: per run, a table of every signal's figures and a
small text reliability diagram of one signal (the bins' accuracy against their confidence,
with the bins' counts).

It leaves out the computing (ops/calibrate.py, calibration/) and the page (HTML).
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text


def _p(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _ece(fig: dict[str, Any] | None) -> str:
    if not fig or fig.get("value") is None:
        return "–"
    lo, hi = fig["interval"] or (None, None)
    return f"{fig['value']:.3f} ({_p(lo)}–{_p(hi)})"


def signal_table(run: dict[str, Any], bins: int) -> Table:
    table = Table(title=run["label"], title_justify="left", show_edge=False, pad_edge=False)
    for head in ("signal", "n", "accuracy", f"ECE, {bins} equal-width bins (95% CI)",
                 f"ECE, {bins} equal-mass bins", "MCE (width)", "Brier", "AUROC", "AUPRC",
                 "T fitted on half: held-out ECE before → after"):
        table.add_column(head, justify="left" if head == "signal" else "right",
                         overflow="fold")
    for s in run["signals"].values():
        scaling = s.get("scaling")
        scaled = (f"T {scaling['temperature']:.2f}: {_p(scaling['before']['ece_width'])}"
                  f" → {_p(scaling['after']['ece_width'])}" if scaling else "–")
        table.add_row(Text(s["label"]), str(s["n"]), _p(s["accuracy"]),
                      _ece(s.get("ece_width")), _ece(s.get("ece_mass")),
                      _p((s.get("ece_width") or {}).get("mce")), _p(s.get("brier")),
                      _p(s["auroc"]), _p(s["auprc"]), scaled)
    return table


def reliability_text(run: dict[str, Any], name: str, width: int = 30) -> Text:
    """One line per equal-width bin: its range, count, mean confidence, accuracy, and a bar
    of the accuracy with a mark where the confidence is (a calibrated bin's bar ends at
    its mark)."""
    s = run["signals"][name]
    out = Text(f"reliability of {s['label']} (equal-width bins; │ marks the bin's mean "
               "confidence)\n", style="bold")
    for b in s["ece_width"]["bins"]:
        head = f"{b['lo']:.1f}–{b['hi']:.1f}  n={b['count']:<4d}"
        if not b["count"]:
            out.append(head + "\n", style="dim")
            continue
        filled = round(b["accuracy"] * width)
        mark = min(round(b["mean_confidence"] * width), width - 1)
        bar = ["█" if i < filled else " " for i in range(width)]
        bar[mark] = "│"
        out.append(head)
        out.append(f" conf {b['mean_confidence']:.2f} acc {b['accuracy']:.2f} ")
        over = b["mean_confidence"] > b["accuracy"]
        out.append("".join(bar), style="red" if over else "green")
        out.append("\n")
    return out


def calibration_view(doc: dict[str, Any]) -> RenderableType:
    parts: list[RenderableType] = []
    st = doc["settings"]
    parts.append(Text(f"{doc['n_items']} items from {doc['data']}; open answers judged "
                      f"'{st['judge']}'; probabilities are the model's raw ones (T = 1) "
                      "unless a row says otherwise; intervals: bootstrap "
                      f"({st['resamples']} resamples, seed {st['seed']}); temperature "
                      "scaling fitted on half the items, reported on the other half",
                      style="dim"))
    for run in doc["runs"]:
        parts.append(signal_table(run, st["n_bins"]))
        for main in ("total", "total_logprob"):
            if run["signals"].get(main, {}).get("ece_width"):
                parts.append(reliability_text(run, main))
        if run["failed"]:
            parts.append(Text(f"{len(run['failed'])} items without an answer (run again to "
                              "retry): " + ", ".join(f["id"] for f in run["failed"][:5]),
                              style="red"))
    return Group(*parts)
