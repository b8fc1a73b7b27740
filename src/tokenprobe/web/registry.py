"""The models the web app offers, each with what reaches it; keys never leave the server.

An entry is a `--model` value (`None` for the embedded default, a GGUF path, `openai:NAME`,
`llamacpp:URL`, `ollama:NAME`) with its `BackendOptions` (base URL, API key). The page sees
`public()` only: an id, a label, the backend, the URL without credentials, whether a key is
set, and a note (the embedded model is a base model that chats poorly). Entries come from
`tokenprobe serve --model …` and from the page ("add a model"); the embedded default is
always offered. Loading is lazy, through the library's backend registry (one load per
process).

It leaves out running anything on a model (jobs.py, runs.py).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tokenprobe.backends import Backend, BackendOptions, get_backend, parse_model_spec
from tokenprobe.backends.faults import public_url
from tokenprobe.backends.llama import EMBEDDED_NAME
from tokenprobe.errors import InputError
from tokenprobe.trace import Trace
from tokenprobe.web.config import ModelConfig

EMBEDDED_ID = "embedded"
EMBEDDED_NOTE = ("a base model (not instruction-tuned): it continues text well and chats "
                 "poorly; Complete mode shows what it does best")


@dataclass
class ModelEntry:
    id: str
    spec: str | None
    label: str
    options: BackendOptions = field(repr=False)
    note: str | None = None
    added: bool = False  # added from the page (it can be removed there)

    @property
    def prefix(self) -> str:
        return parse_model_spec(self.spec)[0]

    @property
    def local(self) -> bool:
        return self.prefix == "llama"

    @property
    def lane(self) -> str:
        """Jobs on the same lane share its slots: every local model shares the machine."""
        if self.local:
            return "local"
        return f"{self.spec}@{self.options.base_url or ''}"

    def public(self) -> dict[str, Any]:
        base = self.options.base_url
        return {
            "id": self.id,
            "label": self.label,
            "backend": self.prefix,
            "local": self.local,
            "base_url": public_url(base) if base else None,
            "has_key": bool(self.options.api_key),
            "note": self.note,
            "removable": self.added,
        }


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:40] or "model"


class Registry:
    """The offered models by id. Safe to use from several threads."""

    def __init__(self, models: list[ModelConfig]) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, ModelEntry] = {}
        self.default_id = EMBEDDED_ID
        first: str | None = None
        for m in models:
            entry = self._make(m.spec, m.options, m.label, added=False)
            first = first or entry.id
        if EMBEDDED_ID not in self._entries:
            self._make(None, BackendOptions(), None, added=False)
        self.default_id = first or EMBEDDED_ID

    def _make(self, spec: str | None, options: BackendOptions, label: str | None,
              added: bool) -> ModelEntry:
        prefix, rest = parse_model_spec(spec)  # InputError for an unknown form
        if prefix == "llama" and rest:
            from tokenprobe.backends.llama import check_gguf

            check_gguf(Path(rest).expanduser())
        if options.base_url is not None:
            parts = urlsplit(options.base_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise InputError(f"the base URL must be http:// or https:// with a host "
                                 f"(got {public_url(options.base_url)!r})")
        if spec is None:
            mid, text, note = EMBEDDED_ID, "Gemma 3 270M (embedded)", EMBEDDED_NOTE
        else:
            text = label or (Path(rest).stem if prefix == "llama" else spec)
            mid, note = _slug(text), None
            n = 2
            while mid in self._entries:
                mid = f"{_slug(text)}-{n}"
                n += 1
        entry = ModelEntry(mid, spec, label or text, options, note, added)
        self._entries[mid] = entry
        return entry

    def add(self, spec: str, base_url: str | None = None, api_key: str | None = None,
            label: str | None = None) -> ModelEntry:
        spec = spec.strip()
        if not spec:
            raise InputError("the model is empty: give a GGUF path, openai:NAME, "
                             "llamacpp:URL or ollama:NAME")
        options = BackendOptions(base_url=base_url or None, api_key=api_key or None)
        with self._lock:
            for e in self._entries.values():
                if (e.spec == spec and e.options.base_url == options.base_url
                        and e.options.api_key == options.api_key):
                    return e  # the same model twice is one entry
            return self._make(spec, options, label, added=True)

    def remove(self, model_id: str) -> ModelEntry:
        with self._lock:
            entry = self._get(model_id)
            if not entry.added:
                raise InputError(f"the model {model_id!r} was given when the server started; "
                                 "only models added in the page can be removed")
            del self._entries[model_id]
            return entry

    def _get(self, model_id: str) -> ModelEntry:
        entry = self._entries.get(model_id)
        if entry is None:
            known = ", ".join(sorted(self._entries))
            raise InputError(f"unknown model {model_id!r} (known: {known})")
        return entry

    def get(self, model_id: str | None) -> ModelEntry:
        with self._lock:
            return self._get(model_id or self.default_id)

    def list(self) -> list[ModelEntry]:
        with self._lock:
            return list(self._entries.values())

    def backend(self, model_id: str | None) -> Backend:
        """The loaded backend (loads it on first use: call from a worker thread)."""
        entry = self.get(model_id)
        return get_backend(entry.spec, entry.options)

    def for_trace(self, trace: Trace) -> ModelEntry | None:
        """The offered model a saved trace came from, if it is still offered."""
        base = trace.source.get("base_url")
        for e in self.list():
            if e.local and trace.backend == "llama":
                path = trace.source.get("path")
                if e.spec is None and trace.model == EMBEDDED_NAME:
                    return e
                if e.spec and path and (Path(e.spec).expanduser().resolve()
                                        == Path(path).expanduser().resolve()):
                    return e
            elif not e.local and e.prefix == trace.backend:
                name = parse_model_spec(e.spec)[1]
                url = public_url(e.options.base_url) if e.options.base_url else None
                if name == trace.model and (base is None or url is None or url == base):
                    return e
        return None
