"""tokenprobe: see a language model's token-by-token choices.

Public API: `generate`, `score`, `load` (`load_all` for a file with several traces), and
the `Trace` data model. Everything else is reached through submodules (backends, formats,
views, metrics).

The names are imported on first use (`__getattr__`), so importing the package imports
nothing else: the command line, which imports it first, installs its Ctrl-C handling
before anything slow is loaded (cli/interrupt.py).
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not typing's: importing typing would slow the first import
if TYPE_CHECKING:
    from typing import Any

    from tokenprobe.api import generate, load, load_all, score
    from tokenprobe.errors import FormatError, InputError, ModelError, TokenprobeError
    from tokenprobe.trace import Candidate, Request, Step, Trace

__version__ = "0.1.0"

_WHERE = {
    "generate": "tokenprobe.api", "load": "tokenprobe.api", "load_all": "tokenprobe.api",
    "score": "tokenprobe.api",
    "FormatError": "tokenprobe.errors", "InputError": "tokenprobe.errors",
    "ModelError": "tokenprobe.errors", "TokenprobeError": "tokenprobe.errors",
    "Candidate": "tokenprobe.trace", "Request": "tokenprobe.trace", "Step": "tokenprobe.trace",
    "Trace": "tokenprobe.trace",
}

__all__ = [
    "Candidate",
    "FormatError",
    "InputError",
    "ModelError",
    "Request",
    "Step",
    "TokenprobeError",
    "Trace",
    "__version__",
    "generate",
    "load",
    "load_all",
    "score",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'tokenprobe' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
