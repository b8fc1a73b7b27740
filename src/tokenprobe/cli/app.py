"""The command line's app and what its commands share: the typer app, the consoles, the
shared options and the helpers that load a backend, emit a trace and fail in one line.

Stdout carries only the result (the coloured text and summary, or with --json exactly one
trace document); progress, notes and errors go to stderr. Exit codes: 0 success; 2 bad input
or a file/model problem (one line on stderr, no traceback); 3 a generation that broke
part-way (the partial trace is still written to -o); 130 interrupted by Ctrl-C (likewise),
handled at once at any moment (interrupt.py: models load and generate on a worker thread
while the main thread waits).

It leaves out the commands (one module per group, registered by cli/__init__.py) and all
computation: each command calls tokenprobe's API and a view.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console

from tokenprobe.backends import Backend, BackendOptions, backend_class, check_base_url, get_backend
from tokenprobe.cli import interrupt as cli_interrupt
from tokenprobe.cli.interrupt import in_background
from tokenprobe.errors import InputError
from tokenprobe.trace import Trace
from tokenprobe.views.terminal import print_trace

if TYPE_CHECKING:
    from tokenprobe.store import Store

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="See a language model's token-by-token choices: probabilities, alternatives, "
    "entropy and confidence.",
)

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="omitted: the embedded default; PATH.gguf; "
                 "openai:NAME (with --base-url); llamacpp:URL; ollama:NAME"),
]
BaseUrlOpt = Annotated[
    str | None, typer.Option("--base-url", help="server URL (default: OPENAI_BASE_URL)")
]
ExtraBodyOpt = Annotated[
    str | None, typer.Option("--extra-body", help="JSON object of extra request fields")
]
KindOpt = Annotated[
    str | None, typer.Option("--logprobs-kind", help="what a server's numbers are: raw, "
                             "processed, logits or unknown (vLLM: its --logprobs-mode); "
                             "default: raw unless they prove to be logits")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print exactly one trace JSON document")]
OutOpt = Annotated[Path | None, typer.Option("--output", "-o", help="write the trace JSON here")]
HtmlOpt = Annotated[Path | None, typer.Option("--html", help="write the interactive viewer here")]
StepsOpt = Annotated[bool, typer.Option("--steps", help="show every step's candidates")]
DistOpt = Annotated[
    str, typer.Option("--dist", help="step view: 'sampled' (what the token was drawn from) "
                      "or 'raw' (T = 1)")
]
AltOpt = Annotated[
    int, typer.Option("--alternatives", "-n", help="alternatives recorded per token (0-1000)")
]


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def interrupted(message: str = "interrupted") -> NoReturn:
    cli_interrupt.said = True
    err.print(message, markup=False, highlight=False)
    raise typer.Exit(130)


def base_model_note(flag: str) -> None:
    err.print("note: the embedded model is a base model: it continues text well but chats "
              f"poorly; leave out {flag} to see it at its best", style="yellow")


def backend_options(base_url: str | None, extra_body: str | None,
             logprobs_kind: str | None = None) -> BackendOptions:
    body = None
    if extra_body:
        try:
            body = json.loads(extra_body)
        except json.JSONDecodeError as e:
            raise InputError(f"--extra-body is not valid JSON ({e.msg})") from None
        if not isinstance(body, dict):
            raise InputError("--extra-body must be a JSON object")
    if logprobs_kind is not None and logprobs_kind not in ("raw", "processed", "logits",
                                                           "unknown"):
        raise InputError("--logprobs-kind must be raw, processed, logits or unknown")
    api_key = os.environ.get("OPENAI_API_KEY")
    return BackendOptions(base_url=base_url, api_key=api_key, extra_body=body,
                          logprobs_kind=logprobs_kind)


def load_backend(model: str | None, options: BackendOptions) -> Backend:
    """The backend, loaded on a worker thread: Ctrl-C during the load is handled at once."""
    check_base_url(model, options.base_url)
    if backend_class(model).local:
        with err.status("loading the model…", spinner="dots"):
            return in_background(lambda: get_backend(model, options), "tokenprobe-load")
    return in_background(lambda: get_backend(model, options), "tokenprobe-load")


def emit(trace: Trace, as_json: bool, output: Path | None, html: Path | None,
          steps: bool = False, dist: str = "sampled", show: bool = True) -> None:
    if output is not None:
        trace.save(output)
        err.print(f"wrote {output}", style="dim")
    if html is not None:
        from tokenprobe.views.html import write_html

        write_html([trace], html)
        err.print(f"wrote {html}", style="dim")
    if as_json:
        sys.stdout.write(trace.to_json() + "\n")
        sys.stdout.flush()
    elif show:
        print_trace(out, trace, steps=steps, dist=dist)


NoSaveOpt = Annotated[bool, typer.Option("--no-save", help="do not keep it in the history")]


def open_store_unless(no_save: bool) -> Store | None:
    """The history store, opened before any work so that a bad store fails first."""
    if no_save:
        return None
    from tokenprobe.store import Store

    return Store()


def save_record(trace: Trace, store: Store | None = None) -> None:
    from tokenprobe.store import Store

    (store or Store()).save_trace(trace)
    err.print(f"saved as {trace.id[:8]} (tokenprobe show {trace.id[:8]})", style="dim")


AttentionOpt = Annotated[bool, typer.Option(
    "--attention", help="record each step's attention over the context, per layer and head "
    "(hf: and own models)")]
LensOpt = Annotated[bool, typer.Option(
    "--lens", help="record the logit lens: each layer's top tokens (hf: and own models)")]


def check_dist(dist: str) -> None:
    if dist not in ("sampled", "raw"):
        raise InputError(f"--dist must be 'sampled' or 'raw' (got {dist!r})")
