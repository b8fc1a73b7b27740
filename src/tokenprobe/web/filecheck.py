"""Checking a model file named in a request without ever stalling the server.

A GGUF path comes from the command line or from the page ("add a model"), and may name
anything: a FIFO (whose open waits for a writer), /dev/stdin, a device, a file on a hung
network mount. `check_model_file` refuses whatever is not a regular file before reading
a byte, opens the file without waiting (O_NONBLOCK, so that a FIFO swapped in after the
check cannot hold the open), reads its four magic bytes, and does all of it in a thread of
its own with a time limit: the caller gets an answer within `timeout` seconds whatever the
file system does, and a check that never returns holds only its own thread. At most
`MAX_PENDING` checks may be unfinished at once; beyond that new ones are refused.

It leaves out loading the model (the backends, in a job's worker thread).
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path

from tokenprobe.errors import InputError, ModelError

FILE_CHECK_TIMEOUT = 5.0  # seconds a model file check may take
MAX_PENDING = 4  # unfinished checks (a hung mount keeps its thread) before refusing more
_pending = threading.BoundedSemaphore(MAX_PENDING)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _not_regular(path: Path, mode: int) -> ModelError:
    if stat.S_ISDIR(mode):
        return ModelError(f"{path} is a directory, not a GGUF file")
    return ModelError(f"{path} is {_kind(mode)}, not a GGUF file: give the path of a "
                      "regular .gguf file")


def read_magic(path: Path) -> None:
    """The check itself (blocking; call it through `check_model_file`)."""
    try:
        mode = os.stat(path).st_mode  # stat never opens: a FIFO cannot hold it
    except FileNotFoundError:
        raise ModelError(f"no such model file: {path}") from None
    except OSError as e:
        raise ModelError(f"cannot read {path}: {e.strerror or e}") from None
    if not stat.S_ISREG(mode):
        raise _not_regular(path, mode)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as e:
        reason = "it vanished" if e.errno == errno.ENOENT else (e.strerror or str(e))
        raise ModelError(f"cannot read {path}: {reason}") from None
    try:
        mode = os.fstat(fd).st_mode  # what was opened, should the path have changed since
        if not stat.S_ISREG(mode):
            raise _not_regular(path, mode)
        magic = os.read(fd, 4)
    except OSError as e:
        raise ModelError(f"cannot read {path}: {e.strerror or e}") from None
    finally:
        os.close(fd)
    if magic != b"GGUF":
        raise ModelError(f"{path} is not a GGUF file")


def check_model_file(path: Path, timeout: float | None = None) -> None:
    """Raise a one-line ModelError or InputError unless `path` is a readable GGUF file;
    returns or raises within `timeout` seconds (default FILE_CHECK_TIMEOUT)."""
    timeout = FILE_CHECK_TIMEOUT if timeout is None else timeout
    pending = _pending  # the run releases the semaphore it took, whatever is bound later
    if not pending.acquire(blocking=False):
        raise InputError("too many model files are still being checked (a slow or hung "
                         "file system?); try again later")
    done = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            read_magic(path)
        except BaseException as e:  # handed to the caller below
            failure.append(e)
        finally:
            pending.release()
            done.set()

    threading.Thread(target=run, name="tokenprobe-file-check", daemon=True).start()
    if not done.wait(timeout):
        raise InputError(f"checking {path} took more than {timeout:g} s (a slow or hung file "
                         "system?); try again later")
    if failure:
        raise failure[0]
