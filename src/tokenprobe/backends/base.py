"""The small interface every backend implements, and the stream that turns steps into a trace.

A backend knows one engine or server. It validates a request against what it can do, yields
`Step`s as the model makes them, and returns the finish reason. `TraceStream` owns the trace:
it appends steps, keeps `text` and offsets exact, and records how the generation ended
(complete, stopped by the user, or broken by an error) so that no received token is lost.

A reasoning model's thinking: a backend that reads it apart (the server's own fields) keeps
its tokens in `trace.reasoning` and yields `reasoning.ThinkingSteps` with them as they come;
for a server that leaves the thinking inline in the text (`Backend.inline_thinking`), the
stream splits the tokens at the think tags as they come (`reasoning.InlineSplitter`, the
importers' rule). Iterating a stream gives the answer's steps; `events()` gives the
thinking's batches between them too, for views that show the thinking live.

The contract: everything the rest of tokenprobe reads about a backend is declared on
`Backend` (construction from a `--model` value, the flags `local`, `can_score`,
`can_score_answer`, `can_capture` and `branches`, and the classmethods that say how a
spec is checked and shown and how a trace's model is reached again); optional abilities
are the runtime-checkable protocols of abilities.py. Code outside backends/ never names a
backend: a backend that arrives through the entry point behaves like a built-in one.

It leaves out choosing a backend from a model name (backends/__init__.py) and any display.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal

from tokenprobe.backends.urls import check_url, public_url, same_server
from tokenprobe.errors import InputError, ModelError, TokenprobeError
from tokenprobe.reasoning import INLINE_NOTE, InlineSplitter, ThinkingSteps, settle_reasoning
from tokenprobe.textbytes import TextAssembler
from tokenprobe.trace import Request, Step, Trace

MAX_ALTERNATIVES = 1000
Progress = Callable[[int, int], None]
_CLOSED_EARLY = "stopped before the end"


@dataclass
class BackendOptions:
    """Settings that select or reach a model, shared by all backends (unused ones ignored).

    Its repr (which a log line or a traceback may print) leaves out the API key and shows
    the base URL without user:password.
    """

    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    extra_body: dict[str, Any] | None = None
    n_ctx: int | None = None
    n_threads: int | None = None
    timeout: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # What a server's numbers are, as the user declares it: raw, processed, unknown or
    # logits (servers only; None: found from the numbers where they prove it).
    logprobs_kind: str | None = None

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            if not f.repr:
                continue
            value = getattr(self, f.name)
            if f.name == "base_url" and value is not None:
                try:
                    value = public_url(value)
                except ValueError:  # not a URL that parses: nothing of it is shown
                    value = "(not a valid URL)"
            parts.append(f"{f.name}={value!r}")
        key = ", api_key=(set)" if self.api_key else ""
        return f"BackendOptions({', '.join(parts)}{key})"


class GenerationError(TokenprobeError):
    """A generation that broke part-way; `trace` holds every token received before it."""

    def __init__(self, message: str, trace: Trace) -> None:
        super().__init__(message)
        self.trace = trace


class Backend(ABC):
    """One engine or server behind tokenprobe's operations."""

    name: ClassVar[str]  # the trace's `backend` field and the spec's prefix
    model: str  # the trace's `model` field
    logprobs_kind: str = "raw"
    vocab_size: int | None = None  # V, where known: it bounds re-normalisation of top-N lists
    # Runs in this process (no server: a --base-url or a logprobs kind means nothing to it).
    local: ClassVar[bool] = False
    can_score: ClassVar[bool] = False  # `score(text)`: teacher-forced logprobs of a text
    can_score_answer: ClassVar[bool] = False  # `score_continuation`: a fixed answer
    can_capture: ClassVar[bool] = False  # attention and the logit lens (internals.py)
    # How a branch is made: "ids" (forced_ids, continue_steps: a token id in place),
    # "text" (abilities.TextBranching: the text re-sent to a server), "none".
    branches: ClassVar[Literal["ids", "text", "none"]] = "none"
    # The variable holding the key for the user's own server (`own_server`).
    key_variable: ClassVar[str] = "OPENAI_API_KEY"

    @classmethod
    def from_spec(cls, rest: str, options: BackendOptions) -> Backend:
        """The backend for a `--model` value `PREFIX:REST` (REST given), loaded."""
        raise ModelError(f"the {cls.name} backend cannot be made from a --model value")

    @classmethod
    def check_spec(cls, rest: str, options: BackendOptions) -> None:
        """Refuse (InputError, one line) a spec that cannot be kept, before it is kept or
        loaded: its file, its URLs. Cheap: no model is loaded, no server asked."""
        if options.base_url is not None:
            check_url(options.base_url, "the base URL")

    @classmethod
    def server_url(cls, rest: str, options: BackendOptions) -> str | None:
        """Where the spec's requests go, as given (credentials and all); None: local."""
        return None if cls.local else options.base_url

    @classmethod
    def target_url(cls, rest: str, options: BackendOptions) -> str | None:
        """`server_url`, or the URL the backend falls back on when none is given."""
        return cls.server_url(rest, options)

    @classmethod
    def public_spec(cls, rest: str) -> str:
        """REST as it may be shown (a URL in it without user:password)."""
        return rest

    @classmethod
    def label(cls, rest: str) -> str | None:
        """A short name for the model (None: the public spec)."""
        return None

    @classmethod
    def own_server(cls) -> str | None:
        """The server the user's environment sends this backend's requests (and key,
        `key_variable`) to; None where there is none."""
        return None if cls.local else os.environ.get("OPENAI_BASE_URL")

    @classmethod
    def same_server(cls, a: str, b: str) -> bool:
        """Whether two URLs reach the same endpoint of this kind of server."""
        return same_server(a, b)

    @classmethod
    def spec_for_trace(cls, trace: Trace) -> str | None:
        """The `--model` value that reaches the model `trace` came from (None: the
        embedded default)."""
        return f"{trace.backend}:{trace.model}"

    @classmethod
    def options_for_trace(cls, trace: Trace) -> tuple[BackendOptions, str | None]:
        """How to reach the server `trace` came from, and a note when no key goes there.

        The trace's `source.base_url` gets the user's key only when it is the user's own
        server (`own_server`); any other URL gets no key at all, and the note says so."""
        url = trace.source.get("base_url")
        if cls.local or not url:
            return BackendOptions(), None
        url = str(url)
        # What the server's numbers are carries over: a branch of a processed-logprobs or
        # logits trace reads its server's numbers as the same kind (the parent's forced
        # token keeps its recorded value, so the two must agree).
        kind = trace.logprobs_kind if trace.logprobs_kind in ("processed", "logits") else None
        own = cls.own_server()
        if own and cls.same_server(url, own):
            return BackendOptions(base_url=own, api_key=os.environ.get(cls.key_variable),
                                  logprobs_kind=kind), None
        shown = public_url(url)
        note = (f"note: sending no API key to {shown}, the server the trace names (not your "
                f"own); give --base-url to continue on your server with your key")
        # "" (not None): no key, rather than the backend's default from the environment.
        return BackendOptions(base_url=url, api_key="", logprobs_kind=kind), note

    @classmethod
    def made(cls, trace: Trace, rest: str, options: BackendOptions) -> bool:
        """Whether the model this spec reaches is the one `trace` came from."""
        url, base = cls.server_url(rest, options), trace.source.get("base_url")
        shown = public_url(url).rstrip("/") if url else None
        return rest == trace.model and (base is None or shown is None
                                        or shown == str(base).rstrip("/"))

    @classmethod
    def missing(cls, trace: Trace) -> tuple[str | None, str, str | None]:
        """For a trace whose model is not offered: the spec to add, the model in words,
        and the base URL to add it with (shown without credentials)."""
        url = trace.source.get("base_url")
        shown = public_url(str(url)) if url else None
        where = f"{trace.backend} model {trace.model!r}" + (f" at {shown}" if shown else "")
        return f"{trace.backend}:{trace.model}", where, shown

    @abstractmethod
    def generate_steps(self, request: Request, trace: Trace) -> Generator[Step, None, str | None]:
        """Yield the steps of one generation and return its finish reason.

        The backend may fill in trace metadata (model, source, prompt_steps,
        tail_temperatures) before yielding the first step. Raise TokenprobeError for
        anything the user can act on.
        """

    def score(
        self, text: str, alternatives: int = 10, progress: Progress | None = None
    ) -> Trace:
        """Teacher-forced logprobs of `text`; `progress(done, total)` is called as it goes."""
        raise ModelError(f"the {self.name} backend cannot score a given text")

    def score_continuation(self, request: Request, answer: str, alternatives: int = 10) -> Trace:
        """A fixed answer after the request's prompt, teacher-forced (compare, choose)."""
        raise ModelError(f"the {self.name} backend cannot score a fixed answer")

    def forced_ids(self, text: str) -> list[int]:
        """Token ids that spell `text` exactly (what a branch puts in place)."""
        raise ModelError(f"the {self.name} backend cannot branch")

    def continue_steps(
        self, request: Request, trace: Trace, after_prompt: list[int], forced: list[int]
    ) -> Generator[Step, None, str | None]:
        """Steps after the prompt and the tokens `after_prompt`, starting with `forced`."""
        raise ModelError(f"the {self.name} backend cannot branch")

    def source(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        """Free the model or connection (a no-op for most backends)."""

    def inline_thinking(self, request: Request) -> bool:
        """Whether a text that opens with a think tag is split there (the server parses no
        reasoning out of it): the server backends say so where their importer does."""
        return False

    def prepare(self, request: Request) -> None:
        """Checks that need the model (prompt length against the context, templates), run
        before the stream starts so that a bad request fails before any output."""

    def stream(self, request: Request) -> TraceStream:
        validate_request(request)
        self.prepare(request)
        return TraceStream(self, request)


def validate_request(request: Request) -> None:
    """Checks every backend shares; each raises InputError with a one-line message."""
    if request.mode == "chat":
        if not request.messages:
            raise InputError("the prompt is empty")
        if not any((m.get("content") or "").strip() for m in request.messages
                   if m.get("role") == "user"):
            raise InputError("the prompt is empty")
    elif not request.prompt:
        raise InputError("the prompt is empty")
    if request.max_tokens is not None and request.max_tokens <= 0:
        raise InputError(f"--max-tokens must be at least 1 (got {request.max_tokens})")
    if request.temperature is not None and request.temperature < 0:
        raise InputError(f"--temperature must be >= 0 (got {request.temperature:g})")
    if request.top_p is not None and not (0.0 < request.top_p <= 1.0):
        raise InputError(f"--top-p must be in (0, 1] (got {request.top_p:g})")
    if request.top_k is not None and request.top_k < 0:
        raise InputError(f"--top-k must be >= 0 (got {request.top_k})")
    validate_alternatives(request.alternatives)


def validate_alternatives(n: int | None) -> None:
    if n is not None and not (0 <= n <= MAX_ALTERNATIVES):
        raise InputError(f"--alternatives must be between 0 and {MAX_ALTERNATIVES} (got {n})")


class TraceStream:
    """Iterate to receive steps as they are made; `trace` is complete when iteration ends.

    If the consumer stops early (Ctrl-C, a stop button), call `interrupt()`: the trace keeps
    every step received and is marked incomplete. If the backend fails part-way, iteration
    raises GenerationError carrying the partial trace.
    """

    def __init__(
        self,
        backend: Backend,
        request: Request,
        steps: Callable[[Trace], Generator[Step, None, str | None]] | None = None,
    ) -> None:
        self.backend = backend
        self._source = steps or (lambda t: backend.generate_steps(t.request, t))
        self.trace = Trace(
            backend=backend.name,
            model=backend.model,
            request=request,
            logprobs_kind=backend.logprobs_kind,
            source=backend.source(),
            complete=False,
            vocab_size=backend.vocab_size,
        )
        self._assembler = TextAssembler()
        self._gen: Generator[Step | ThinkingSteps, None, str | None] | None = None
        self._inline: InlineSplitter | None = None
        self.done = False

    def __iter__(self) -> Iterator[Step]:
        for item in self.events():
            if isinstance(item, Step):
                yield item

    def events(self) -> Iterator[Step | ThinkingSteps]:
        """The answer's steps as they are made, and the thinking's as `ThinkingSteps`."""
        trace = self.trace
        self._gen = self._source(trace)  # type: ignore[assignment]
        if self.backend.inline_thinking(trace.request):
            self._inline = InlineSplitter()
        assert self._gen is not None
        try:
            while True:
                try:
                    item = next(self._gen)
                except StopIteration as stop:
                    yield from self._answer(self._end_inline())
                    trace.finish_reason = stop.value
                    trace.complete = True
                    self._end(error=None, finish_reason=None)
                    break
                if isinstance(item, ThinkingSteps):
                    yield item
                    continue
                if self._inline is None:  # the usual case: the step is the answer's
                    yield self._add(item)
                else:
                    yield from self._route(item)
        except KeyboardInterrupt:
            self._end(error="interrupted by the user", finish_reason=None)
            raise
        except TokenprobeError as e:
            self._end(error=str(e), finish_reason="error")
            if not trace.steps:
                raise
            raise GenerationError(
                f"{e} (kept the {len(trace.steps)} tokens received before it)", trace
            ) from None
        finally:
            if not self.done:
                self._end(error=_CLOSED_EARLY, finish_reason=None)

    def _route(self, step: Step) -> Iterator[Step | ThinkingSteps]:
        """One step from the backend: the answer's, or split at inline think tags."""
        splitter, trace = self._inline, self.trace
        if splitter is not None and splitter.state == "start" and trace.reasoning is not None:
            splitter = self._inline = None  # the server gave the thinking apart itself
        if splitter is None:
            yield from self._answer([step])
            return
        routed = splitter.add(step)
        if routed.undo:
            trace.reasoning = None
            yield ThinkingSteps([], reset=True)
        if routed.thinking:
            if trace.reasoning is None:
                trace.reasoning = splitter.reasoning()  # its text is settled at the end
            else:
                trace.reasoning.steps += routed.thinking
            yield ThinkingSteps(routed.thinking)
        yield from self._answer(routed.answer)

    def _answer(self, steps: list[Step]) -> Iterator[Step]:
        for step in steps:
            yield self._add(step)

    def _add(self, step: Step) -> Step:
        """An answer's step in the trace, at its offset, the text grown by it."""
        step.offset = self._assembler.add(step.data)
        self.trace.steps.append(step)
        self.trace.text = self._assembler.text
        return step

    def _end_inline(self) -> list[Step]:
        """The inline splitter's last word: the steps it still held (the answer's), and
        the thinking's block settled as the importers settle it."""
        splitter, self._inline = self._inline, None
        if splitter is None:
            return []
        held = splitter.finish().answer
        found = splitter.reasoning()
        if found is not None:
            self.trace.reasoning = found
            old = self.trace.source.get("note")
            self.trace.source["note"] = f"{old}; {INLINE_NOTE}" if old else INLINE_NOTE
        return held

    def _end(self, error: str | None, finish_reason: str | None) -> None:
        if self.done:
            return
        if self._inline is not None:  # ended early: steps held back are kept all the same
            for _ in self._answer(self._end_inline()):
                pass
        if self.trace.reasoning is not None and self.trace.reasoning.source == "think_tags":
            settle_reasoning(self.trace.reasoning, self.trace.steps)
        self.done = True
        self.trace.text = self._assembler.finish()
        if error is not None:
            self.trace.complete = False
            self.trace.error = error
            self.trace.finish_reason = finish_reason
        if self._gen is not None:
            self._gen.close()

    def interrupt(self, reason: str = "interrupted by the user") -> Trace:
        """Stop here, keep what was received, and mark the trace incomplete."""
        if not self.done:
            self._end(error=reason, finish_reason=None)
        elif self.trace.error == _CLOSED_EARLY:
            # The consumer's loop ended first (its iterator was closed): now we know why.
            self.trace.error = reason
        return self.trace

    def run(self) -> Trace:
        """Consume the whole stream and return the trace."""
        for _ in self:
            pass
        return self.trace


def replay_steps(backend: Backend, request: Request, steps: list[Step], finish: str | None,
            failure: TokenprobeError | None) -> Trace:
    """The trace of steps already received (a whole answer read at once, or read in another
    process), made by the same TraceStream as a live run: text, offsets, and the
    partial-trace rules when `failure` is set."""
    def source(trace: Trace) -> Generator[Step, None, str | None]:
        yield from steps
        if failure is not None:
            raise failure
        return finish

    stream = TraceStream(backend, request, steps=source)
    try:
        return stream.run()
    except GenerationError as e:
        return e.trace
    except TokenprobeError:
        stream.trace.complete = False
        stream.trace.error = str(failure)
        stream.trace.finish_reason = "error"
        return stream.trace
