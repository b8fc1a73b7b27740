"""Importers: saved server responses and trace files -> Trace, with format detection.

Only tokenprobe's own trace JSON / JSONL is read here so far; one module per wire format
plugs in through `FORMATS`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tokenprobe.errors import FormatError
from tokenprobe.trace import Trace


def load_path(path: str | os.PathLike[str], format: str = "auto") -> Trace:
    traces = load_all(path, format=format)
    if len(traces) != 1:
        raise FormatError(f"{path} holds {len(traces)} traces; use load_all() for several")
    return traces[0]


def load_all(path: str | os.PathLike[str], format: str = "auto") -> list[Trace]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FormatError(f"no such file: {p}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise FormatError(f"cannot read {p}: {e}") from None
    if format not in ("auto", "trace", "jsonl"):
        raise FormatError(f"unknown format {format!r}")
    try:
        doc = json.loads(text)
        return [Trace.from_dict(doc)]
    except json.JSONDecodeError:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        try:
            return [Trace.from_dict(json.loads(ln)) for ln in lines]
        except json.JSONDecodeError as e:
            raise FormatError(f"{p} is not valid JSON ({e.msg})") from None
