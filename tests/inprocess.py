"""Running the command line inside the test process (typer's CliRunner): the embedded model
stays loaded between runs, so a test pays for loading it once. Subprocesses (helpers.run_cli)
remain for what needs a process of its own: signals, startup, the real stderr."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from tests.helpers import CliResult
from typer.testing import CliRunner


def invoke(args: Sequence[str], home: Path, monkeypatch: pytest.MonkeyPatch,
           width: int = 100) -> CliResult:
    """`tokenprobe ARGS` in this process, its history in `home`, its console `width` wide."""
    from tokenprobe import cli

    monkeypatch.setenv("TOKENPROBE_HOME", str(home))
    monkeypatch.delenv("TOKENPROBE_DEBUG", raising=False)
    monkeypatch.setattr(cli.out, "_width", width)
    monkeypatch.setattr(cli.err, "_width", width)
    r = CliRunner().invoke(cli.app, list(args), catch_exceptions=False)
    return CliResult(r.exit_code, r.stdout, r.stderr)
