"""The Python API: `generate`, `score` and `load`, each returning a Trace.

These are thin: they pick a backend from the registry (loaded once per process), build the
request, and run it. The CLI calls the same functions with the same keyword names.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from tokenprobe.backends import BackendOptions, get_backend
from tokenprobe.backends.base import (
    Backend,
    TraceStream,
    validate_alternatives,
    validate_request,
)
from tokenprobe.errors import InputError
from tokenprobe.trace import Request, Trace


def build_request(
    prompt: str,
    *,
    chat: bool = False,
    system: str | None = None,
    max_tokens: int = 64,
    temperature: float = 1.0,
    top_p: float = 1.0,
    top_k: int = 0,
    seed: int | None = None,
    alternatives: int = 10,
    stop: Sequence[str] | None = None,
    attention: bool = False,
    lens: bool = False,
) -> Request:
    messages = None
    if chat:
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": prompt}
        ]
    elif system:
        raise InputError("--system needs --chat (a completion has no system prompt)")
    return Request(
        mode="chat" if chat else "completion",
        prompt=prompt,
        messages=messages,
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        seed=seed,
        max_tokens=max_tokens,
        alternatives=alternatives,
        stop=list(stop or []),
        internals=internals_of(attention, lens),
    )


def internals_of(attention: bool, lens: bool) -> list[str]:
    """What to capture inside the model (internals.py), from the two switches."""
    return [k for k, on in (("attention", attention), ("lens", lens)) if on]


def check_capture(backend: Backend, kinds: Sequence[str]) -> None:
    """Attention and the lens come only from models tokenprobe runs through PyTorch."""
    if kinds and not backend.can_capture:
        raise InputError(f"--{kinds[0]} needs a model tokenprobe runs itself through PyTorch "
                         f"(hf:PATH or an own model); the {backend.name} backend does not "
                         "expose its attention or hidden states")


def stream(
    prompt: str,
    *,
    model: str | None = None,
    options: BackendOptions | None = None,
    **settings: object,
) -> TraceStream:
    """A live generation: iterate it for steps as they are made; `.trace` holds the result."""
    request = build_request(prompt, **settings)  # type: ignore[arg-type]
    validate_request(request)  # before loading a model: bad input fails fast
    backend = get_backend(model, options)
    check_capture(backend, request.internals)
    return backend.stream(request)


def generate(
    prompt: str,
    model: str | None = None,
    chat: bool = False,
    system: str | None = None,
    max_tokens: int = 64,
    temperature: float = 1.0,
    top_p: float = 1.0,
    top_k: int = 0,
    seed: int | None = None,
    alternatives: int = 10,
    stop: Sequence[str] | None = None,
    options: BackendOptions | None = None,
    attention: bool = False,
    lens: bool = False,
) -> Trace:
    """Generate a continuation (or a chat answer) and record every token's choice.

    `attention`, `lens`: also record each step's attention weights and its logit lens
    (the trace's `internals`; hf: and own models only)."""
    return stream(
        prompt,
        model=model,
        options=options,
        chat=chat,
        system=system,
        max_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        seed=seed,
        alternatives=alternatives,
        stop=stop,
        attention=attention,
        lens=lens,
    ).run()


def score(
    text: str,
    model: str | None = None,
    alternatives: int = 10,
    options: BackendOptions | None = None,
    attention: bool = False,
    lens: bool = False,
) -> Trace:
    """Teacher-forced logprobs of every token of `text` (in the trace's `prompt_steps`);
    `attention`, `lens` as for `generate`."""
    if not text:
        raise InputError("the text to score is empty")
    validate_alternatives(alternatives)
    backend = get_backend(model, options)
    kinds = internals_of(attention, lens)
    check_capture(backend, kinds)
    if kinds:
        return backend.score(text, alternatives=alternatives,  # type: ignore[call-arg]
                             internals=kinds)
    return backend.score(text, alternatives=alternatives)


def load(path: str | os.PathLike[str], format: str = "auto",
         vocab_size: int | None = None) -> Trace:
    """Read a saved trace or any supported server response into a Trace.

    `vocab_size`: the model's vocabulary size, where known (see formats.load_all)."""
    from tokenprobe.formats import load_path

    return load_path(path, format=format, vocab_size=vocab_size)


def load_all(path: str | os.PathLike[str], format: str = "auto",
             vocab_size: int | None = None) -> list[Trace]:
    """Every trace in a file: one per choice or candidate, or one per line of JSONL."""
    from tokenprobe.formats import load_all as _load_all

    return _load_all(path, format=format, vocab_size=vocab_size)
