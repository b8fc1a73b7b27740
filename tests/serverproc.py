"""A real server process for the tests: started, waited for until its readiness URL
answers 200, and stopped at the end, with its output in a log file named in every error."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence


@contextlib.contextmanager
def running(command: Sequence[str], ready_url: str, name: str, log_name: str,
            timeout: float = 120, poll: float = 0.2) -> Iterator[None]:
    """`command` running until the block ends; ready once `ready_url` answers 200."""
    log_path = os.path.join(os.environ.get("TMPDIR", "/tmp"), log_name)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(list(command), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}; see {log_path}")
                try:
                    with urllib.request.urlopen(ready_url, timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass  # not listening yet, or 503 while the model loads
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start within {timeout:g} s; see "
                                       f"{log_path}")
                time.sleep(poll)
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
