"""What the page receives for a trace, a comparison, a choice or a history record.

Traces travel in the viewer's page encoding (`tokenprobe/page@1` traces, views/encode.py),
the same the HTML export embeds, so the page and an exported file draw the same numbers.
Comparisons and choices carry the library's own figures (`Variant.stats`,
`Comparison.token_deltas`, `OptionScore.probability`, and a reasoning model's
`thinking` note beside figures that are the answer's); nothing is recomputed here.

It leaves out the HTTP layer (routes_*.py) and running the operations (runs.py).
"""

from __future__ import annotations

from typing import Any

from tokenprobe.ops.choose import Choice
from tokenprobe.ops.compare import METRICS, Comparison
from tokenprobe.ops.parts import PART
from tokenprobe.store import Record
from tokenprobe.trace import Trace
from tokenprobe.views.encode import encode_trace


def trace_payload(trace: Trace) -> dict[str, Any]:
    return encode_trace(trace)


def comparison_payload(c: Comparison) -> dict[str, Any]:
    variants = []
    for v in c.variants:
        stats: dict[str, list[float] | None] = {}
        for name, stat in v.stats().items():
            stats[name] = None if stat is None else list(stat)
        variants.append({
            "label": v.label,
            "settings": v.settings,
            "stats": {k: stats[k] for k in METRICS},
            "traces": [encode_trace(t) for t in v.traces],
            "thinking": v.thinking_note(),
        })
    return {"id": c.id, "created": c.created, "answer": c.answer, "samples": c.samples,
            "metrics": list(METRICS), "variants": variants, "part": PART,
            "deltas": c.token_deltas() if c.answer is not None else None}


def choice_payload(ch: Choice) -> dict[str, Any]:
    return {"id": ch.id, "created": ch.created, "prompt": ch.prompt, "model": ch.model,
            "best": ch.best().option,
            "options": [{"option": o.option, "total_logprob": o.total_logprob,
                         "n_tokens": o.n_tokens, "probability": o.probability,
                         "thinking": o.thinking_note,
                         "trace": encode_trace(o.trace)} for o in ch.options],
            "part": PART}


def record_payload(r: Record) -> dict[str, Any]:
    """A history row for lists: the text cut short (the record holds the whole of it)."""
    return {"id": r.id, "kind": r.kind, "created": r.created, "model": r.model,
            "backend": r.backend, "mode": r.mode, "title": r.title[:300],
            "text": r.text[:300], "parent_id": r.parent_id, "root_id": r.root_id}
