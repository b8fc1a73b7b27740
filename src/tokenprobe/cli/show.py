"""The commands that read what was saved: `show` (a file or a history entry) and `import`
(a saved server response), registered on cli.app; and `resolve_trace`, a trace from a file
or the history for the commands that continue one.

A reference that is not an existing file is looked up in the history; when it is neither,
the one-line error says both ("no such file or history id: REF").

It leaves out reading the formats (formats/), the history itself (store.py) and drawing
(views/).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tokenprobe import api
from tokenprobe.cli.app import (
    DistOpt,
    HtmlOpt,
    JsonOpt,
    OutOpt,
    StepsOpt,
    app,
    check_dist,
    emit,
    err,
    fail,
    out,
)
from tokenprobe.errors import InputError, TokenprobeError
from tokenprobe.formats import format_names
from tokenprobe.trace import Trace
from tokenprobe.views.terminal import print_trace

if TYPE_CHECKING:
    from tokenprobe.store import Record, Store

ChoiceOpt = Annotated[int | None, typer.Option(
    "--choice", help="which trace of a file that holds several (choices, candidates or "
    "JSON lines), from 0")]


def _could_be_id(ref: str) -> bool:
    """A history id (or prefix) has no directory and no file suffix."""
    return "/" not in ref and "\\" not in ref and "." not in ref


def find_record(ref: str) -> tuple[Store, Record]:
    """The history entry `ref` names (an id or unique prefix), for a `ref` that is no file."""
    if _could_be_id(ref):
        from tokenprobe.store import Store

        store = Store()
        rec = store.lookup(ref)
        if rec is not None:
            return store, rec
        raise InputError(f"no such file or history id: {ref}")
    raise InputError(f"no such file: {ref}")


def resolve_trace(ref: str) -> Trace:
    """A trace from a file, or from the history by id (or unique id prefix)."""
    if Path(ref).exists():
        return api.load(ref)
    store, rec = find_record(ref)
    return store.trace(rec.id)


def pick(traces: list[Trace], choice: int | None, file: Path) -> Trace:
    """The one trace of a file, or its `--choice`-th."""
    if choice is not None:
        if not 0 <= choice < len(traces):
            raise InputError(f"--choice {choice} is out of range: {file} holds "
                             f"{len(traces)} trace{'s' if len(traces) > 1 else ''} "
                             f"(0 to {len(traces) - 1})")
        return traces[choice]
    if len(traces) == 1:
        return traces[0]
    raise InputError(f"{file} holds {len(traces)} traces (choices, candidates or lines): "
                     f"pick one with --choice N (0 to {len(traces) - 1})")


@app.command()
def show(
    ref: Annotated[str, typer.Argument(metavar="TRACE",
                   help="a trace JSON file (or a saved server response), or a history id")],
    steps: StepsOpt = False,
    dist: DistOpt = "sampled",
    html: HtmlOpt = None,
    as_json: JsonOpt = False,
    choice: ChoiceOpt = None,
) -> None:
    """Show a saved trace (a file, any supported server response, or a history id)."""
    try:
        check_dist(dist)
        path = Path(ref)
        if path.exists():
            emit(pick(api.load_all(path), choice, path), as_json, None, html, steps=steps,
                  dist=dist)
            return
        store, rec = find_record(ref)
        if choice is not None:
            raise InputError("--choice picks one trace of a file that holds several; a "
                             "history entry is shown whole")
        _show_history(store, rec, steps, dist, html, as_json)
    except TokenprobeError as e:
        fail(str(e), e.exit_code)


def _show_history(store: Store, rec: Record, steps: bool, dist: str, html: Path | None,
                  as_json: bool) -> None:
    if rec.kind == "trace":
        tree = store.tree(rec.id)
        trace = next(t for t in tree if t.id == rec.id)
        if html is not None:
            from tokenprobe.views.html import write_html

            write_html(tree, html)
            err.print(f"wrote {html}", style="dim")
        if as_json:
            sys.stdout.write(trace.to_json() + "\n")
            return
        print_trace(out, trace, steps=steps, dist=dist)
        if len(tree) > 1:
            from tokenprobe.views.ops_terminal import tree_view

            out.print("branches:", style="bold")
            out.print(tree_view(tree))
        return
    doc = store.document(rec.id)
    if html is not None:
        from tokenprobe.views.html import render_document, write_page

        write_page(render_document(rec.kind, doc, []), html)
        err.print(f"wrote {html}", style="dim")
    if as_json:
        sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
        return
    out.print(operation_view(rec.kind, doc))


def operation_view(kind: str, doc: dict[str, Any]) -> Any:
    """The terminal view of a saved comparison, choice, sweep or calibration."""
    from tokenprobe.views import ops_terminal

    if kind == "calibration":
        from tokenprobe.calibration.terminal import calibration_view

        return calibration_view(doc)
    if kind == "comparison":
        from tokenprobe.ops.compare import Comparison

        return ops_terminal.comparison_view(Comparison.from_dict(doc))
    if kind == "sweep":
        from tokenprobe.ops.sweep import Sweep

        return ops_terminal.sweep_view(Sweep.from_dict(doc))
    if kind != "choice":
        raise InputError(f"this history entry is a {kind}, which this version of tokenprobe "
                         "cannot show")
    from tokenprobe.ops.choose import Choice

    return ops_terminal.choice_view(Choice.from_dict(doc))


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="a saved server response or trace")],
    format: Annotated[str, typer.Option("--format", help="auto, or one of: " + ", ".join(
        format_names()))] = "auto",
    as_json: JsonOpt = False,
    output: OutOpt = None,
    html: HtmlOpt = None,
    steps: StepsOpt = False,
    choice: ChoiceOpt = None,
    vocab_size: Annotated[int | None, typer.Option(
        "--vocab-size", help="the model's vocabulary size, where known: it bounds the "
        "values at other temperatures (most responses do not say it)")] = None,
) -> None:
    """Read a saved logprob response (OpenAI, vLLM, llama.cpp, Ollama, …) into a trace."""
    try:
        if vocab_size is not None and vocab_size < 1:
            raise InputError(f"--vocab-size must be a positive whole number (not {vocab_size})")
        traces = api.load_all(file, format=format, vocab_size=vocab_size)
        emit(pick(traces, choice, file), as_json, output, html, steps=steps, dist="raw")
    except TokenprobeError as e:
        fail(str(e), e.exit_code)
