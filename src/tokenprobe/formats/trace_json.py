"""tokenprobe's own traces: one trace JSON document, or JSON lines of them (a list).

Shape read: the schema `tokenprobe/trace@1` (docs/architecture.md), as written by
`Trace.save`, `--json`, `-o` and JSONL exports. A trace from a newer schema is refused by
`Trace.from_dict` with a message to upgrade.

Before a document reaches `Trace.from_dict` its containers are checked here (steps and
alternatives are objects, `bytes` are lists of byte values, the request's prompt, messages
and stop strings are text, `source` and `parent` hold no NaN or Infinity, tail sums and
temperatures are finite numbers, `special` is true or false, `vocab_size` is a positive
whole number above every token id and no smaller than any step's list), so that a damaged
file is refused with a FormatError naming the place, not an error from deep inside, a
trace that cannot be written back, or bounds made from a vocabulary size the trace
contradicts.

After it, the trace rules are kept: `text` must be the steps' bytes decoded (a trace whose
text says something else is refused: its numbers would be shown against the wrong
tokens); the offsets are rebuilt from the bytes; each step's `top` is sorted by logprob
with duplicates removed (a trace that is merely unsorted is sorted); a request without a
prompt gets the one its prompt steps spell. A prompt that differs from its prompt steps is
kept as asked: a tokenizer may normalise a text, and its producer says so in `error`.

It leaves out every server's format (the other modules).
"""

from __future__ import annotations

import math
from typing import Any

from tokenprobe.errors import FormatError
from tokenprobe.formats.vocab_check import check_vocab_size
from tokenprobe.formats.wire_tokens import entropy_bound, sort_top
from tokenprobe.textbytes import TextAssembler
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
        trace = Trace.from_dict(d)
        _keep_rules(trace, where)
        if trace.vocab_size is not None:
            check_vocab_size(trace, trace.vocab_size, where)
        traces.append(trace)
    return traces


def _keep_rules(trace: Trace, where: str) -> None:
    """Offsets from the bytes, `top` sorted and de-duplicated, the text checked."""
    for step in trace.prompt_steps + trace.steps:
        if len(step.top) > 1:
            top = sort_top(step.top)
            dropped = len(top) < len(step.top)
            step.top = top
            if dropped and not step.entropy_exact and step.entropy is not None:
                step.entropy = entropy_bound(step)  # the bound counted a duplicate twice
    text = trace.text
    trace.rebuild_text()
    if trace.text != text:
        at = next((k for k, (a, b) in enumerate(zip(trace.text, text)) if a != b),
                  min(len(trace.text), len(text)))
        raise FormatError(f"{where}: its text is not what its tokens spell (they differ at "
                          f"character {at})")
    if trace.prompt_steps:
        assembler = TextAssembler()
        for step in trace.prompt_steps:
            step.offset = assembler.add(step.data)
        spelled = assembler.finish()
        if trace.request.prompt is None:
            trace.request.prompt = spelled


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
            if s.get("special") is not None and not isinstance(s["special"], bool):
                raise FormatError(f"{where}: {key}[{k}].special must be true or false")
            top = s.get("top")
            if top is not None and not isinstance(top, list):
                raise FormatError(f"{where}: {key}[{k}].top must be a list")
            for j, c in enumerate(top or []):
                if not isinstance(c, dict):
                    raise FormatError(f"{where}: {key}[{k}].top[{j}] must be an object")
                _check_bytes(c.get("bytes"), f"{where}: {key}[{k}].top[{j}].bytes")
            tail = s.get("tail_logsumexp")
            if tail is not None and not _finite_numbers(tail):
                raise FormatError(f"{where}: {key}[{k}].tail_logsumexp must be finite numbers")
    for key in ("request", "source", "parent"):
        if d.get(key) is not None and not isinstance(d[key], dict):
            raise FormatError(f"{where}: {key} must be an object")
        if key != "request" and not _finite(d.get(key)):
            raise FormatError(f"{where}: {key} holds a number that is not finite (NaN or "
                              "Infinity)")
    _check_request(d.get("request") or {}, f"{where}: request")
    temps = d.get("tail_temperatures")
    if temps is not None and not (_finite_numbers(temps) and all(t > 0 for t in temps)):
        raise FormatError(f"{where}: tail_temperatures must be finite positive numbers")
    _check_vocab_size(d, where)
    for key in ("error", "finish_reason"):
        if d.get(key) is not None and not isinstance(d[key], str):
            raise FormatError(f"{where}: {key} must be a string or null")
    if d.get("finish_reason") not in FINISH_REASONS:
        raise FormatError(f"{where}: finish_reason must be stop, length, error or null "
                          f"(not {str(d['finish_reason'])[:20]!r})")


FINISH_REASONS = ("stop", "length", "error", None)


def _check_vocab_size(d: dict[str, Any], where: str) -> None:
    """`vocab_size`, where given, must be a positive whole number (what the trace holds is
    checked against it once it is read: vocab_check.check_vocab_size)."""
    v = d.get("vocab_size")
    if v is None:
        return
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not (
            math.isfinite(v) and v == int(v) and v > 0):
        raise FormatError(f"{where}: vocab_size must be a positive whole number")


def _check_request(req: dict[str, Any], where: str) -> None:
    for key in ("mode", "prompt"):
        if req.get(key) is not None and not isinstance(req[key], str):
            raise FormatError(f"{where}.{key} must be a string or null")
    messages = req.get("messages")
    if messages is not None and not (isinstance(messages, list) and all(
            isinstance(m, dict) and all(v is None or isinstance(v, str) for v in m.values())
            for m in messages)):
        raise FormatError(f"{where}.messages must be a list of objects of strings "
                          "({role, content})")
    stop = req.get("stop")
    if stop is not None and not (isinstance(stop, list)
                                 and all(isinstance(x, str) for x in stop)):
        raise FormatError(f"{where}.stop must be a list of strings")


def _finite_numbers(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
        for x in value)


def _finite(value: Any) -> bool:
    """No NaN or Infinity anywhere in `value` (they cannot be written back as JSON)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def _check_bytes(raw: Any, where: str) -> None:
    if raw is None:
        return
    if not (isinstance(raw, list) and all(type(b) is int and 0 <= b < 256 for b in raw)):
        raise FormatError(f"{where} must be a list of byte values (0-255)")
