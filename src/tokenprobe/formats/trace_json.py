"""tokenprobe's own traces: one trace JSON document, or JSON lines of them (a list).

Shape read: the schema `tokenprobe/trace@1` (docs/architecture.md), as written by
`Trace.save`, `--json`, `-o` and JSONL exports. A trace from a newer schema is refused by
`Trace.from_dict` with a message to upgrade.

Before a document reaches `Trace.from_dict` its containers are checked here (steps and
alternatives are objects, `bytes` are lists of byte values), so that a damaged file is
refused with a FormatError naming the place, not an error from deep inside.

It leaves out every server's format (the other modules).
"""

from __future__ import annotations

from typing import Any

from tokenprobe.errors import FormatError
from tokenprobe.trace import SCHEMA_PREFIX, Trace

NAME = "trace"


def matches(doc: Any) -> bool:
    if isinstance(doc, list):
        return bool(doc) and all(_is_trace(d) for d in doc)
    return _is_trace(doc)


def _is_trace(doc: Any) -> bool:
    return (isinstance(doc, dict) and isinstance(doc.get("schema"), str)
            and doc["schema"].startswith(SCHEMA_PREFIX))


def parse(doc: Any, file: str | None = None) -> list[Trace]:
    docs = doc if isinstance(doc, list) else [doc]
    traces = []
    for n, d in enumerate(docs):
        where = f"line {n + 1}" if isinstance(doc, list) else "the trace"
        _check(d, where)
        traces.append(Trace.from_dict(d))
    return traces


def _check(d: Any, where: str) -> None:
    if not isinstance(d, dict):
        raise FormatError(f"{where} is not a JSON object")
    for key in ("steps", "prompt_steps"):
        steps = d.get(key)
        if steps is None:
            continue
        if not isinstance(steps, list):
            raise FormatError(f"{where}: {key} must be a list")
        for k, s in enumerate(steps):
            if not isinstance(s, dict):
                raise FormatError(f"{where}: {key}[{k}] must be an object")
            _check_bytes(s.get("bytes"), f"{where}: {key}[{k}].bytes")
            top = s.get("top")
            if top is not None and not isinstance(top, list):
                raise FormatError(f"{where}: {key}[{k}].top must be a list")
            for j, c in enumerate(top or []):
                if not isinstance(c, dict):
                    raise FormatError(f"{where}: {key}[{k}].top[{j}] must be an object")
                _check_bytes(c.get("bytes"), f"{where}: {key}[{k}].top[{j}].bytes")
            tail = s.get("tail_logsumexp")
            if tail is not None and not (isinstance(tail, list) and all(
                    isinstance(x, (int, float)) and not isinstance(x, bool) for x in tail)):
                raise FormatError(f"{where}: {key}[{k}].tail_logsumexp must be numbers")
    for key in ("request", "source", "parent"):
        if d.get(key) is not None and not isinstance(d[key], dict):
            raise FormatError(f"{where}: {key} must be an object")
    temps = d.get("tail_temperatures")
    if temps is not None and not (isinstance(temps, list) and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in temps)):
        raise FormatError(f"{where}: tail_temperatures must be numbers")


def _check_bytes(raw: Any, where: str) -> None:
    if raw is None:
        return
    if not (isinstance(raw, list) and all(type(b) is int and 0 <= b < 256 for b in raw)):
        raise FormatError(f"{where} must be a list of byte values (0-255)")
