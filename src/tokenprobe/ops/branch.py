"""Branch: continue a generation from step i with another token forced in its place.

The branch reproduces the parent's steps 0..i-1 (copied: the same context gives the same
numbers), records the forced token with the probability the model gave it (`forced: true`),
then generates on with the parent's settings (and seed, unless another is given). It
records its parent (`trace.parent = {"id", "step", "token"}`); the branches of one root form
a tree that the history store keeps together.

A trace from a server names that server (`source.base_url`), and a trace is a file anyone
may send: the server it names never gets the user's API key unless it is the user's own
server (`backends.options_for_trace`).

It leaves out how a tree is shown (views/) and stored (store.py).
"""

from __future__ import annotations

import copy
from collections.abc import Generator

from tokenprobe.backends import (
    Backend,
    BackendOptions,
    TraceStream,
    get_backend,
    options_for_trace,
    spec_for_trace,
)
from tokenprobe.backends.abilities import Spelling, TextBranching
from tokenprobe.errors import InputError, ModelError
from tokenprobe.trace import Request, Step, Trace


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
    parent's own model and server (`options_for_trace`: no key unless it is the user's own).
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
        options = options_for_trace(parent)[0]
    backend: Backend = get_backend(model if model is not None else spec_for_trace(parent),
                                   options)
    req = Request.from_dict(parent.request.to_dict())
    if seed is not None:
        req.seed = seed
    if max_tokens is not None:
        req.max_tokens = max_tokens
    prefix = [copy.deepcopy(s) for s in before]
    if backend.branches == "text":
        # A server: the branch re-sends the text (ids are the server's business).
        if token is None:
            raise InputError("a server branch is given by text: use --token TEXT")
        return _text_branch(backend, parent, step, token, req, prefix)
    if any(s.id is None for s in before):
        raise InputError("the trace does not record token ids before that step; cannot branch")
    forced = backend.forced_ids(token) if token is not None else [int(token_id)]  # type: ignore[arg-type]
    if token_id is not None:
        n_vocab = backend.vocab_size
        if token_id < 0 or (n_vocab is not None and token_id >= n_vocab):
            raise InputError(f"token id {token_id} is outside the vocabulary")
    after_prompt = [int(s.id) for s in before]  # type: ignore[arg-type]

    def steps(trace: Trace) -> Generator[Step, None, str | None]:
        yield from prefix
        return (yield from backend.continue_steps(req, trace, after_prompt, forced))

    stream = TraceStream(backend, req, steps=steps)
    if token is not None:
        label = token
    elif isinstance(backend, Spelling):
        label = backend.piece(forced[0])[0]
    else:
        raise ModelError(f"the {backend.name} backend cannot spell token {forced[0]}")
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
    if not isinstance(backend, TextBranching):
        raise ModelError(f"the {backend.name} backend cannot branch by text")
    texts = backend
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
        return (yield from texts.continue_text_steps(rest, trace, kept, token))

    stream = TraceStream(backend, req, steps=steps)
    stream.trace.parent = {"id": parent.id, "step": step, "token": token}
    return stream


def branch(parent: Trace, step: int, token: str | None = None, **kwargs: object) -> Trace:
    """Continue `parent` from `step` with `token` forced there; returns the new trace."""
    return branch_stream(parent, step, token, **kwargs).run()  # type: ignore[arg-type]
