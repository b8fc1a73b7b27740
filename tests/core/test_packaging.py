"""The package as installed: every subpackage is a real package, and its data files ship."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "src" / "tokenprobe"


def test_every_python_directory_is_a_package() -> None:
    # setuptools' find_packages skips directories without __init__.py: their modules would
    # be missing from a non-editable install even though the tests (editable) pass.
    for d in PKG.rglob("*"):
        if d.is_dir() and d.name != "__pycache__" and any(d.glob("*.py")):
            assert (d / "__init__.py").exists(), f"{d.relative_to(ROOT)} has no __init__.py"


@pytest.mark.slow
def test_wheel_contains_modules_and_static_files(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("tokenprobe-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for src in PKG.rglob("*"):
        if src.is_file() and "__pycache__" not in src.parts and src.suffix in (
                ".py", ".js", ".css", ".html"):
            rel = "tokenprobe/" + str(src.relative_to(PKG))
            assert rel in names, f"{rel} is not in the wheel"
