"""The real llama.cpp server for the native llamacpp backend's tests.

`llama-server`, built from the llama.cpp sources in llama-cpp-python's source package by
scripts/build-llama-server (scripts/test runs it; the binary is kept in .gl/llama-server/),
serves the embedded model on a free 127.0.0.1 port for the whole test session. It runs
with the local backend's batches (`-b 64 -ub 64`: a prompt in chunks of 64, then each
token alone), without prompt caching (a cached prefix changes where its batches start)
and without flash attention (`-fa off`), so that its logits come from the same kernels as
the local backend's and the two can be compared closely; with Gemma's built-in chat
template (`--no-jinja --chat-template gemma`), which the GGUF file does not carry; with one
slot and no web UI.

Without the binary these tests are skipped with the command that builds it, except in CI
(CI=true), where scripts/test builds it and its absence is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.serverproc import running
from tests.servers.conftest import free_port

from tokenprobe.backends.llama import embedded_model_path

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / ".gl" / "llama-server" / "bin" / "llama-server"


def server_binary() -> Path:
    path = Path(os.environ.get("TOKENPROBE_LLAMA_SERVER") or BINARY)
    if not path.is_file():
        message = f"llama-server is not built ({path}); build it with scripts/build-llama-server"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def llamacpp_server() -> Iterator[str]:
    """The root URL of a running llama-server (its native endpoints live there)."""
    binary = server_binary()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running([str(binary), "-m", str(embedded_model_path()), "--host", "127.0.0.1",
                  "--port", str(port), "-c", "2048", "-b", "64", "-ub", "64",
                  "--no-cache-prompt", "-fa", "off", "-np", "1",
                  "--no-webui", "--no-jinja", "--chat-template", "gemma", "-t", "2"],
                 f"{base}/health", "llama-server", f"llama-cpp-server-{port}.log"):
        yield base
