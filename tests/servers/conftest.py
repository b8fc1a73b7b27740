"""The real OpenAI-compatible peer: llama-cpp-python's own server on the embedded model.

Started once per test session on a free 127.0.0.1 port and stopped at the end. It runs with
the local backend's batches (`--n_batch 64 --n_ubatch 64`: a prompt in chunks of 64, then
each token alone) so that its logits come from the same kernels as the local backend's
(llama.cpp's batched and single-token kernels differ by up to a few tenths of a nat), and
with Gemma's chat format, which the GGUF file does not carry.

A real vLLM (its CPU build, installed by scripts/build-vllm) is started on demand, one
--logprobs-mode at a time (vllm_server.py); the tests that need it run last, grouped by mode.

"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from tests.serverproc import free_port, running

from tokenprobe.backends.llama import embedded_model_path


@pytest.fixture(scope="session")
def llama_server() -> Iterator[str]:
    """The base URL (…/v1) of a running llama_cpp.server."""
    port = free_port()
    base = f"http://127.0.0.1:{port}/v1"
    with running([sys.executable, "-m", "llama_cpp.server", "--model",
                  str(embedded_model_path()), "--host", "127.0.0.1", "--port", str(port),
                  "--logits_all", "true", "--chat_format", "gemma", "--n_batch", "64",
                  "--n_ubatch", "64", "--n_ctx", "2048",
                  # Concurrent requests wait their turn instead of stopping the one running.
                  "--interrupt_requests", "false"],
                 f"{base}/models", "llama_cpp.server", f"llama-server-{port}.log", poll=0.3):
        yield base


# --- vLLM ------------------------------------------------------------------------------
# One real vLLM at a time (tests/servers/vllm_server.py), started for the --logprobs-mode a
# test asks for. The tests that need one run last, grouped by mode, so that a session starts
# at most one server per mode.

VLLM_FIXTURES = {"vllm_raw": "raw_logprobs", "vllm_processed": "processed_logprobs",
                 "vllm_raw_logits": "raw_logits", "vllm_processed_logits": "processed_logits"}


def _vllm_mode(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "vllm_mode" in callspec.params:
        return str(callspec.params["vllm_mode"])
    for name, mode in VLLM_FIXTURES.items():
        if name in getattr(item, "fixturenames", ()):
            return mode
    return None


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    from tests.servers.vllm_server import MODES

    keyed = [(k, _vllm_mode(it)) for k, it in enumerate(items)]
    if not any(m for _, m in keyed):
        return
    others = [items[k] for k, m in keyed if m is None]
    vllm = sorted(((MODES.index(m), k) for k, m in keyed if m is not None))
    items[:] = others + [items[k] for _, k in vllm]


@pytest.fixture(scope="session")
def vllm_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from tests.servers.vllm_server import VllmPool

    pool = VllmPool(tmp_path_factory.mktemp("vllm"))
    try:
        yield pool
    finally:
        pool.close()


def _vllm(pool: object, mode: str) -> str:
    from tests.servers.vllm_server import VllmError, VllmPool

    assert isinstance(pool, VllmPool)
    try:
        return pool.get(mode)
    except VllmError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture
def vllm_raw(vllm_pool: object) -> str:
    """The base URL of a vLLM run with --logprobs-mode raw_logprobs (its default)."""
    return _vllm(vllm_pool, "raw_logprobs")


@pytest.fixture
def vllm_processed(vllm_pool: object) -> str:
    return _vllm(vllm_pool, "processed_logprobs")


@pytest.fixture
def vllm_raw_logits(vllm_pool: object) -> str:
    return _vllm(vllm_pool, "raw_logits")


@pytest.fixture
def vllm_processed_logits(vllm_pool: object) -> str:
    return _vllm(vllm_pool, "processed_logits")


@pytest.fixture
def vllm_any(vllm_pool: object, vllm_mode: str) -> str:
    """The server for the test's `vllm_mode` parameter."""
    return _vllm(vllm_pool, vllm_mode)
