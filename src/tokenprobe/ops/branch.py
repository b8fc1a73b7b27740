"""Branch: continue a generation from step i with another token forced in its place.

The branch reproduces the parent's steps 0..i-1 (copied: the same context gives the same
numbers), records the forced token with the probability the model gave it (`forced: true`),
then generates on with the parent's settings (and seed, unless another is given). It
records its parent (`trace.parent = {"id", "step", "token"}`); the branches of one root form
a tree that the history store keeps together.

A trace from a server names that server (`source.base_url`), and a trace is a file anyone
may send: the server it names never gets the user's API key unless it is the user's own
server (`trace_options`).

It leaves out how a tree is shown (views/) and stored (store.py).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Generator
from urllib.parse import urlsplit

from tokenprobe.backends import Backend, BackendOptions, TraceStream, get_backend
from tokenprobe.backends.urls import public_url
from tokenprobe.errors import InputError
from tokenprobe.trace import Request, Step, Trace


def _own_server(backend: str) -> tuple[str | None, str]:
    """The server the user's environment sends this backend's requests (and key) to, and
    the variable holding that key."""
    if backend == "ollama":
        from tokenprobe.backends.ollama import DEFAULT_HOST

        return os.environ.get("OLLAMA_HOST") or DEFAULT_HOST, "OLLAMA_API_KEY"
    if backend == "openai":
        from tokenprobe.backends.openai import DEFAULT_BASE_URL

        return os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL, "OPENAI_API_KEY"
    return os.environ.get("OPENAI_BASE_URL"), "OPENAI_API_KEY"  # llamacpp and others


def _same_server(a: str, b: str, drop_v1: bool) -> bool:
    """Whether two URLs reach the same endpoint: scheme, host and port (the scheme's
    default when not written) and path, ignoring credentials, case and a trailing slash
    (and a trailing /v1 for llama.cpp, whose native endpoints live beside it)."""
    try:
        pa, pb = urlsplit(a if "://" in a else "http://" + a), urlsplit(
            b if "://" in b else "http://" + b)
        ports = [p.port or {"http": 80, "https": 443}.get(p.scheme.lower()) for p in (pa, pb)]
    except ValueError:
        return False

    def path(p: str) -> str:
        p = p.rstrip("/")
        return p[:-3] if drop_v1 and p.endswith("/v1") else p

    return (pa.scheme.lower() == pb.scheme.lower() and pa.hostname == pb.hostname
            and ports[0] == ports[1] and path(pa.path) == path(pb.path))


def trace_options(parent: Trace) -> tuple[BackendOptions, str | None]:
    """How to reach the server `parent` came from, and a note when no key goes there.

    The trace's `source.base_url` is used with the user's key only when it is the user's
    own server (OPENAI_BASE_URL, or OpenAI's own URL when that is unset; for Ollama,
    OLLAMA_HOST and OLLAMA_API_KEY); any other URL gets no key at all, and the note says
    so. An Ollama backend reads OLLAMA_API_KEY by itself whenever it is given none, so an
    Ollama trace naming another server is refused while that variable is set.
    """
    url = parent.source.get("base_url")
    if parent.backend in ("llama", "import", "") or not url:
        return BackendOptions(), None
    url = str(url)
    # What the server's numbers are carries over: a branch of a processed-logprobs or
    # logits trace reads its server's numbers as the same kind (the parent's forced token
    # keeps its recorded value, so the two must agree).
    kind = parent.logprobs_kind if parent.logprobs_kind in ("processed", "logits") else None
    own, key_var = _own_server(parent.backend)
    if own and _same_server(url, own, drop_v1=parent.backend == "llamacpp"):
        return BackendOptions(base_url=own, api_key=os.environ.get(key_var),
                              logprobs_kind=kind), None
    shown = public_url(url)
    if parent.backend == "ollama" and os.environ.get(key_var):
        raise InputError(f"the trace names the Ollama server {shown}, not your OLLAMA_HOST, "
                         f"and {key_var} is set: give --base-url to say where to continue "
                         "(the key goes only to your own server)")
    note = (f"note: sending no API key to {shown}, the server the trace names (not your "
            f"own); give --base-url to continue on your server with your key")
    # "" (not None): no key, rather than the backend's default from the environment.
    return BackendOptions(base_url=url, api_key="", logprobs_kind=kind), note


def model_spec_of(trace: Trace) -> str | None:
    """The `--model` value that reaches the model a trace came from."""
    if trace.backend == "llama":
        from tokenprobe.backends.llama import EMBEDDED_NAME

        path = trace.source.get("path")
        return None if trace.model == EMBEDDED_NAME or not path else str(path)
    if trace.backend in ("import", ""):
        raise InputError("an imported trace has no model to continue with; give --model")
    return f"{trace.backend}:{trace.model}"


def branch_stream(
    parent: Trace,
    step: int,
    token: str | None = None,
    token_id: int | None = None,
    *,
    model: str | None = None,
    options: BackendOptions | None = None,
    seed: int | None = None,
    max_tokens: int | None = None,
) -> TraceStream:
    """A live branch of `parent` at `step`; iterate it, or call `.run()` for the trace.

    `model` and `options` say where to continue (as for generate); with neither, the
    parent's own model and server (`trace_options`: no key unless it is the user's own).
    """
    n = len(parent.steps)
    if not 0 <= step < n:
        raise InputError(
            f"step {step} is outside the trace (it has {n} steps: 0..{max(n - 1, 0)})"
        )
    if (token is None) == (token_id is None):
        raise InputError("give the token to put in place: --token TEXT or --id N")
    before = parent.steps[:step]
    if options is None and model is None:
        options = trace_options(parent)[0]
    backend: Backend = get_backend(model if model is not None else model_spec_of(parent),
                                   options)
    req = Request.from_dict(parent.request.to_dict())
    if seed is not None:
        req.seed = seed
    if max_tokens is not None:
        req.max_tokens = max_tokens
    prefix = [copy.deepcopy(s) for s in before]
    if hasattr(backend, "continue_text_steps"):
        # A server: the branch re-sends the text (ids are the server's business).
        if token is None:
            raise InputError("a server branch is given by text: use --token TEXT")
        return _text_branch(backend, parent, step, token, req, prefix)
    if any(s.id is None for s in before):
        raise InputError("the trace does not record token ids before that step; cannot branch")
    forced = backend.forced_ids(token) if token is not None else [int(token_id)]  # type: ignore[arg-type]
    if token_id is not None:
        n_vocab = getattr(backend, "n_vocab", None)
        if token_id < 0 or (n_vocab is not None and token_id >= n_vocab):
            raise InputError(f"token id {token_id} is outside the vocabulary")
    after_prompt = [int(s.id) for s in before]  # type: ignore[arg-type]

    def steps(trace: Trace) -> Generator[Step, None, str | None]:
        yield from prefix
        return (yield from backend.continue_steps(req, trace, after_prompt, forced))

    stream = TraceStream(backend, req, steps=steps)
    label = token if token is not None else backend.piece(forced[0])[0]  # type: ignore[attr-defined]
    stream.trace.parent = {"id": parent.id, "step": step, "token": label}
    return stream


def _text_branch(backend: Backend, parent: Trace, step: int, token: str, req: Request,
                 prefix: list[Step]) -> TraceStream:
    """A branch on a server: the prompt, the parent's text before `step` and `token` are
    sent as the new prompt (completion) or as an assistant message to continue (chat).

    The forced token's logprob is the one the parent's step listed for it among its
    alternatives; a text that was not listed has no reported logprob (null). The server
    tokenizes the re-sent text itself, so the steps after the fork are its own.
    """
    if not token:
        raise InputError("the token to put in place is empty")
    kept = b"".join(s.data for s in prefix).decode("utf-8", "replace")
    data = token.encode("utf-8")
    listed = next((c for c in parent.steps[step].top if c.data == data), None)
    forced = Step(token=token, logprob=listed.logprob if listed else None,
                  id=listed.id if listed else None, bytes=data, forced=True)

    # As on the local engine, max_tokens counts the whole answer, the kept steps included.
    rest = Request.from_dict(req.to_dict())
    rest.max_tokens = max((req.max_tokens or 64) - step - 1, 1)

    def steps(trace: Trace) -> Generator[Step, None, str | None]:
        yield from prefix
        yield forced
        return (yield from backend.continue_text_steps(rest, trace, kept, token))  # type: ignore[attr-defined]

    stream = TraceStream(backend, req, steps=steps)
    stream.trace.parent = {"id": parent.id, "step": step, "token": token}
    return stream


def branch(parent: Trace, step: int, token: str | None = None, **kwargs: object) -> Trace:
    """Continue `parent` from `step` with `token` forced there; returns the new trace."""
    return branch_stream(parent, step, token, **kwargs).run()  # type: ignore[arg-type]
