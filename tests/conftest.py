"""Shared fixtures: the embedded model (loaded once per test session) and a CLI runner."""

from __future__ import annotations

import pytest
from tests.helpers import run_cli


@pytest.fixture(scope="session")
def cli():  # type: ignore[no-untyped-def]
    return run_cli


@pytest.fixture(scope="session")
def llama():  # type: ignore[no-untyped-def]
    """The embedded model's backend, shared by every test in the session."""
    from tokenprobe.backends import get_backend

    return get_backend(None)
