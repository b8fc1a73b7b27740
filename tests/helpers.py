"""Helpers shared by tests: running the command line in a fresh process, and a coroutine
from synchronous code whatever event loop a browser test left running."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

# Every CLI run in the tests keeps its history here, never in the user's data directory.
TEST_HOME = tempfile.mkdtemp(prefix="tokenprobe-test-home-")
T = TypeVar("T")


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(args: Sequence[str], timeout: float = 300, env: dict[str, str] | None = None,
            input: str | None = None) -> CliResult:
    """Run `python -m tokenprobe ARGS` in a fresh process, as a user would."""
    full_env = {**os.environ, "COLUMNS": "100", "TOKENPROBE_HOME": TEST_HOME, **(env or {})}
    full_env.pop("TOKENPROBE_DEBUG", None)
    p = subprocess.run(
        [sys.executable, "-m", "tokenprobe", *args],
        capture_output=True, text=True, timeout=timeout, env=full_env,
        input=input if input is not None else "",
    )
    return CliResult(p.returncode, p.stdout, p.stderr)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, also after a browser test: Playwright's synchronous API leaves an event
    loop running in the main thread, where asyncio.run refuses to start; the coroutine then
    runs on a loop in a thread of its own."""
    import asyncio
    import threading

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as e:
            box["error"] = e

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def sigint_default() -> None:
    """preexec_fn for a child the test will interrupt: Ctrl-C's default disposition, since a
    test run started in the background by a shell that has no job control ignores SIGINT,
    and the children would inherit that."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
