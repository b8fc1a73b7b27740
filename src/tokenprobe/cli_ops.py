"""Command-line commands for the operations and the history: compare, choose, branch, sweep,
history. A thin layer over tokenprobe.ops and tokenprobe.store, registered on cli.app.

It leaves out the computations (ops/), storage (store.py) and the drawing (views/).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tokenprobe.backends import parse_model_spec
from tokenprobe.cli import (
    AltOpt,
    BaseUrlOpt,
    ExtraBodyOpt,
    HtmlOpt,
    JsonOpt,
    ModelOpt,
    NoSaveOpt,
    OutOpt,
    app,
    check_base_url,
    err,
    fail,
    open_store_unless,
    out,
)
from tokenprobe.cli import _options as backend_options
from tokenprobe.cli_show import resolve_trace
from tokenprobe.errors import InputError, TokenprobeError
from tokenprobe.trace import Trace, traces_to_jsonl, write_atomic
from tokenprobe.views.terminal import print_trace

if TYPE_CHECKING:
    from tokenprobe.store import Store


def _write_doc(doc: dict[str, Any], output: Path | None, as_json: bool) -> None:
    text = json.dumps(doc, ensure_ascii=False, allow_nan=False)
    if output is not None:
        write_atomic(output, text + "\n")
        err.print(f"wrote {output}", style="dim")
    if as_json:
        sys.stdout.write(text + "\n")


def _write_page(page: str, html: Path) -> None:
    from tokenprobe.views.html import write_page

    write_page(page, html)
    err.print(f"wrote {html}", style="dim")


@app.command()
def compare(
    prompt: Annotated[list[str], typer.Option("--prompt", "-p", help="a prompt (repeatable)")],
    system: Annotated[list[str] | None, typer.Option("--system", help="a system prompt "
                      "(repeatable; implies --chat)")] = None,
    temperature: Annotated[list[float] | None, typer.Option("--temperature", "-t",
                           help="a temperature (repeatable)")] = None,
    model: Annotated[list[str] | None, typer.Option("--model", "-m",
                     help="a model (repeatable)")] = None,
    samples: Annotated[int, typer.Option("--samples", help="runs per variant (seeds "
                       "seed, seed+1, …)")] = 1,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    answer: Annotated[str | None, typer.Option("--answer", help="score this fixed answer "
                      "under every variant instead of generating")] = None,
    chat: Annotated[bool, typer.Option("--chat")] = False,
    max_tokens: Annotated[int, typer.Option("--max-tokens")] = 32,
    alternatives: AltOpt = 10,
    as_json: JsonOpt = False,
    output: OutOpt = None,
    html: HtmlOpt = None,
    no_save: NoSaveOpt = False,
    base_url: BaseUrlOpt = None,
    extra_body: ExtraBodyOpt = None,
) -> None:
    """Run the same request under variants (prompts, system prompts, temperatures, models)."""
    from tokenprobe.ops.compare import compare as run_compare
    from tokenprobe.views.ops_terminal import comparison_view

    try:
        models = list(model) if model else [None]
        if base_url is not None and not any(parse_model_spec(m)[0] != "llama" for m in models):
            check_base_url(models[0], base_url)
        store = open_store_unless(no_save)
        with err.status("comparing…", spinner="dots"):
            c = run_compare(prompt, systems=list(system) if system else None,
                            temperatures=temperature, models=list(model) if model else None,
                            samples=samples, seed=seed, answer=answer, chat=chat,
                            max_tokens=max_tokens, alternatives=alternatives,
                            backend_options=backend_options(base_url, extra_body))
        doc = c.to_dict()
        if store is not None:
            store.save_document(c.id, "comparison", c.created,
                                " | ".join(v.label for v in c.variants), doc,
                                text=answer or "")
            err.print(f"saved as {c.id[:8]}", style="dim")
        _write_doc(doc, output, as_json)
        if html is not None:
            from tokenprobe.views.html import render_comparison

            _write_page(render_comparison(c), html)
    except TokenprobeError as e:
        fail(str(e), e.exit_code)
    if not as_json:
        out.print(comparison_view(c))


@app.command()
def choose(
    prompt: Annotated[str, typer.Argument(help="the question or text before the options")],
    option: Annotated[list[str], typer.Option("--option", "-o", help="a complete option "
                      "(repeatable, at least two)")],
    model: ModelOpt = None,
    chat: Annotated[bool, typer.Option("--chat")] = False,
    system: Annotated[str | None, typer.Option("--system")] = None,
    alternatives: AltOpt = 10,
    as_json: JsonOpt = False,
    html: HtmlOpt = None,
    no_save: NoSaveOpt = False,
    base_url: BaseUrlOpt = None,
    extra_body: ExtraBodyOpt = None,
) -> None:
    """The probability the model gives each complete option after the prompt."""
    from tokenprobe.ops.choose import choose as run_choose
    from tokenprobe.ops.choose import validate_options
    from tokenprobe.views.ops_terminal import choice_view

    try:
        validate_options(option)
        check_base_url(model, base_url)
        store = open_store_unless(no_save)
        with err.status("scoring the options…", spinner="dots"):
            ch = run_choose(prompt, option, model=model, chat=chat, system=system,
                            alternatives=alternatives,
                            backend_options=backend_options(base_url, extra_body))
        doc = ch.to_dict()
        if store is not None:
            store.save_document(ch.id, "choice", ch.created, prompt, doc, model=ch.model,
                                text=" | ".join(option))
            err.print(f"saved as {ch.id[:8]}", style="dim")
        _write_doc(doc, None, as_json)
        if html is not None:
            from tokenprobe.views.html import render_choice

            _write_page(render_choice(ch), html)
    except TokenprobeError as e:
        fail(str(e), e.exit_code)
    if not as_json:
        out.print(choice_view(ch))


@app.command()
def branch(
    trace_ref: Annotated[str, typer.Argument(metavar="TRACE",
                         help="a trace file or a history id")],
    at: Annotated[int, typer.Option("--at", help="the step to replace (0-based)")],
    token: Annotated[str | None, typer.Option("--token", help="the text to put there")] = None,
    token_id: Annotated[int | None, typer.Option("--id", help="or a token id")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="default: the parent's")] = None,
    model: Annotated[str | None, typer.Option(
        "--model", "-m", help="where to continue (default: the trace's own model and server, "
        "with no API key unless that server is your OPENAI_BASE_URL)")] = None,
    as_json: JsonOpt = False,
    output: OutOpt = None,
    html: HtmlOpt = None,
    no_save: NoSaveOpt = False,
    base_url: BaseUrlOpt = None,
    extra_body: ExtraBodyOpt = None,
) -> None:
    """Continue a generation from a step with another token forced in its place."""
    from tokenprobe.ops.branch import branch_stream, model_spec_of, trace_options

    try:
        parent = resolve_trace(trace_ref)
        # A file's parent joins the history (so the tree stays whole), unless the history
        # has it already: that copy, with its place in its tree, stays as it is.
        from_file = Path(trace_ref).exists()
        store = open_store_unless(no_save)
        save_parent = False
        if store is not None and from_file:
            known = store.find(parent.id)
            if known is not None and known.kind != "trace":
                raise InputError(f"{trace_ref}: its id {parent.id[:8]} is a {known.kind} in "
                                 "the history, not a trace; give the trace a new id")
            save_parent = known is None
        if base_url is not None:
            check_base_url(model if model is not None else model_spec_of(parent), base_url)
        if model is None and base_url is None:
            # The trace's own server: a URL from a file never gets the user's key.
            options, note = trace_options(parent)
            options.extra_body = backend_options(None, extra_body).extra_body
            if note:
                err.print(note, style="yellow", markup=False, highlight=False, soft_wrap=True)
        else:
            options = backend_options(base_url, extra_body)
        stream = branch_stream(parent, at, token, token_id, model=model, options=options,
                               seed=seed)
        with err.status("branching…", spinner="dots"):
            trace = stream.run()
        if store is not None:
            if save_parent:
                store.save_trace(parent)
            store.save_trace(trace)
            err.print(f"saved as {trace.id[:8]} (branch of {parent.id[:8]})", style="dim")
        if output is not None:
            trace.save(output)
        if html is not None:
            from tokenprobe.views.html import render_html

            # The whole tree when the history has it, else the parent and this branch.
            tree = store.tree(trace.id) if store is not None else [parent, trace]
            _write_page(render_html(tree), html)
    except TokenprobeError as e:
        fail(str(e), e.exit_code)
    if as_json:
        sys.stdout.write(trace.to_json() + "\n")
    else:
        print_trace(out, trace)


@app.command()
def sweep(
    prompt: Annotated[str, typer.Argument(help="the text to continue")],
    temperatures: Annotated[str, typer.Option("--temperatures", help="comma-separated")]
    = "0,0.5,1,1.5",
    max_tokens: Annotated[int, typer.Option("--max-tokens")] = 8,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    model: ModelOpt = None,
    alternatives: AltOpt = 10,
    html: HtmlOpt = None,
) -> None:
    """One prompt's step-by-step distributions at several temperatures, side by side."""
    from tokenprobe.ops.sweep import sweep as run_sweep
    from tokenprobe.views.ops_terminal import sweep_view

    try:
        try:
            temps = [float(x) for x in temperatures.split(",") if x.strip()]
        except ValueError:
            raise InputError(f"--temperatures must be numbers separated by commas "
                             f"(got {temperatures!r})") from None
        with err.status("sweeping…", spinner="dots"):
            sw = run_sweep(prompt, temps, model=model, max_tokens=max_tokens, seed=seed,
                           alternatives=alternatives)
        if html is not None:
            from tokenprobe.views.html import render_sweep

            _write_page(render_sweep(sw), html)
    except TokenprobeError as e:
        fail(str(e), e.exit_code)
    out.print(sweep_view(sw))


history_app = typer.Typer(help="The history of traces, comparisons and choices.",
                          invoke_without_command=True, no_args_is_help=False)
app.add_typer(history_app, name="history")


def _open_store() -> Store:
    from tokenprobe.store import Store

    return Store()


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
    width = max(out.width, 60)
    out.print(f"{'id':<8}  {'when':<16}  {'kind':<17} {'model':<20} prompt → text",
              style="bold", no_wrap=True, overflow="crop")
    for r in records:
        kind = r.kind + (" (branch)" if r.parent_id else "")
        head = f"{r.id[:8]}  {r.created.replace('T', ' ')[:16]:<16}  {kind:<17} {r.model[:20]:<20} "
        body = (r.title.replace("\n", " ") + "  →  " + r.text.replace("\n", " ")).strip()
        room = width - len(head)
        if len(body) > room:
            body = body[: max(room - 1, 0)] + "…"
        out.print(head + body, markup=False, highlight=False)


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
    """Export an entry (a trace with its branch tree, a comparison or a choice)."""
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

            # A comparison or a choice gets its own page; a trace, its branch tree.
            text = render_document(rec.kind, doc, traces,
                                   title=None if rec.kind in ("comparison", "choice")
                                   else rec.title[:80] or None)
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
    return []

