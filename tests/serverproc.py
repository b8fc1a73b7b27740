"""A real server process for the tests: started, waited for until its readiness URL
answers 200, and stopped at the end, with its output in a log file named in every error."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(proc: subprocess.Popen[bytes], ready_url: str, timeout: float, poll: float,
               probe_timeout: float = 2) -> str | None:
    """None once `ready_url` answers 200; else why not: `proc` exited, or `timeout`
    seconds passed."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            return f"exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(ready_url, timeout=probe_timeout) as r:
                if r.status == 200:
                    return None
        except OSError:
            pass  # not listening yet, or 503 while the model loads
        if time.monotonic() > deadline:
            return f"did not start within {timeout:g} s"
        time.sleep(poll)


@contextlib.contextmanager
def running(command: Sequence[str], ready_url: str, name: str, log_name: str,
            timeout: float = 120, poll: float = 0.2) -> Iterator[None]:
    """`command` running until the block ends; ready once `ready_url` answers 200."""
    log_path = os.path.join(os.environ.get("TMPDIR", "/tmp"), log_name)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(list(command), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        try:
            why = wait_ready(proc, ready_url, timeout, poll)
            if why is not None:
                raise RuntimeError(f"{name} {why}; see {log_path}")
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
