"""Command-line commands for the operations: compare, choose, branch, sweep. A thin layer
over tokenprobe.ops, registered on cli.app; each is saved in the history unless --no-save.
The operations run on a worker thread (interrupt.in_background), so Ctrl-C stops them
at once.

It leaves out the computations (ops/), the history's commands (history.py), storage
(store.py) and the drawing (views/).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tokenprobe.backends import backend_class, check_base_url
from tokenprobe.cli.app import (
    AltOpt,
    BaseUrlOpt,
    ExtraBodyOpt,
    HtmlOpt,
    JsonOpt,
    KindOpt,
    ModelOpt,
    NoSaveOpt,
    OutOpt,
    app,
    backend_options,
    base_model_note,
    err,
    fail,
    interrupted,
    open_store_unless,
    out,
)
from tokenprobe.cli.documents import save_and_write, write_page
from tokenprobe.cli.interrupt import in_background
from tokenprobe.cli.show import resolve_trace
from tokenprobe.errors import InputError, TokenprobeError
from tokenprobe.views.terminal import print_trace

StopOpt = Annotated[list[str] | None, typer.Option(
    "--stop", help="stop string (repeatable): ends each generated answer there")]


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
    stop: StopOpt = None,
    alternatives: AltOpt = 10,
    as_json: JsonOpt = False,
    output: OutOpt = None,
    html: HtmlOpt = None,
    no_save: NoSaveOpt = False,
    base_url: BaseUrlOpt = None,
    extra_body: ExtraBodyOpt = None,
    logprobs_kind: KindOpt = None,
) -> None:
    """Run the same request under variants (prompts, system prompts, temperatures, models)."""
    from tokenprobe.ops.compare import compare as run_compare
    from tokenprobe.views.html import render_comparison
    from tokenprobe.views.ops_terminal import comparison_view

    try:
        models = list(model) if model else [None]
        if base_url is not None and all(backend_class(m).local for m in models):
            check_base_url(models[0], base_url)
        if (chat or system) and any(not m for m in models):
            base_model_note("--system" if system else "--chat")
        store = open_store_unless(no_save)
        options = backend_options(base_url, extra_body, logprobs_kind)
        with err.status("comparing…", spinner="dots"):
            c = in_background(lambda: run_compare(
                prompt, systems=list(system) if system else None, temperatures=temperature,
                models=list(model) if model else None, samples=samples, seed=seed,
                answer=answer, chat=chat, max_tokens=max_tokens, alternatives=alternatives,
                backend_options=options, stop=stop))
        save_and_write(c.to_dict(), store, "comparison", " | ".join(v.label for v in c.variants),
                       text=answer or "", output=output, as_json=as_json, html=html,
                       page=lambda: render_comparison(c))
    except TokenprobeError as e:
        fail(str(e), e.exit_code)
    except KeyboardInterrupt:
        interrupted()
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
    logprobs_kind: KindOpt = None,
) -> None:
    """The probability the model gives each complete option after the prompt."""
    from tokenprobe.ops.choose import choose as run_choose
    from tokenprobe.ops.choose import validate_options
    from tokenprobe.views.html import render_choice
    from tokenprobe.views.ops_terminal import choice_view

    try:
        validate_options(option)
        check_base_url(model, base_url)
        if (chat or system) and not model:
            base_model_note("--system" if system else "--chat")
        store = open_store_unless(no_save)
        options = backend_options(base_url, extra_body, logprobs_kind)
        with err.status("scoring the options…", spinner="dots"):
            ch = in_background(lambda: run_choose(
                prompt, option, model=model, chat=chat, system=system,
                alternatives=alternatives, backend_options=options))
        save_and_write(ch.to_dict(), store, "choice", prompt, model=ch.model,
                       text=" | ".join(option), output=None, as_json=as_json, html=html,
                       page=lambda: render_choice(ch))
    except TokenprobeError as e:
        fail(str(e), e.exit_code)
    except KeyboardInterrupt:
        interrupted()
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
    logprobs_kind: KindOpt = None,
) -> None:
    """Continue a generation from a step with another token forced in its place."""
    from tokenprobe.backends import options_for_trace, spec_for_trace
    from tokenprobe.ops.branch import branch_stream

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
            check_base_url(model if model is not None else spec_for_trace(parent), base_url)
        if model is None and base_url is None:
            # The trace's own server: a URL from a file never gets the user's key.
            options, note = options_for_trace(parent)
            given = backend_options(None, extra_body, logprobs_kind)
            options.extra_body = given.extra_body
            if given.logprobs_kind is not None:
                options.logprobs_kind = given.logprobs_kind
            if note:
                err.print(note, style="yellow", markup=False, highlight=False, soft_wrap=True)
        else:
            options = backend_options(base_url, extra_body, logprobs_kind)
        with err.status("branching…", spinner="dots"):
            trace = in_background(lambda: branch_stream(
                parent, at, token, token_id, model=model, options=options, seed=seed).run())
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
            write_page(render_html(tree), html)
    except TokenprobeError as e:
        fail(str(e), e.exit_code)
    except KeyboardInterrupt:
        interrupted()
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
    stop: StopOpt = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    model: ModelOpt = None,
    alternatives: AltOpt = 10,
    as_json: JsonOpt = False,
    html: HtmlOpt = None,
    no_save: NoSaveOpt = False,
) -> None:
    """One prompt's step-by-step distributions at several temperatures, side by side."""
    from tokenprobe.ops.sweep import sweep as run_sweep
    from tokenprobe.views.html import render_sweep
    from tokenprobe.views.ops_terminal import sweep_view

    try:
        try:
            temps = [float(x) for x in temperatures.split(",") if x.strip()]
        except ValueError:
            raise InputError(f"--temperatures must be numbers separated by commas "
                             f"(got {temperatures!r})") from None
        store = open_store_unless(no_save)
        with err.status("sweeping…", spinner="dots"):
            sw = in_background(lambda: run_sweep(
                prompt, temps, model=model, max_tokens=max_tokens, seed=seed,
                alternatives=alternatives, stop=stop))
        save_and_write(sw.to_dict(), store, "sweep", prompt, model=sw.base.model,
                       text=sw.base.text, saved_note=f" (tokenprobe show {sw.id[:8]})",
                       output=None, as_json=as_json, html=html, page=lambda: render_sweep(sw))
    except TokenprobeError as e:
        fail(str(e), e.exit_code)
    except KeyboardInterrupt:
        interrupted()
    if not as_json:
        out.print(sweep_view(sw))


