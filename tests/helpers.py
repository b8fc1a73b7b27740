"""Helpers shared by tests: running the command line in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

# Every CLI run in the tests keeps its history here, never in the user's data directory.
TEST_HOME = tempfile.mkdtemp(prefix="tokenprobe-test-home-")


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(args: Sequence[str], timeout: float = 300, env: dict[str, str] | None = None,
            input: str | None = None) -> CliResult:
    """Run `python -m tokenprobe ARGS` in a fresh process, as a user would."""
    full_env = {**os.environ, "COLUMNS": "100", "TOKENPROBE_HOME": TEST_HOME, **(env or {})}
    full_env.pop("TOKENPROBE_DEBUG", None)
    p = subprocess.run(
        [sys.executable, "-m", "tokenprobe", *args],
        capture_output=True, text=True, timeout=timeout, env=full_env,
        input=input if input is not None else "",
    )
    return CliResult(p.returncode, p.stdout, p.stderr)
