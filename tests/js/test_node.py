"""The viewer's DOM-free files checked in node against the library (tests/js/*.test.js), run
from the Python suite, and the shared cases checked to be what the library gives today.

Node is required, not optional: without it these fail, saying how to get it, so the page's
numbers are never left untested because a tool is missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.js.make_cases import CASES, build

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


def test_the_shared_cases_are_the_librarys_today() -> None:
    assert CASES.read_text("utf-8") == build(), (
        "tests/js/cases.json is stale: run python -m tests.js.make_cases")


def test_the_viewer_parts_agree_with_the_library_in_node() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: install nodejs (apt-get install nodejs); "
                    "the viewer's numbers are tested with it")
    files = sorted(str(p.relative_to(ROOT)) for p in HERE.glob("*.test.js"))
    assert files, "no node tests in tests/js"
    run = subprocess.run([node, "--test", *files], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    out = run.stdout + run.stderr
    passed = re.search(r"^# pass (\d+)$", out, re.M)
    assert run.returncode == 0 and re.search(r"^# fail 0$", out, re.M), out[-4000:]
    assert passed and int(passed.group(1)) >= 20, out[-4000:]
