"""The `batch` command: a JSONL file of prompts against a model (or, with `--score`, of
texts to score), with a progress bar.

It leaves out the running itself (ops/batch.py).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tokenprobe.cli.app import (
    AltOpt,
    BaseUrlOpt,
    ExtraBodyOpt,
    KindOpt,
    ModelOpt,
    app,
    backend_options,
    err,
    fail,
    load_backend,
)
from tokenprobe.errors import TokenprobeError
from tokenprobe.ops.batch import Item, read_prompts, read_texts, run_batch


@app.command()
def batch(
    prompts: Annotated[Path, typer.Argument(help="JSONL: one {\"id\", \"prompt\"} per line")],
    output: Annotated[Path, typer.Option("--output", "-o", help="JSONL of traces (appended; "
                                         "ids already there are skipped)")],
    model: ModelOpt = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c",
                                             help="requests at once")] = 8,
    chat: Annotated[bool, typer.Option("--chat", help="chat mode for every prompt")] = False,
    system: Annotated[str | None, typer.Option("--system", help="system prompt (chat)")] = None,
    max_tokens: Annotated[int, typer.Option("--max-tokens")] = 64,
    temperature: Annotated[float, typer.Option("--temperature", "-t")] = 1.0,
    top_p: Annotated[float, typer.Option("--top-p")] = 1.0,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    alternatives: AltOpt = 10,
    base_url: BaseUrlOpt = None,
    extra_body: ExtraBodyOpt = None,
    logprobs_kind: KindOpt = None,
    score: Annotated[bool, typer.Option("--score", help="score texts instead: one "
                                        "{\"id\", \"text\"} per line; each trace's "
                                        "source.score has its perplexity")] = False,
    stream: Annotated[bool, typer.Option("--stream/--no-stream", help="ask servers for "
                                         "streams (an answer cut part-way keeps its tokens) "
                                         "instead of whole answers (faster)")] = False,
) -> None:
    """Run many prompts against a model at once and append each trace to a JSONL file."""
    try:
        defaults = {"chat": chat, "system": system, "max_tokens": max_tokens,
                    "temperature": temperature, "top_p": top_p, "seed": seed,
                    "alternatives": alternatives}
        items = (read_texts(prompts, alternatives) if score
                 else read_prompts(prompts, defaults))
        backend = load_backend(model, backend_options(base_url, extra_body, logprobs_kind))
    except TokenprobeError as e:
        fail(str(e), e.exit_code)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("batch", total=len(items))

        def progress(item: Item, error: str | None) -> None:
            bar.advance(task)
            if error is not None:
                bar.console.print(f"failed {item.id}: {error}", markup=False, style="red")

        try:
            result = asyncio.run(run_batch(backend, items, output, concurrency, progress,
                                         stream=stream))
        except TokenprobeError as e:
            fail(str(e), e.exit_code)
        bar.update(task, completed=len(items))
    parts = [f"{result.done} written to {output}"]
    if result.skipped:
        parts.append(f"{result.skipped} already done")
    if result.incomplete:
        parts.append(f"{result.incomplete} incomplete (asked again next run)")
    if result.failed:
        parts.append(f"{len(result.failed)} failed (run again to retry)")
    err.print(", ".join(parts))
    if result.failed or result.incomplete:
        raise typer.Exit(3)
