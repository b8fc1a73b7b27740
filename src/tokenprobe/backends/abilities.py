"""A backend's optional abilities, as runtime-checkable protocols (`isinstance(b, X)`).

The flags on `Backend` say what a backend does; these say how the core reaches the parts
that only some backends have: a server's asynchronous requests (batch), whole answers read
in worker processes, a branch by text, a token's spelling. A backend from the entry point
gets the same treatment as a built-in one by having the methods.

It leaves out the methods every backend has (base.py).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol, runtime_checkable

from tokenprobe.trace import Request, Step, Trace


@runtime_checkable
class AsyncRequests(Protocol):
    """A server backend whose requests run on one event loop (batch)."""

    def async_client(self) -> Any: ...

    async def agenerate(self, request: Request, client: Any,
                        stream: bool | None = None) -> Trace: ...

    async def afetch(self, request: Request, client: Any) -> str: ...


@runtime_checkable
class AsyncScoring(Protocol):
    """Scoring a text as one request whose body is read apart (batch)."""

    async def afetch_score(self, text: str, alternatives: int, client: Any) -> str: ...

    def read_score(self, text: str, alternatives: int, body: str) -> Trace: ...


@runtime_checkable
class WorkerReading(Protocol):
    """Whole answers read in worker processes: `worker_spec()` rebuilds a reader there,
    which has `read_whole` and `read_score`."""

    def worker_spec(self) -> tuple[str, dict[str, Any]]: ...


@runtime_checkable
class TextBranching(Protocol):
    """A branch by text (`branches == "text"`): the server is sent the prompt and the
    kept text, then the token in place (`forced`)."""

    def continue_text_steps(self, request: Request, trace: Trace, kept: str,
                            forced: str) -> Generator[Step, None, str | None]: ...


@runtime_checkable
class Spelling(Protocol):
    """A token id's label and bytes (a branch by id names its token with it)."""

    def piece(self, token_id: int) -> tuple[str, bytes]: ...
