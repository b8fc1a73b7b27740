"""tokenprobe: see a language model's token-by-token choices.

Public API: `generate`, `score`, `load` (`load_all` for a file with several traces), and
the `Trace` data model. Everything else is reached through submodules (backends, formats,
views, metrics).
"""

from __future__ import annotations

from tokenprobe.api import generate, load, load_all, score
from tokenprobe.errors import FormatError, InputError, ModelError, TokenprobeError
from tokenprobe.trace import Candidate, Request, Step, Trace

__version__ = "0.1.0"

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
