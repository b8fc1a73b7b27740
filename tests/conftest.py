"""Shared fixtures: the embedded model (loaded once per test session) and a CLI runner."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from tests.helpers import CliResult, run_cli

from tokenprobe.backends.llama import LlamaBackend


@pytest.fixture(scope="session")
def cli() -> Callable[..., CliResult]:
    return run_cli


@pytest.fixture(scope="session", autouse=True)
def _close_backends() -> Iterator[None]:
    """Free loaded models before the interpreter shuts down: llama-cpp-python's own
    finaliser, run at shutdown, finds its C bindings already gone and prints a traceback."""
    yield
    from tokenprobe.backends import clear_cache

    clear_cache()


@pytest.fixture(scope="session")
def llama() -> LlamaBackend:
    """The embedded model's backend, shared by every test in the session."""
    from tokenprobe.backends import get_backend

    backend = get_backend(None)
    assert isinstance(backend, LlamaBackend)
    return backend
