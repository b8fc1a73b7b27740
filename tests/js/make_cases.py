"""Writes tests/js/cases.json: shared cases for the viewer's DOM-free files, with what the
Python library gives for each, so that node checks the page's numbers without a browser.

Each trace case holds the trace in the page encoding (what the page receives) and, per
step, the library's values: `Trace.at_temperature` (renormalise.step_at_temperature) at
several temperatures, `distribution.step_sampled` under several sampling settings, the
entropy and the glyph groups (textbytes.glyph_groups). The byte cases hold token pieces
with textbytes' labels and glyph groups. The traces are the viewer tests' own
(tests/views/traces.py, bounds.py): their numbers are rounded to 4 decimals,
as the page encoding rounds them, so both sides start from the very same values.

Run `python -m tests.js.make_cases` (from the repository root) after changing the library
or the cases; tests/js/test_node.py fails while the committed file differs from what this
writes.
"""

from __future__ import annotations

import copy
import json
import math
import random
import sys
from pathlib import Path
from typing import Any

from tests.views.bounds import imported
from tests.views.traces import local_trace, scored_trace, server_trace

from tokenprobe.distribution import step_sampled
from tokenprobe.renormalise import TemperatureView
from tokenprobe.textbytes import glyph_groups, token_label
from tokenprobe.trace import Trace
from tokenprobe.views.encode import encode_trace

CASES = Path(__file__).with_name("cases.json")
TEMPERATURES = [0.25, 0.5, 0.8, 1.0, 1.3, 2.0, 3.5]
# (temperature, top_k, top_p): plain temperature, each cut alone, both, and a k beyond the list.
SETTINGS: list[tuple[float, int | None, float | None]] = [
    (0.7, None, None), (1.0, 2, None), (0.8, None, 0.9), (1.4, 3, 0.8), (0.6, 40, 0.95),
    (1.0, None, 0.5), (2.0, 8, None),
]


def view_case(v: TemperatureView | None) -> dict[str, Any] | None:
    if v is None:
        return None
    return {"low": [c.low for c in v.candidates], "high": [c.high for c in v.candidates],
            "tokens": [c.candidate.token for c in v.candidates],
            "tail_low": v.tail_low, "tail_high": v.tail_high, "accuracy": v.accuracy,
            "basis": v.basis, "note": v.note}


def trace_case(name: str, t: Trace) -> dict[str, Any]:
    steps = t.steps or t.prompt_steps
    at_t = {repr(T): [view_case(v) for v in t.at_temperature(T)] for T in TEMPERATURES}
    if not t.steps:  # a scored text: the page's main scope is the prompt's
        at_t = {}
        for T in TEMPERATURES:
            from tokenprobe.distribution import step_at_temperature

            at_t[repr(T)] = [view_case(step_at_temperature(s, T, t.tail_temperatures,
                                                           t.vocab_size)) for s in steps]
    sampled = [{"temperature": T, "top_k": k, "top_p": p,
                "views": [view_case(step_sampled(s, T, k, p, t.tail_temperatures, t.vocab_size,
                                                 t.logprobs_kind)) for s in steps]}
               for T, k, p in SETTINGS]
    groups = glyph_groups([s.bytes if s.bytes is not None else s.token.encode()
                           for s in steps])
    return {"name": name, "doc": encode_trace(t), "at_temperature": at_t, "sampled": sampled,
            "entropy": [s.entropy for s in steps],
            "groups": [g.start for g in groups] + [len(steps)]}


def traces() -> list[tuple[str, Trace]]:
    local = local_trace()
    listed = imported()
    sized = copy.deepcopy(listed)
    sized.vocab_size = 200
    processed = server_trace()
    processed.logprobs_kind = "processed"
    pinned = server_trace()
    pinned.request.top_p = 0.9
    for s in pinned.steps:  # the chosen token's probability after a cut: kept mass 0.8
        if s.logprob is not None:
            s.sample_logprob = round(s.logprob - math.log(0.8), 4)
    out = [("local engine (tail summary)", local), ("top-4 listed, vocabulary unknown", listed),
            ("top-4 listed, vocabulary of 200", sized), ("server, top-5", server_trace()),
            ("processed logprobs", processed), ("sampled logprobs pin the kept mass", pinned),
            ("scored text", scored_trace())]
    for k, (_, t) in enumerate(out):
        # Made at random or from the clock: fixed so that the file is the same each time.
        t.id, t.created = f"case{k}", "2026-11-22T13:00:00Z"
    return out


def byte_cases(n: int = 300, seed: int = 7) -> list[dict[str, Any]]:
    """Token pieces cut from UTF-8 text at any byte, with invalid bytes mixed in."""
    rnd = random.Random(seed)
    alphabet = ["a", " ", "\n", "é", "曇", "り", "😀", "ß", "\t", "x"]
    # Invalid bytes, overlong forms, surrogates, beyond U+10FFFF, a lone lead, nothing.
    odd = [b"\x80", b"\xff", b"\xc0\x80", b"\xc1\xbf", b"\xe6", b"\xed\xa0\x80",
           b"\xe0\x9f\xbf", b"\xf0\x8f\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80", b""]
    out = []
    for _ in range(n):
        data = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 8))).encode()
        pieces, i = [], 0
        while i < len(data):
            j = min(len(data), i + rnd.randint(1, 4))
            pieces.append(data[i:j])
            i = j
            if rnd.random() < 0.15:
                pieces.insert(rnd.randrange(len(pieces) + 1), rnd.choice(odd))
        groups = glyph_groups(pieces)
        out.append({"pieces": [list(p) for p in pieces],
                    "labels": [token_label(p) for p in pieces],
                    "joined": [token_label(b"".join(pieces[g.start:g.stop])) for g in groups],
                    "groups": [g.start for g in groups] + [len(pieces)]})
    return out


def build() -> str:
    doc = {"about": "written by tests/js/make_cases.py from the Python library; do not edit",
           "traces": [trace_case(n, t) for n, t in traces()], "bytes": byte_cases()}
    return json.dumps(doc, ensure_ascii=False, indent=None, separators=(",", ":")) + "\n"


if __name__ == "__main__":
    CASES.write_text(build(), "utf-8")
    print(f"wrote {CASES}", file=sys.stderr)
