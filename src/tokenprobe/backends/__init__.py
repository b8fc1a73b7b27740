"""The backend registry: a model name (the `--model` value) -> a loaded backend.

`--model` forms: omitted = the embedded default; `PATH.gguf` = a local GGUF file;
`PREFIX:REST` = the backend registered under PREFIX (`openai:NAME`, `llamacpp:URL`,
`ollama:NAME`, `hf:NAME`). Built-in backends are listed here; others plug in through the
entry-point group "tokenprobe.backends" (name = prefix, value = "module:Class").

Loaded backends are kept for the life of the process, so a notebook or the web app pays for
loading a model once; `evict` closes and forgets one (the web app, when a model is removed).
What the rest of tokenprobe asks about a model without loading it goes through its class
(`backend_class`): whether it runs here, how a spec is checked and shown, which spec and
options reach a trace's model again (`spec_for_trace`, `options_for_trace`).

It leaves out what each backend does (one module each).
"""

from __future__ import annotations

import importlib
import threading
from importlib.metadata import entry_points
from typing import Any

from tokenprobe.backends.base import (
    Backend,
    BackendOptions,
    GenerationError,
    TraceStream,
    validate_request,
)
from tokenprobe.errors import InputError, ModelError
from tokenprobe.trace import Trace

__all__ = [
    "BUILTIN",
    "Backend",
    "BackendOptions",
    "GenerationError",
    "TraceStream",
    "backend_class",
    "check_base_url",
    "check_spec",
    "evict",
    "get_backend",
    "options_for_trace",
    "parse_model_spec",
    "spec_for_trace",
    "validate_request",
]

# prefix -> "module:Class". The class has a classmethod `from_spec(rest, options)`.
BUILTIN: dict[str, str] = {
    "llama": "tokenprobe.backends.llama:LlamaBackend",
    "openai": "tokenprobe.backends.openai:OpenAIBackend",
    "llamacpp": "tokenprobe.backends.llamacpp:LlamaCppBackend",
    "ollama": "tokenprobe.backends.ollama:OllamaBackend",
    "hf": "tokenprobe.backends.hf:HFBackend",
    "own": "tokenprobe.own_model:OwnModel",
}

_cache: dict[tuple[str, str, tuple[tuple[str, Any], ...]], Backend] = {}
_lock = threading.Lock()


def _registry() -> dict[str, str]:
    found = dict(BUILTIN)
    for ep in entry_points(group="tokenprobe.backends"):
        found.setdefault(ep.name, ep.value)
    return found


def parse_model_spec(model: str | None) -> tuple[str, str]:
    """Split a `--model` value into (prefix, rest); the default is ("llama", "")."""
    if model is None or model == "":
        return "llama", ""
    head, sep, rest = model.partition(":")
    registry = _registry()
    if sep and head in registry and head != "llama":
        if not rest:
            raise InputError(f"--model {model!r} names no model after '{head}:'")
        return head, rest
    if model.lower().endswith(".gguf") or "/" in model or model.startswith("."):
        return "llama", model
    prefixes = ", ".join(f"{p}:NAME" for p in sorted(registry) if p != "llama")
    choices = "a path to a .gguf file" + (f", or one of {prefixes}" if prefixes else "")
    raise InputError(f"unknown model {model!r}: give {choices}")


def _load_class(target: str) -> type[Backend]:
    module_name, _, cls_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ModelError(f"backend {module_name} cannot be loaded: {e}") from None
    cls = getattr(module, cls_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise ModelError(f"backend {target} is not a tokenprobe Backend class")
    return cls


def backend_class(spec_or_prefix: str | None, *, prefix: bool = False) -> type[Backend]:
    """The class behind a `--model` value (or, with `prefix=True`, a registered prefix
    such as a trace's `backend`); imported, not loaded."""
    name = spec_or_prefix if prefix else parse_model_spec(spec_or_prefix)[0]
    target = _registry().get(name or "")
    if target is None:
        raise InputError(f"no backend is registered as {name!r}")
    return _load_class(target)


def _trace_class(trace: Trace) -> type[Backend]:
    """The class of the backend a trace names; the base class's rules for a name that is
    not registered (a trace from elsewhere)."""
    if trace.backend in ("import", ""):
        raise InputError("an imported trace has no model to continue with; give --model")
    try:
        return backend_class(trace.backend, prefix=True)
    except (InputError, ModelError):
        return Backend


def spec_for_trace(trace: Trace) -> str | None:
    """The `--model` value that reaches the model a trace came from."""
    return _trace_class(trace).spec_for_trace(trace)


def options_for_trace(trace: Trace) -> tuple[BackendOptions, str | None]:
    """How to reach the server a trace came from (the user's key only for the user's own
    server), and a note when no key goes there."""
    if trace.backend in ("import", "") or not trace.source.get("base_url"):
        return BackendOptions(), None
    return _trace_class(trace).options_for_trace(trace)


def check_base_url(model: str | None, base_url: str | None) -> None:
    """--base-url says where a server is: refused for a model that runs here, which would
    silently ignore it."""
    if base_url is None or not backend_class(model).local:
        return
    servers = ", ".join(f"{p}:NAME" for p in _registry()
                        if not _quiet_class(p).local)
    prefix = parse_model_spec(model)[0]
    what = (f"the local model {model}" if model and model.startswith(f"{prefix}:") else
            f"the local model file {model}" if model else "the embedded model")
    raise InputError(f"--base-url applies to server models only ({servers}), not to {what}")


def _quiet_class(prefix: str) -> type[Backend]:
    try:
        return backend_class(prefix, prefix=True)
    except (InputError, ModelError):
        return Backend  # one that cannot be imported here is listed as a server


def check_spec(spec: str | None, options: BackendOptions) -> None:
    """Whether a model can be kept (its form, its file, its URLs), without loading it."""
    prefix, rest = parse_model_spec(spec)
    backend_class(prefix, prefix=True).check_spec(rest, options)


def _key(model: str | None, options: BackendOptions | None
         ) -> tuple[str, str, tuple[tuple[str, Any], ...]]:
    prefix, rest = parse_model_spec(model)
    opts = options or BackendOptions()
    return prefix, rest, tuple(sorted((k, repr(v)) for k, v in vars(opts).items()))


def get_backend(model: str | Backend | None = None, options: BackendOptions | None = None
                ) -> Backend:
    """The backend for `model`, loaded once per process and per set of options; a Backend
    object (a user's own model, tokenprobe.own_model) is used as it is."""
    if isinstance(model, Backend):
        return model
    prefix, rest, _ = key = _key(model, options)
    opts = options or BackendOptions()
    with _lock:
        backend = _cache.get(key)
        if backend is None:
            cls = _load_class(_registry()[prefix])
            backend = cls.from_spec(rest, opts)
            _cache[key] = backend
        return backend


def evict(model: str | None = None, options: BackendOptions | None = None) -> bool:
    """Close and forget the loaded backend for `model` and `options` (a model no longer
    offered frees its memory or connections); returns whether one was loaded. The caller
    makes sure nothing is still using it."""
    with _lock:
        backend = _cache.pop(_key(model, options), None)
    if backend is None:
        return False
    backend.close()
    return True


def clear_cache() -> None:
    """Close and forget every loaded backend (tests use this)."""
    with _lock:
        for b in _cache.values():
            b.close()
        _cache.clear()
