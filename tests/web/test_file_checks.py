"""A model file named in a request can never stall the server: a FIFO, a pipe, a device or
a file system that does not answer is refused in one line, and the check runs in a thread
of its own with a time limit, never on the event loop or under the lock the loop takes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.web.asgi import AsgiClient
from tests.web.serve import serve

from tokenprobe.errors import ModelError, TokenprobeError
from tokenprobe.web import filecheck
from tokenprobe.web.security import Guard


def _unblock(fifo: Path) -> None:
    """Give a reader stuck on the FIFO its writer (and end of file), if one waits."""
    with contextlib.suppress(OSError):
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # fails when no reader waits
        os.close(fd)


def test_a_fifo_as_a_model_is_refused_and_the_server_keeps_answering(tmp_path: Path) -> None:
    fifo = tmp_path / "model.gguf"
    os.mkfifo(fifo)
    with serve(tmp_path) as s:
        got: dict[str, Any] = {}
        adder = threading.Thread(target=lambda: got.update(
            add=s.call("POST", "/api/models", {"spec": str(fifo)})), daemon=True)
        adder.start()
        try:
            adder.join(timeout=30)
            # It was answered (it used to wait for a writer, holding the models' lock, and
            # the next request that listed the models froze the event loop with it).
            assert not adder.is_alive(), "POST /api/models is still waiting on the FIFO"
            status, body = got["add"]
            assert status == 422
            assert body["detail"] == (f"{fifo} is a FIFO (named pipe), not a GGUF file: give "
                                      "the path of a regular .gguf file")
            assert s.call("GET", "/api/health")[0] == 200
            status, listed = s.call("GET", "/api/models")
            assert status == 200 and [m["id"] for m in listed["models"]] == ["embedded"]
        finally:
            _unblock(fifo)
            adder.join(timeout=30)


def test_a_pipe_or_a_device_is_refused_before_it_is_read() -> None:
    read, write = os.pipe()
    try:
        # /dev/stdin while stdin is a pipe: the same file as this.
        with pytest.raises(TokenprobeError, match=r"is a FIFO \(named pipe\), not a GGUF"):
            filecheck.check_model_file(Path(f"/proc/self/fd/{read}"), timeout=10)
    finally:
        os.close(read)
        os.close(write)
    with pytest.raises(TokenprobeError, match=r"^/dev/null is a device, not a GGUF file"):
        filecheck.check_model_file(Path("/dev/null"), timeout=10)


def test_the_file_checks_own_messages(tmp_path: Path) -> None:
    cases = {tmp_path / "none.gguf": "no such model file: {}",
             tmp_path: "{} is a directory, not a GGUF file",
             tmp_path / "text.gguf": "{} is not a GGUF file"}
    (tmp_path / "text.gguf").write_text("not a model")
    for path, message in cases.items():
        with pytest.raises(TokenprobeError) as e:
            filecheck.check_model_file(path, timeout=10)
        assert str(e.value) == message.format(path)
    good = tmp_path / "m.gguf"
    good.write_bytes(b"GGUF" + bytes(16))
    filecheck.check_model_file(good, timeout=10)


@pytest.fixture
def hung_file_system(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Every model file check hangs (as on a mount that stopped answering) until released."""
    release = threading.Event()

    def hang(path: Path) -> None:
        release.wait(60)
        raise ModelError("released")

    monkeypatch.setattr(filecheck, "read_magic", hang)
    monkeypatch.setattr(filecheck, "FILE_CHECK_TIMEOUT", 1.0)
    yield release.set
    release.set()


async def test_a_hung_check_times_out_while_the_server_answers(
        make_app: Callable[..., Guard], hung_file_system: Callable[[], None]) -> None:
    client = AsgiClient(make_app())
    t0 = time.monotonic()
    adding = asyncio.create_task(client.post("/api/models", {"spec": "/mnt/gone/m.gguf"}))
    await asyncio.sleep(0.1)
    # Meanwhile everything else answers, the models' list too (its lock is free).
    for path in ("/api/health", "/api/models", "/"):
        r = await asyncio.wait_for(client.get(path), 10)
        assert r.status == 200, path
    assert not adding.done()
    r = await asyncio.wait_for(adding, 30)
    assert r.status == 422
    assert r.detail == ("checking /mnt/gone/m.gguf took more than 1 s (a slow or hung file "
                        "system?); try again later")
    assert time.monotonic() - t0 < 30
    # Hung checks each keep a thread: a few at most, then new ones are refused at once.
    for _ in range(filecheck.MAX_PENDING - 1):
        assert (await client.post("/api/models", {"spec": "/mnt/gone/m.gguf"})).status == 422
    r = await client.post("/api/models", {"spec": "/mnt/gone/other.gguf"})
    assert r.status == 422 and r.detail.startswith("too many model files are still being "
                                                   "checked")
    hung_file_system()
    for _ in range(100):  # the released threads give their places back
        if filecheck._pending.acquire(blocking=False):
            filecheck._pending.release()
            break
        await asyncio.sleep(0.05)
    r = await client.post("/api/models", {"spec": "/mnt/gone/m.gguf"})
    assert r.status == 422 and r.detail == "released"
