"""Shared fixtures: the embedded model (loaded once per test session), the scripted model
(tests/scripted_model.py: for the tests of the command line, operations, views and web app
that do not check an engine's numbers) and a CLI runner."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from tests.helpers import CliResult, run_cli
from tests.scripted_model import SPEC

from tokenprobe.backends.llama import LlamaBackend
from tokenprobe.own_model import OwnModel


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


@pytest.fixture(scope="session")
def scripted() -> str:
    """The scripted model's spec (`own:/abs/tests/scripted_model.py:model`), for `-m` and
    `model=`: it loads in milliseconds, in this process or a fresh one."""
    return SPEC


@pytest.fixture(scope="session")
def scripted_model(scripted: str) -> OwnModel:
    """The scripted model as the spec loads it (the one every `model=SCRIPTED` call in this
    process shares)."""
    from tokenprobe.backends import get_backend

    backend = get_backend(scripted)
    assert isinstance(backend, OwnModel)
    return backend
