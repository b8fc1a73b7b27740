"""The `history` commands: list (newest first, each entry's kind and enough of its prompt
and text to tell it from the others at the terminal's width), `rm` and `export`. A thin
layer over tokenprobe.store, registered on cli.app.

It leaves out storage (store.py), the entries' own views (show.py, views/) and what
the operations compute (ops/).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from tokenprobe.cli.app import (
    JsonOpt,
    app,
    err,
    fail,
    out,
)
from tokenprobe.errors import InputError, TokenprobeError
from tokenprobe.trace import Trace, traces_to_jsonl, write_atomic

if TYPE_CHECKING:
    from tokenprobe.store import Record, Store

history_app = typer.Typer(help="The history of traces, comparisons, choices and sweeps.",
                          invoke_without_command=True, no_args_is_help=False)
app.add_typer(history_app, name="history")

# The command that made an entry, by its kind (and a trace's mode).
_KIND = {"comparison": "compare", "choice": "choose", "sweep": "sweep"}
_MODE = {"completion": "generate", "chat": "chat", "score": "score"}
BODY_MIN = 40  # below this much room for the prompt, it goes on a line of its own


def _open_store() -> Store:
    from tokenprobe.store import Store

    return Store()


def entry_kind(r: Record) -> str:
    """generate, chat, score, branch, compare, choose or sweep."""
    if r.kind == "trace":
        return "branch" if r.parent_id else _MODE.get(r.mode, r.mode or "trace")
    return _KIND.get(r.kind, r.kind)


def _one_line(text: str) -> str:
    return " ".join(text.split())


@history_app.callback()
def history_list(
    ctx: typer.Context,
    search: Annotated[str | None, typer.Option("--search", "-s", help="text to look for")]
    = None,
    limit: Annotated[int, typer.Option("--limit", "-n")] = 30,
    as_json: JsonOpt = False,
) -> None:
    """List the history, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        records = _open_store().list(search=search, limit=limit)
    except TokenprobeError as e:
        fail(str(e), e.exit_code)
    if as_json:
        sys.stdout.write(json.dumps([vars(r) for r in records], ensure_ascii=False) + "\n")
        return
    if not records:
        err.print("the history is empty" if not search else f"nothing matches {search!r}")
        return
    for line in history_lines(records, out.width):
        out.print(line, no_wrap=True, overflow="ellipsis")


def history_lines(records: list[Record], width: int) -> list[Text]:
    """The listing: a heading, then per entry its id, time, kind, model and "prompt → text",
    cut with "…" at `width`. Columns are as wide as their longest entry; when that leaves
    less than BODY_MIN for the prompt, the prompt goes on its own line below."""
    year = str(datetime.now(timezone.utc).year)
    # The year only when some entry is from another one.
    skip = 5 if all(r.created.startswith(year) for r in records) else 0
    whens = [r.created.replace("T", " ")[skip:16] for r in records]
    kinds = [entry_kind(r) for r in records]
    ww = max(len("when"), *map(len, whens))
    kw = max(len("kind"), *map(len, kinds))
    mw = min(24, max(len("model"), *(len(r.model) for r in records)))
    head = 8 + 2 + ww + 2 + kw + 2 + mw + 2
    below = width - head < BODY_MIN
    heading = f"{'id':<8}  {'when':<{ww}}  {'kind':<{kw}}  {'model':<{mw}}"
    lines = [Text(heading + ("" if below else "  prompt → text"), style="bold")]
    if below:
        lines.append(Text("  prompt → text", style="bold"))
    for r, when, kind in zip(records, whens, kinds):
        model = r.model if len(r.model) <= mw else r.model[: mw - 1] + "…"
        line = Text(f"{r.id[:8]}  {when:<{ww}}  {kind:<{kw}}  {model:<{mw}}")
        body = Text(_one_line(r.title))
        if r.text.strip():
            body.append("  →  ", style="dim")
            body.append(_one_line(r.text))
        if below:
            lines += [line, Text("  ").append_text(body)]
        else:
            lines.append(line.append("  ").append_text(body))
    return lines


@history_app.command("rm")
def history_rm(ref: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Delete one entry."""
    try:
        rec = _open_store().delete(ref)
    except TokenprobeError as e:
        fail(str(e), e.exit_code)
    err.print(f"deleted {rec.kind} {rec.id[:8]}")


@history_app.command("export")
def history_export(
    ref: Annotated[str, typer.Argument(metavar="ID")],
    format: Annotated[str, typer.Option("--format", "-f", help="json, jsonl or html")]
    = "json",
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
) -> None:
    """Export an entry (a trace with its branch tree, a comparison, a choice or a sweep)."""
    try:
        store = _open_store()
        rec = store.get(ref)
        doc = store.document(rec.id)
        traces = _traces_of(store, rec.id, rec.kind, doc)
        if format == "json":
            text = json.dumps(doc, ensure_ascii=False) + "\n"
        elif format == "jsonl":
            text = traces_to_jsonl(traces)
        elif format == "html":
            from tokenprobe.views.html import render_document

            # An operation gets its own page; a trace, its branch tree.
            text = render_document(rec.kind, doc, traces,
                                   title=None if rec.kind != "trace" else rec.title[:80] or None)
        else:
            raise InputError(f"--format must be json, jsonl or html (got {format!r})")
        if output is None:
            sys.stdout.write(text)
        else:
            write_atomic(output, text)
            err.print(f"wrote {output}", style="dim")
    except TokenprobeError as e:
        fail(str(e), e.exit_code)


def _traces_of(store: Store, rec_id: str, kind: str, doc: dict[str, Any]) -> list[Trace]:
    if kind == "trace":
        return store.tree(rec_id)
    if kind == "comparison":
        return [Trace.from_dict(t) for v in doc["variants"] for t in v["traces"]]
    if kind == "choice":
        return [Trace.from_dict(o["trace"]) for o in doc["options"]]
    if kind == "sweep":
        return [Trace.from_dict(doc["base"])] + [Trace.from_dict(c["sample"])
                                                 for c in doc["columns"]]
    return []
