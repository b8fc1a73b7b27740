"""The operations in the page encoding: comparisons, choices, sweeps and branch trees.

A page (`tokenprobe/page@1`, encode.py) carries its traces in `traces`; an operation's page
adds one optional field that says how those traces belong together, with the figures the
library computed (docs/architecture.md, "The HTML viewer", lists every field):

- `comparison`: the variants, each with its traces (indices into `traces`), its metrics as
  `Variant.stats()` gives them, and on a fixed answer each answer token's logprob at full
  precision, so the page's Δ between any two variants is the same subtraction as
  `Comparison.token_deltas` (the same doubles give the same result in JavaScript), and
  `answer_group` (`Comparison.token_groups`): Δ is made only between variants of one group,
  which split the answer into the same tokens;
- `choice`: the options with `OptionScore`'s probability, total logprob and token count;
- in both, `part` ("answer": a reasoning model's thinking is in no figure) and, per
  variant or option, `thinking`: the line that says so with the thinking's own figures
  (`ops/parts.thinking_note`), or null when no trace has a thinking;
- `sweep`: per temperature the re-normalised candidates (points, or bounds where the base
  has no tail summary), tail and entropy of every step of the greedy base (`SweepColumn`),
  and its fresh sample (a trace index) with the steps at which that sample drew from the
  very same distribution;
- `tree`: for pages whose traces are linked by `parent`, each trace's parent and, per trace,
  the steps where the text can switch to another branch and the traces to switch to.

Probabilities here are written as Python's floats (shortest round-trip form), not rounded:
the page shows what the library computed. It leaves out the traces' own encoding
(encode.py) and the drawing (static/ops*.js).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tokenprobe.trace import Trace
from tokenprobe.views.encode import PAGE_FORMAT, encode_trace

if TYPE_CHECKING:
    from tokenprobe.distribution import TemperatureView
    from tokenprobe.ops.choose import Choice
    from tokenprobe.ops.compare import Comparison
    from tokenprobe.ops.sweep import Sweep


def _page(traces: list[Trace], title: str | None) -> dict[str, Any]:
    return {"format": PAGE_FORMAT, "title": title,
            "traces": [encode_trace(t) for t in traces]}


def encode_comparison(c: Comparison, title: str | None = None) -> dict[str, Any]:
    """A page with every trace of the comparison and the `comparison` field."""
    from tokenprobe.ops.compare import METRICS
    from tokenprobe.ops.parts import PART

    traces: list[Trace] = []
    variants = []
    groups = c.token_groups() if c.answer is not None else None
    for n, v in enumerate(c.variants):
        first = len(traces)
        traces.extend(v.traces)
        stats = v.stats()
        entry: dict[str, Any] = {
            "label": v.label, "settings": v.settings,
            "traces": list(range(first, len(traces))),
            "stats": {k: None if stats[k] is None else list(stats[k]) for k in METRICS},  # type: ignore[arg-type]
            "thinking": v.thinking_note(),
        }
        if groups is not None:
            entry["answer_lp"] = [s.logprob for s in v.traces[0].steps]
            entry["answer_group"] = groups[n]
        variants.append(entry)
    page = _page(traces, title)
    page["comparison"] = {"id": c.id, "created": c.created, "answer": c.answer,
                          "samples": c.samples, "metrics": list(METRICS),
                          "variants": variants, "part": PART}
    return page


def encode_choice(ch: Choice, title: str | None = None) -> dict[str, Any]:
    """A page with each option's trace and the `choice` field, options in the given order."""
    from tokenprobe.ops.parts import PART

    page = _page([o.trace for o in ch.options], title)
    page["choice"] = {
        "id": ch.id, "created": ch.created, "prompt": ch.prompt, "model": ch.model,
        "part": PART,
        "options": [{"option": o.option, "probability": o.probability,
                     "total_logprob": o.total_logprob, "n_tokens": o.n_tokens, "trace": i,
                     "thinking": o.thinking_note}
                    for i, o in enumerate(ch.options)],
    }
    return page


def encode_calibration(doc: dict[str, Any], title: str | None = None) -> dict[str, Any]:
    """A page with every item's traces and the `calibration` field: the document with each
    item's traces replaced by their indices in the page's traces."""
    traces: list[Trace] = []
    runs = []
    for run in doc["runs"]:
        items = []
        for item in run["items"]:
            first = len(traces)
            traces.extend(Trace.from_dict(t) for t in item["traces"])
            items.append({**{k: v for k, v in item.items() if k != "traces"},
                          "traces": list(range(first, len(traces)))})
        runs.append({**run, "items": items})
    page = _page(traces, title)
    page["calibration"] = {**doc, "runs": runs}
    return page


def _common_prefix(a: Trace, b: Trace) -> int:
    n = 0
    for x, y in zip(a.steps, b.steps):
        if x.data != y.data or x.token != y.token:
            break
        n += 1
    return n


def encode_sweep(sw: Sweep, title: str | None = None) -> dict[str, Any]:
    """A page with the greedy base (trace 0), each temperature's sample, and `sweep`.

    Per column and base step, `null` at T = 0 (all the mass on the greedy token), else the
    view at T (`TemperatureView`) of the base step's candidates that have a logprob, in
    the order of its `top`: `low` and `high` (`CandidateAt`; equal when the value is
    known), `p` the value where known and `null` where only bounds are (the same for
    `tail`, `tail_low`, `tail_high`: the probability outside the list), `accuracy`
    ("exact", "interpolated", "approximate" or "bounded"), `vocab_known` and `note` (one
    line saying how the values were made). `entropies` are `SweepColumn.entropies` (`null`
    where not known: no tail summary). `drawn[k]` is the index in the base
    step's `top` of the token the sample drew at step k while its text was still the
    base's (so from this very distribution), -1 when that token is not listed, and `null`
    once the sample has gone its own way.
    """
    traces = [sw.base] + [col.sample for col in sw.columns]
    columns = []
    for n, col in enumerate(sw.columns):
        same = _common_prefix(sw.base, col.sample)
        drawn: list[int | None] = []
        for k, step in enumerate(sw.base.steps):
            if k > same or k >= len(col.sample.steps):
                drawn.append(None)
                continue
            data = col.sample.steps[k].data
            drawn.append(next((j for j, c in enumerate(step.top) if c.data == data), -1))
        steps: list[dict[str, Any] | None] = []
        for view in col.views:
            if view is None:
                steps.append(None)
            else:
                steps.append(encode_view(view))
        columns.append({"temperature": col.temperature, "sample": n + 1,
                        "entropies": list(col.entropies), "steps": steps, "drawn": drawn})
    page = _page(traces, title)
    page["sweep"] = {"prompt": sw.prompt, "base": 0, "seed": sw.columns[0].sample.request.seed
                     if sw.columns else None, "columns": columns}
    return page


def encode_view(view: TemperatureView) -> dict[str, Any]:
    """One step's view at T as the sweep page carries it (see encode_sweep)."""
    tail = view.tail_low if view.tail_low == view.tail_high else None
    return {"p": [c.prob for c in view.candidates],
            "low": [c.low for c in view.candidates],
            "high": [c.high for c in view.candidates],
            "tail": tail, "tail_low": view.tail_low, "tail_high": view.tail_high,
            "accuracy": view.accuracy, "vocab_known": view.vocab_known, "note": view.note}


def encode_tree(traces: list[Trace]) -> dict[str, Any] | None:
    """The `tree` field for traces linked by `parent`, or None when none are.

    `nodes[i]` = {parent: index or null, step, token} (the fork as the trace records it).
    `forks[i]` lists where trace i's text can switch: {step, options}, options being the
    traces that read exactly like trace i before `step` and differ from it at `step` (one
    per distinct token there; trace i itself first). Only traces of one tree (joined by
    parent links) are compared: two unrelated traces may share a prefix by chance.
    """
    index = {t.id: i for i, t in enumerate(traces)}
    parent = [index.get((t.parent or {}).get("id")) for t in traces]
    if all(p is None for p in parent):
        return None
    group = list(range(len(traces)))

    def find(i: int) -> int:
        while group[i] != i:
            group[i] = group[group[i]]
            i = group[i]
        return i

    for i, p in enumerate(parent):
        if p is not None:
            group[find(i)] = find(p)
    nodes = [{"parent": p, "step": (t.parent or {}).get("step") if p is not None else None,
              "token": (t.parent or {}).get("token") if p is not None else None}
             for t, p in zip(traces, parent)]
    forks: list[list[dict[str, Any]]] = []
    for i, x in enumerate(traces):
        at: dict[int, dict[tuple[str, bytes], list[int]]] = {}
        for j, y in enumerate(traces):
            if j == i or find(j) != find(i):
                continue
            m = _common_prefix(x, y)
            if m >= len(x.steps) or m >= len(y.steps):
                continue  # one text is the other's beginning: nothing to switch to
            key = (y.steps[m].token, y.steps[m].data)
            at.setdefault(m, {}).setdefault(key, []).append(j)
        mine = []
        for step in sorted(at):
            options = [i]
            for group_ in at[step].values():
                # The branch made at this very step stands for its token, else the first.
                made_here = [j for j in group_ if nodes[j]["step"] == step]
                options.append((made_here or group_)[0])
            mine.append({"step": step, "options": options})
        forks.append(mine)
    return {"nodes": nodes, "forks": forks}
