"""The command line: a thin typer layer over the Python API and the views.

`app` and what the commands share live in app.py; each group of commands registers itself
on it from its own module (run, show, ops, batch, calibrate, history, serve, tokens), all
imported here, so that no module imports the package back. `main` is the `tokenprobe`
script and `python -m tokenprobe`.

It leaves out all computation: each command calls tokenprobe's API and a view.
"""

from __future__ import annotations

# First, before anything heavy: from here until the commands below are imported, Ctrl-C
# ends the process at once with 130 and one line (interrupt.IMPORT_GUARD).
from tokenprobe.cli.interrupt import IMPORT_GUARD

# isort: split
import os

# Each group of commands registers itself on `app`, in the order `--help` lists them.
# isort: off
from tokenprobe.cli import run  # noqa: F401
from tokenprobe.cli import batch, calibrate  # noqa: F401
from tokenprobe.cli import show, ops, history  # noqa: F401
from tokenprobe.cli import serve, tokens  # noqa: F401
# isort: on
from tokenprobe.cli import interrupt as cli_interrupt
from tokenprobe.cli.app import app, err, out
from tokenprobe.cli.interrupt import keep_stderr, leave
from tokenprobe.errors import TokenprobeError

__all__ = ["app", "err", "main", "out"]

IMPORT_GUARD.release()  # from here Ctrl-C is a KeyboardInterrupt, which the commands handle


def main() -> None:
    keep_stderr(err)  # llama.cpp mutes descriptor 2 while it loads; our messages stay
    code: int | str | None = 0
    try:
        app()
    except SystemExit as e:
        code = e.code
    except KeyboardInterrupt:
        code = 130
    except TokenprobeError as e:
        err.print(f"error: {e}", markup=False)
        code = e.exit_code
    except Exception as e:  # a bug: one line by default, the traceback on request
        if os.environ.get("TOKENPROBE_DEBUG"):
            raise
        err.print(f"internal error: {type(e).__name__}: {e} (set TOKENPROBE_DEBUG=1 for "
                  "the traceback)", markup=False)
        code = 1
    if isinstance(code, str):
        err.print(code, markup=False)
        code = 1
    if code == 130 and not cli_interrupt.said:  # Ctrl-C between two commands' steps
        err.print("interrupted")
    # At once if a worker thread is still inside a model load or a C call.
    leave(code or 0, err.file)


if __name__ == "__main__":
    main()
