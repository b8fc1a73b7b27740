"""tokenprobe's own exception types.

Every error a user can cause (bad input, a bad file, a model that cannot be loaded) is raised
as a `TokenprobeError` whose message is one line that names what was wrong. The CLI prints
that line and exits non-zero; it never shows a traceback for these.
"""

from __future__ import annotations


class TokenprobeError(Exception):
    """An error caused by input or environment, with a one-line message for the user."""

    exit_code = 2


class InputError(TokenprobeError):
    """A request argument is out of range or malformed."""


class FormatError(TokenprobeError):
    """A file or document is not a trace or a supported logprob format."""


class ModelError(TokenprobeError):
    """A model cannot be found, loaded or used for what was asked."""


class SchemaVersionError(FormatError):
    """A trace written by a newer tokenprobe, with a schema this one does not know."""
