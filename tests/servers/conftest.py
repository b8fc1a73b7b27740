"""The real OpenAI-compatible peer: llama-cpp-python's own server on the embedded model.

Started once per test session on a free 127.0.0.1 port and stopped at the end. It runs with
`--n_ubatch 1` so that its logits come from the same single-token kernels as the local
backend's (llama.cpp's batched kernels differ by up to a few tenths of a nat), and with
Gemma's chat format, which the GGUF file does not carry.

"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tokenprobe.backends.llama import embedded_model_path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def llama_server() -> Iterator[str]:
    """The base URL (…/v1) of a running llama_cpp.server."""
    port = free_port()
    log = open(os.path.join(os.environ.get("TMPDIR", "/tmp"),  # noqa: SIM115 (kept open
                            f"llama-server-{port}.log"), "w")     # for the server's life)
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_model_path()),
         "--host", "127.0.0.1", "--port", str(port), "--logits_all", "true",
         "--chat_format", "gemma", "--n_ubatch", "1", "--n_ctx", "2048",
         # Concurrent requests wait their turn instead of stopping the one running.
         "--interrupt_requests", "false"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}; see "
                                   f"{log.name}")
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("llama_cpp.server did not start within 120 s")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
