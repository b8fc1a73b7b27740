"""Ctrl-C on the command line, handled within a fraction of a second at any moment.

Python runs a signal handler only in the main thread, between two bytecodes: while the main
thread is inside a C call (llama.cpp loading a model, or evaluating a long prompt) Ctrl-C
waits until the call returns, and a KeyboardInterrupt raised inside one of
llama-cpp-python's C callbacks (its log callback, during a load) is swallowed. So the
command line never makes those calls on the main thread: `in_background` and
`BackgroundSteps` run them on a worker thread while the main thread waits in short slices,
and on Ctrl-C the main thread stops waiting at once, keeps what was made, and `leave` ends
the process without waiting for a worker still inside C (exit code 130). While the command
line's own modules are imported there is nothing to keep: `ImportGuard` ends the process at
once with 130 and one line, instead of a traceback.

llama.cpp mutes file descriptor 2 while it loads a model; `keep_stderr` gives the CLI's
console its own copy of stderr first, so progress and "interrupted" stay visible.

It leaves out what the commands do with a partial result (run.py, ops.py).
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading

# Only what this needs before the guard is installed is imported at run time (no typing).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import FrameType
    from typing import Any, NoReturn, TypeVar

    from rich.console import Console

    from tokenprobe.backends.base import TraceStream
    from tokenprobe.trace import Step, Trace

    T = TypeVar("T")

INTERRUPTED = 130
SLICE = 0.05  # seconds the main thread waits at a time: the longest Ctrl-C can wait
said = False  # whether the command has said it was interrupted (else main() says it)
_workers: set[threading.Thread] = set()  # started and not yet seen to end


class ImportGuard:
    """Ctrl-C ends the process at once (130, one line) until `release()`; installed only
    by the main thread over Python's default handler, so an importer that set its own
    (a test runner, a notebook) keeps it."""

    def __init__(self) -> None:
        self._previous: Any = None
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, _exit_at_once)

    def release(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


def _exit_at_once(signum: int, frame: FrameType | None) -> None:
    try:
        os.write(2, b"interrupted\n")
    finally:
        os._exit(INTERRUPTED)


# cli/__init__.py imports this module before anything else and releases the guard once it has
# imported its commands: until then Ctrl-C ends the process at once.
IMPORT_GUARD = ImportGuard()


def keep_stderr(console: Console) -> None:
    """Point `console` at a duplicate of file descriptor 2, which llama.cpp's muting of
    descriptor 2 during a model load leaves alone."""
    try:
        fd = os.dup(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        return  # no real stderr (an embedding program): nothing is muted either
    console.file = os.fdopen(fd, "w", encoding=sys.stderr.encoding or "utf-8",
                             errors="backslashreplace", buffering=1)


def _start(target: Callable[[], None], name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    _workers.add(thread)
    thread.start()
    return thread


def _wait(thread: threading.Thread) -> None:
    while thread.is_alive():
        thread.join(SLICE)
    _workers.discard(thread)


def in_background(fn: Callable[[], T], name: str = "tokenprobe-work") -> T:
    """`fn()` run on a worker thread; its result, or its exception raised here. Ctrl-C
    raises KeyboardInterrupt here within `SLICE` seconds, whatever the worker is doing."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # handed to the main thread, which decides
            box["error"] = e

    _wait(_start(run, name))
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


class BackgroundSteps:
    """A TraceStream's steps made on a worker thread and handed to the main thread as they
    come; its errors (GenerationError, ServerError, …) are raised by the iteration here."""

    def __init__(self, stream: TraceStream) -> None:
        self.stream = stream
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        try:
            for step in self.stream:
                self._queue.put(("step", step))
                if self._stop.is_set():
                    break  # closes the stream: the backend stops between two tokens
        except BaseException as e:
            self._queue.put(("error", e))
            return
        self._queue.put(("done", None))

    def __iter__(self) -> Iterator[Step]:
        self._thread = _start(self._run, "tokenprobe-generate")
        while True:
            try:
                kind, value = self._queue.get(timeout=SLICE)
            except queue.Empty:
                continue
            if kind == "step":
                yield value
            elif kind == "error":
                _wait(self._thread)
                raise value
            else:
                _wait(self._thread)
                return

    def interrupt(self, reason: str = "interrupted by the user", grace: float = 0.2) -> Trace:
        """Stop, and the trace of every step made so far, marked incomplete. The worker is
        given `grace` seconds to stop between two tokens; one still inside a C call is left
        behind (`leave` ends the process without it) and its steps so far are copied."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(grace)
        if thread is None or not thread.is_alive():
            if thread is not None:
                _workers.discard(thread)
            return self.stream.interrupt(reason)
        import dataclasses  # here: it imports `inspect`, slow to load before the guard

        partial = dataclasses.replace(self.stream.trace, steps=list(self.stream.trace.steps),
                                      complete=False, error=reason, finish_reason=None)
        partial.rebuild_text()
        return partial


def busy() -> bool:
    """Whether a worker thread is still running (inside a model load or a C call)."""
    return any(t.is_alive() for t in _workers)


def leave(code: int, *files: Any) -> NoReturn:
    """Exit with `code`: at once if a worker is still running (Python would otherwise wait
    for it, or free the model under it at shutdown), after flushing what was written."""
    if busy():
        for f in (sys.stdout, sys.stderr, *files):
            try:  # noqa: SIM105 (contextlib is not loaded before the guard)
                f.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    sys.exit(code)
