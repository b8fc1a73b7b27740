"""Importers: saved server responses and trace files -> Trace, with format detection.

A file is read as one JSON document, as JSON lines (a list of documents: stream chunks, or
traces), or as server-sent events (`data: {...}` lines, `data: [DONE]` ignored: a list of
chunks). Each format module (`FORMATS`, in detection order) says whether a parsed document
is its shape (`matches`) and reads it (`parse` -> one trace per choice or candidate).
`format="auto"` takes the first module that matches; a file that matches none is refused
with a one-line error naming the supported formats. A format name forces its module.

Modules are imported when first needed, so reading one format never pays for the others.

It leaves out every format's own shape (one module each) and what a trace holds (trace.py).
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from tokenprobe.errors import FormatError
from tokenprobe.formats.wire_values import clean_text
from tokenprobe.trace import Trace

# Detection order: tokenprobe's own traces, then the shapes with a distinctive field, then
# the vLLM / llama-cpp-python dialects of the OpenAI shapes, then the OpenAI shapes.
FORMATS: list[str] = [
    "trace_json",
    "openai_responses",
    "sglang",
    "gemini",
    "llamacpp",
    "ollama",
    "vllm",
    "llamacpp_python",
    "openai_chat",
    "openai_completions",
]


@cache
def _module(name: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{name}")


def modules() -> list[ModuleType]:
    """The format modules, in detection order."""
    return [_module(n) for n in FORMATS]


def format_names() -> list[str]:
    """The `--format` names, in detection order."""
    return [m.NAME for m in modules()]


def read_documents(text: str, where: str = "the file") -> Any:
    """The file's content as one JSON value, or a list of them (JSON lines or SSE)."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise FormatError(f"{where} is empty")
    try:
        return _clean(stripped, json.loads(stripped))
    except ValueError as whole_error:
        first_error = whole_error
    lines = json_lines(stripped)
    if any(ln.startswith("data:") for ln in lines):
        return _clean(stripped, _sse(lines, where))
    docs = []
    for n, ln in enumerate(lines, 1):
        if not ln:
            continue
        try:
            docs.append(json.loads(ln))
        except ValueError as e:
            if n == 1:
                raise FormatError(f"{where} is not JSON, JSON lines or server-sent events "
                                  f"({_msg(first_error)})") from None
            raise FormatError(f"{where}: line {n} is not valid JSON ({_msg(e)})") from None
    return _clean(stripped, docs)


def json_lines(text: str) -> list[str]:
    """The lines of `text`, split at LF only (a CR before it dropped), without the blanks
    around them. JSON written with `ensure_ascii=False` holds U+2028, U+2029 and U+0085
    raw inside its strings, where `str.splitlines` would cut a document in two; a raw LF
    or CR cannot be inside a JSON string, so LF ends a line and nothing else does."""
    return [ln.strip(_BLANKS) for ln in text.split("\n")]


# JSON's own whitespace: str.strip() would also take U+2028 and friends from a line's ends.
_BLANKS = " \t\r"

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _clean(text: str, doc: Any) -> Any:
    """The document with lone surrogates (a \\ud842 escape without its pair) as U+FFFD.

    Only escapes can put them there (the file is UTF-8), so documents without any
    surrogate escape are returned as they are, unwalked.
    """
    if not _SURROGATE_ESCAPE.search(text):
        return doc
    return _walk(doc)


def _walk(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_walk(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(k): _walk(v) for k, v in value.items()}
    return value


def _sse(lines: list[str], where: str) -> list[Any]:
    docs = []
    for n, ln in enumerate(lines, 1):
        # Blank lines end an event; `event:`, `id:`, `retry:` and `:` comments carry nothing
        # a format needs (the Responses API repeats the event name in the data's "type").
        if not ln.startswith("data:"):
            continue
        data = ln[5:].strip(_BLANKS)
        if not data or data == "[DONE]":
            continue
        try:
            docs.append(json.loads(data))
        except ValueError as e:
            raise FormatError(f"{where}: the event on line {n} is not valid JSON "
                              f"({_msg(e)})") from None
    if not docs:
        raise FormatError(f"{where} holds server-sent events without data")
    return docs


def _msg(e: ValueError) -> str:
    return e.msg if isinstance(e, json.JSONDecodeError) else str(e)


def detect(doc: Any) -> ModuleType | None:
    """The first format module whose shape `doc` has, or None."""
    for m in modules():
        if m.matches(doc):
            return m
    return None


def parse_document(doc: Any, format: str = "auto", file: str | None = None) -> list[Trace]:
    """Traces from a parsed document (or list of documents) in `format` or the detected one."""
    if format == "auto":
        module = detect(doc)
        if module is None:
            where = file or "the document"
            raise FormatError(f"{where} is in no supported format (supported: "
                              f"{', '.join(format_names())})")
    else:
        module = _by_name(format)
    traces: list[Trace] = module.parse(doc, file=file)
    if not traces:
        raise FormatError(f"{file or 'the document'} holds no trace")
    return traces


def _by_name(name: str) -> ModuleType:
    for m in modules():
        if name == m.NAME:
            return m
    raise FormatError(f"unknown format {name!r} (supported: auto, {', '.join(format_names())})")


def load_path(path: str | os.PathLike[str], format: str = "auto",
              vocab_size: int | None = None) -> Trace:
    """The one trace in a file; a file with several (choices, JSON lines) is refused."""
    traces = load_all(path, format=format, vocab_size=vocab_size)
    if len(traces) != 1:
        raise FormatError(f"{path} holds {len(traces)} traces (choices or lines); "
                          "tokenprobe.load_all reads them all (--choice N on the command line)")
    return traces[0]


def load_all(path: str | os.PathLike[str], format: str = "auto",
             vocab_size: int | None = None) -> list[Trace]:
    """Every trace in a file: one per choice or candidate, or one per line of a JSONL file.

    `vocab_size`: the model's vocabulary size V where the user knows it (few responses say
    it): it bounds re-normalisation at other temperatures, and replaces any the file gives.
    """
    p = Path(path)
    if format != "auto":
        _by_name(format)  # an unknown name fails before the file is read
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FormatError(f"no such file: {p}") from None
    except IsADirectoryError:
        raise FormatError(f"{p} is a directory, not a file") from None
    except UnicodeDecodeError:
        raise FormatError(f"{p} is not UTF-8 text") from None
    except OSError as e:
        raise FormatError(f"cannot read {p}: {e.strerror or e}") from None
    with _gc_paused():
        traces = parse_document(read_documents(text, str(p)), format, file=p.name)
    if vocab_size is not None:
        from tokenprobe.formats.vocab_check import set_vocab_size

        set_vocab_size(traces, vocab_size, str(p))
    return traces


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Reading a large response makes hundreds of thousands of objects, all kept: the cycle
    collector would walk the growing heap again and again for nothing (none of them form
    cycles), which costs as much as the reading itself. It runs again afterwards."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
