"""The models the web app offers, each with what reaches it; keys never leave the server.

An entry is a `--model` value (`None` for the embedded default, a GGUF path, `openai:NAME`,
`llamacpp:URL`, `ollama:NAME`) with its `BackendOptions` (base URL, API key). The page sees
`public()` only: an id, a label, the backend, the URL without credentials, whether a key is
set, and a note (the embedded model is a base model that chats poorly). Entries come from
`tokenprobe serve --model …` and from the page ("add a model"); the embedded default is
always offered. Loading is lazy, through the library's backend registry (one load per
process); removing the last entry of a model closes and forgets its loaded backend.

Credentials stay inside the entry: a URL (the base URL, or the one in `llamacpp:URL`) is
checked before the entry is kept, and shown only through `public_url` (ids, labels,
messages); the queue knows an entry by its id (its lane), never by its spec or URL.
A GGUF path is checked in a thread of its own with a time limit (filecheck.py), never
under the lock the event loop takes: a FIFO or a hung mount cannot stall the server.

It leaves out running anything on a model (jobs.py, runs.py).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

from tokenprobe.backends import (
    Backend,
    BackendOptions,
    backend_class,
    check_spec,
    evict,
    get_backend,
    parse_model_spec,
)
from tokenprobe.backends.server_errors import scrub
from tokenprobe.backends.urls import public_url
from tokenprobe.errors import InputError, TokenprobeError
from tokenprobe.trace import Trace
from tokenprobe.web.config import ModelConfig

EMBEDDED_ID = "embedded"
LOCAL_LANE = "local"  # every local model shares it; no entry takes this id
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
    def backend_class(self) -> type[Backend]:
        return backend_class(self.prefix, prefix=True)

    @property
    def local(self) -> bool:
        return self.backend_class.local

    @property
    def lane(self) -> str:
        """Jobs on the same lane share its slots: every local model shares the machine; a
        server model has its own lane, named by the entry's id (GET /api/health lists the
        lanes, so a name made of the spec or URL could show a password)."""
        return LOCAL_LANE if self.local else self.id

    @property
    def server_url(self) -> str | None:
        """Where a server model's requests go, as given (credentials and all)."""
        return self.backend_class.server_url(parse_model_spec(self.spec)[1], self.options)

    def public(self) -> dict[str, Any]:
        base = self.server_url
        return {
            "id": self.id,
            "label": self.label,
            "backend": self.prefix,
            "local": self.local,
            "base_url": public_url(base) if base else None,
            "has_key": bool(self.options.api_key),
            "logprobs_kind": self.options.logprobs_kind,
            "note": self.note,
            "removable": self.added,
        }


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:40] or "model"


def public_spec(spec: str | None) -> str | None:
    """The `--model` value as it may be shown: a server URL in it without user:password."""
    if spec is None:
        return None
    prefix, rest = parse_model_spec(spec)
    if not spec.startswith(f"{prefix}:"):
        return spec  # a file path
    return f"{prefix}:{backend_class(prefix, prefix=True).public_spec(rest)}"


def _secrets(spec: str | None, options: BackendOptions) -> list[str]:
    """What an error message about this model must not contain."""
    found: list[str] = []
    for text in (options.base_url, spec):
        # Every user:password@ in it, wherever it stands (a spec need not parse as a URL).
        for user, password in re.findall(r"([^\s/:@]*):([^\s/@]+)@", text or ""):
            found += [f"{user}:{password}", password]
    return found + ([options.api_key] if options.api_key else [])


def _scrubbed(e: TokenprobeError, secrets: list[str]) -> TokenprobeError:
    """The same error, its message without `secrets` (longest first)."""
    text = scrub(str(e), sorted(secrets, key=len, reverse=True))
    if text != str(e):
        e.args = (text,)
    return e


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
        self._check(spec, options)
        return self._enter(spec, options, label, added)

    @staticmethod
    def _check(spec: str | None, options: BackendOptions) -> None:
        """Whether the model can be offered: its form, its file, its URLs. A file check
        runs in a thread of its own with a time limit (filecheck.py): call this without
        holding the lock, which the event loop takes."""
        try:
            check_spec(spec, options)  # InputError for an unknown form
        except TokenprobeError as e:  # the spec or URL may be in the message
            raise _scrubbed(e, _secrets(spec, options)) from None

    def _enter(self, spec: str | None, options: BackendOptions, label: str | None,
               added: bool) -> ModelEntry:
        """Keep a checked model under a new id (no I/O: called under the lock)."""
        prefix, rest = parse_model_spec(spec)
        if spec is None:
            mid, text, note = EMBEDDED_ID, "Gemma 3 270M (embedded)", EMBEDDED_NOTE
        else:
            text = (label or backend_class(prefix, prefix=True).label(rest)
                    or public_spec(spec) or "")
            mid, note = _slug(text), None
            n = 2
            while mid in self._entries or mid == LOCAL_LANE:
                mid = f"{_slug(text)}-{n}"
                n += 1
        entry = ModelEntry(mid, spec, label or text, options, note, added)
        self._entries[mid] = entry
        return entry

    def _same(self, spec: str, options: BackendOptions) -> ModelEntry | None:
        for e in self._entries.values():
            if (e.spec == spec and e.options.base_url == options.base_url
                    and e.options.api_key == options.api_key
                    and e.options.logprobs_kind == options.logprobs_kind):
                return e
        return None

    def add(self, spec: str, base_url: str | None = None, api_key: str | None = None,
            label: str | None = None, logprobs_kind: str | None = None) -> ModelEntry:
        """Offer a model (the same model twice is one entry). Blocks for up to the file
        check's time limit: call it from a worker thread."""
        spec = spec.strip()
        if not spec:
            raise InputError("the model is empty: give a GGUF path, openai:NAME, "
                             "llamacpp:URL or ollama:NAME")
        if logprobs_kind is not None and backend_class(spec).local:
            raise InputError("what the numbers are (logprobs kind) is for server models; a "
                             "model that runs here reports raw logprobs")
        options = BackendOptions(base_url=base_url or None, api_key=api_key or None,
                                 logprobs_kind=logprobs_kind)
        with self._lock:
            known = self._same(spec, options)
        if known is not None:
            return known
        self._check(spec, options)  # outside the lock: it may read a file
        with self._lock:
            return self._same(spec, options) or self._enter(spec, options, label, added=True)

    def remove(self, model_id: str) -> ModelEntry:
        """Stop offering a model added in the page (see `release` for its loaded backend)."""
        with self._lock:
            entry = self._get(model_id)
            if not entry.added:
                raise InputError(f"the model {model_id!r} was given when the server started; "
                                 "only models added in the page can be removed")
            del self._entries[model_id]
            return entry

    def release(self, entry: ModelEntry) -> bool:
        """Close and forget a removed entry's loaded backend, unless another entry still
        offers the same model (same spec and options); returns whether it was closed.
        Slow for a local model (it frees the weights): call it from a worker thread."""
        with self._lock:
            if any(e.spec == entry.spec and e.options == entry.options
                   for e in self._entries.values()):
                return False
        return evict(entry.spec, entry.options)

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
        try:
            return get_backend(entry.spec, entry.options)
        except TokenprobeError as e:  # a backend's message may name the spec as given
            raise _scrubbed(e, _secrets(entry.spec, entry.options)) from None

    def for_trace(self, trace: Trace) -> ModelEntry | None:
        """The offered model a saved trace came from, if it is still offered."""
        for e in self.list():
            cls = e.backend_class
            if cls.name == trace.backend and cls.made(trace, parse_model_spec(e.spec)[1],
                                                      e.options):
                return e
        return None
