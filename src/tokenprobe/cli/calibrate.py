"""The `calibrate` command: a labelled set (or the built-in demo) under one or more models,
system prompts and temperatures; the figures in the terminal, optionally the document as
JSON and the page as HTML, kept in the history unless --no-save.

It leaves out the running (ops/calibrate.py), the figures (calibration/) and the drawing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tokenprobe.backends import check_base_url
from tokenprobe.cli.app import (
    AltOpt,
    BaseUrlOpt,
    ExtraBodyOpt,
    HtmlOpt,
    JsonOpt,
    KindOpt,
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
from tokenprobe.cli.interrupt import in_background
from tokenprobe.errors import InputError, TokenprobeError


@app.command()
def calibrate(
    data: Annotated[Path | None, typer.Argument(help="JSONL: {\"prompt\", \"options\", "
                    "\"answer\": INDEX} or {\"prompt\", \"answer\": TEXT or [TEXT…]}")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="the built-in set (arithmetic and "
                    "checkable multiple choice)")] = False,
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help="a model "
                     "(repeatable)")] = None,
    system: Annotated[list[str] | None, typer.Option("--system", help="a system prompt "
                      "(repeatable; implies --chat)")] = None,
    temperature: Annotated[list[float] | None, typer.Option(
        "--temperature", "-t", help="answers' temperature (repeatable; default 0, greedy)")]
        = None,
    chat: Annotated[bool, typer.Option("--chat")] = False,
    judge: Annotated[str, typer.Option("--judge", help="open answers: exact, normalised "
                     "or contains")] = "normalised",
    max_tokens: Annotated[int, typer.Option("--max-tokens")] = 16,
    stop: Annotated[list[str] | None, typer.Option("--stop", help="stop string for open "
                    "answers (repeatable; default a newline)")] = None,
    alternatives: AltOpt = 5,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c")] = 8,
    bins: Annotated[int, typer.Option("--bins", help="reliability bins")] = 10,
    resamples: Annotated[int, typer.Option("--resamples", help="bootstrap resamples")] = 1000,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    work: Annotated[Path | None, typer.Option("--work", "-w", help="the traces' JSONL "
                    "(resumable; default: one per set and settings in tokenprobe's data "
                    "directory)")] = None,
    as_json: JsonOpt = False,
    output: OutOpt = None,
    html: HtmlOpt = None,
    no_save: NoSaveOpt = False,
    base_url: BaseUrlOpt = None,
    extra_body: ExtraBodyOpt = None,
    logprobs_kind: KindOpt = None,
) -> None:
    """How well the model's confidence predicts a right answer on a labelled set."""
    from tokenprobe.calibration.data import read_items
    from tokenprobe.calibration.demo import demo_items
    from tokenprobe.calibration.terminal import calibration_view
    from tokenprobe.cli.documents import save_and_write
    from tokenprobe.ops.calibrate import Settings
    from tokenprobe.ops.calibrate import calibrate as run_calibrate
    from tokenprobe.store import default_path
    from tokenprobe.views.html import render_calibration

    try:
        if (data is None) == (not demo):
            raise InputError("give a JSONL file of labelled items, or --demo")
        items = demo_items() if demo else read_items(data)  # type: ignore[arg-type]
        if bins < 1 or resamples < 1:
            raise InputError("--bins and --resamples must be at least 1")
        models: list[str | None] = list(model) if model else [None]
        for m in models:
            if base_url is not None and m is None:
                check_base_url(m, base_url)
        if (chat or system) and None in models:
            base_model_note("--system" if system else "--chat")
        settings = Settings(judge=judge, chat=chat, max_tokens=max_tokens,
                            stop=tuple(stop) if stop is not None else ("\n",),
                            alternatives=alternatives, seed=seed, n_bins=bins,
                            resamples=resamples, concurrency=concurrency)
        if work is None:
            key = hashlib.sha1(json.dumps([[i.to_dict() for i in items], models, system,
                                           temperature, repr(settings)]).encode()).hexdigest()
            work = default_path().parent / "calibrate" / f"{key[:16]}.jsonl"
        store = open_store_unless(no_save)
        options = backend_options(base_url, extra_body, logprobs_kind)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn())
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task("calibrate", total=None)

            def progress(item: object, error: str | None) -> None:
                bar.advance(task)
                if error is not None:
                    bar.console.print(f"failed {getattr(item, 'id', '?')}: {error}",
                                      markup=False, style="red")

            doc = in_background(lambda: run_calibrate(
                items, work, models=models, systems=list(system) if system else None,
                temperatures=temperature, settings=settings,
                data="the built-in demo set" if demo else str(data), backend_options=options,
                progress=progress, on_total=lambda n: bar.update(task, total=n)))
        err.print(f"traces in {work} (run again to resume)", style="dim")
        title = f"calibrate {doc['data']}: " + " | ".join(r["label"] for r in doc["runs"])
        save_and_write(doc, store, "calibration", title,
                       model=", ".join(r["model"] for r in doc["runs"]), output=output,
                       as_json=as_json, html=html, page=lambda: render_calibration(doc))
    except TokenprobeError as e:
        fail(str(e), e.exit_code)
    except KeyboardInterrupt:
        interrupted()
    if not as_json:
        out.print(calibration_view(doc))
    if any(r["failed"] for r in doc["runs"]):
        raise typer.Exit(3)
