"""Shared fixtures: the embedded model (loaded once per test session) and a CLI runner."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.helpers import CliResult, run_cli

from tokenprobe.backends.llama import LlamaBackend


@pytest.fixture(scope="session")
def cli() -> Callable[..., CliResult]:
    return run_cli


@pytest.fixture(scope="session")
def llama() -> LlamaBackend:
    """The embedded model's backend, shared by every test in the session."""
    from tokenprobe.backends import get_backend

    backend = get_backend(None)
    assert isinstance(backend, LlamaBackend)
    return backend
