"""llama.cpp's own llama-server with a chat template that opens a thinking block, so that
even the embedded Gemma 3 270M answers in two parts: `--jinja --chat-template-file
think.jinja` (tests/fixtures/reasoning) and `--reasoning-format deepseek`, which puts the
thinking in `reasoning_content`. The binary is the one tests/backends uses (built by
scripts/build-llama-server); without it the test is skipped with the command that builds
it, except in CI, where its absence is a failure."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.backends.conftest import server_binary
from tests.reasoning.helpers import FIXTURES
from tests.serverproc import running
from tests.servers.conftest import free_port

from tokenprobe.backends.llama import embedded_model_path


@pytest.fixture(scope="session")
def thinking_server() -> Iterator[str]:
    """The root URL of a llama-server whose chat answers think first."""
    binary = server_binary()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running([str(binary), "-m", str(embedded_model_path()), "--host", "127.0.0.1",
                  "--port", str(port), "-c", "2048", "-np", "1", "--no-webui", "-t", "2",
                  "--jinja", "--chat-template-file", str(FIXTURES / "think.jinja"),
                  "--reasoning-format", "deepseek"],
                 f"{base}/health", "llama-server", f"llama-thinking-server-{port}.log"):
        yield base
