"""A batch's input read into items: a JSONL file of prompts (a string, or an object with the
prompt or messages and per-line settings over the batch's defaults, each of its own type),
or of texts to score; each item's id is the line's `id` or a hash of its content, so a
rerun finds the items already done.

It leaves out running the items and writing their traces (batch.py).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from tokenprobe.api import build_request
from tokenprobe.backends.base import validate_request
from tokenprobe.errors import FormatError, InputError
from tokenprobe.trace import Request

SETTINGS = ("system", "chat", "max_tokens", "temperature", "top_p", "top_k", "seed",
            "alternatives", "stop")


@dataclass
class Item:
    id: str
    request: Request
    # A fixed answer to score after the request's prompt (Backend.score_continuation)
    # instead of generating one: how calibrate runs choose's options and gold answers.
    answer: str | None = None


def read_jsonl(path: str | os.PathLike[str]) -> str:
    """A JSONL file's text; a one-line InputError when it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read {path}: {e}") from None


class _HasId(Protocol):
    id: str


ItemT = TypeVar("ItemT", bound=_HasId)


def jsonl_items(text: str, name: str, parse: Callable[[Any, str], ItemT],
                what: str) -> list[ItemT]:
    """Each non-blank line of a JSONL text through `parse(doc, where)`, ids unique; every
    mistake a one-line error naming the line (`name` names the text: a path, an upload).
    Lines end at LF only (a JSON string may hold U+2028 raw)."""
    items: list[ItemT] = []
    seen: set[str] = set()
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip(" \t\r"):
            continue
        where = f"{name} line {n}"
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as e:
            raise FormatError(f"{where} is not JSON ({e.msg})") from None
        item = parse(doc, where)
        if item.id in seen:
            raise FormatError(f"{where}: the id {item.id!r} appears twice")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise InputError(f"{name} holds no {what}")
    return items


def read_prompts(path: str | os.PathLike[str], defaults: dict[str, Any]) -> list[Item]:
    """The batch's prompts as requests; a bad line is refused with its line number."""
    return jsonl_items(read_jsonl(path), str(path),
                       lambda doc, where: _item(doc, defaults, where), "prompts")


def _item(doc: Any, defaults: dict[str, Any], where: str) -> Item:
    if isinstance(doc, str):
        doc = {"prompt": doc}
    if not isinstance(doc, dict):
        raise FormatError(f"{where} must be a JSON object or string")
    unknown = set(doc) - {"id", "prompt", "messages", *SETTINGS}
    if unknown:
        raise FormatError(f"{where} has unknown fields: {', '.join(sorted(unknown))}")
    settings = {**defaults, **_settings(doc, where)}
    try:
        if doc.get("messages") is not None:
            messages = doc["messages"]
            if not isinstance(messages, list) or not all(
                    isinstance(m, dict) and isinstance(m.get("content"), str)
                    and m.get("role") in ("system", "user", "assistant") for m in messages):
                raise InputError("messages must be a list of {role, content}")
            settings.pop("system", None)
            request = build_request("", **{**settings, "chat": False})
            request.mode, request.messages = "chat", messages
            request.prompt = next((m["content"] for m in reversed(messages)
                                   if m["role"] == "user"), "")
        else:
            prompt = doc.get("prompt")
            if not isinstance(prompt, str):
                raise InputError("needs a \"prompt\" string or \"messages\"")
            request = build_request(prompt, **settings)
        validate_request(request)
    except (InputError, TypeError) as e:
        raise FormatError(f"{where}: {e}") from None
    given = doc.get("id")
    if given is not None and not isinstance(given, (str, int)):
        raise FormatError(f"{where}: id must be a string or a number")
    ident = str(given) if given is not None else content_id(doc)
    return Item(ident, request)


_INTS = ("max_tokens", "top_k", "alternatives", "seed")
_NUMBERS = ("temperature", "top_p")


def _settings(doc: dict[str, Any], where: str) -> dict[str, Any]:
    """The line's own settings, each checked for its type (JSON has no types to lean on:
    "stop": "END" is not three stop strings, "chat": "no" is not true)."""
    out: dict[str, Any] = {}
    for key in SETTINGS:
        if key not in doc:
            continue
        value = doc[key]
        if key == "chat":
            if not isinstance(value, bool):
                raise FormatError(f"{where}: chat must be true or false")
        elif key in _INTS:
            if not (value is None and key == "seed") and (
                    isinstance(value, bool) or not isinstance(value, int)):
                raise FormatError(f"{where}: {key} must be a whole number"
                                  + (" or null" if key == "seed" else ""))
        elif key in _NUMBERS:
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not math.isfinite(value)):
                raise FormatError(f"{where}: {key} must be a number")
            value = float(value)
        elif key == "stop":
            if isinstance(value, str):
                value = [value]
            elif value is None:
                value = []
            elif not (isinstance(value, list) and all(isinstance(x, str) for x in value)):
                raise FormatError(f"{where}: stop must be a string or a list of strings")
        elif key == "system" and value is not None and not isinstance(value, str):
            raise FormatError(f"{where}: system must be a string or null")
        out[key] = value
    return out


def read_texts(path: str | os.PathLike[str], alternatives: int) -> list[Item]:
    """The texts to score, one per line (`{"id", "text"}` or a JSON string)."""
    return jsonl_items(read_jsonl(path), str(path),
                       lambda doc, where: _text_item(doc, where, alternatives), "texts")


def _text_item(doc: Any, where: str, alternatives: int) -> Item:
    doc = {"text": doc} if isinstance(doc, str) else doc
    if not isinstance(doc, dict) or set(doc) - {"id", "text"}:
        raise FormatError(f"{where} must be {{\"id\", \"text\"}} or a JSON string")
    text, given = doc.get("text"), doc.get("id")
    if not isinstance(text, str) or not text:
        raise FormatError(f"{where}: \"text\" must be a non-empty string")
    if given is not None and not isinstance(given, (str, int)):
        raise FormatError(f"{where}: id must be a string or a number")
    ident = str(given) if given is not None else content_id(doc)
    return Item(ident, Request(mode="score", prompt=text, temperature=None, top_p=None,
                               top_k=None, max_tokens=None, alternatives=alternatives))


def content_id(doc: dict[str, Any]) -> str:
    canon = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "h" + hashlib.sha1(canon.encode("utf-8")).hexdigest()[:12]
