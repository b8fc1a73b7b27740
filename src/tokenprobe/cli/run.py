"""The commands that run a model on a prompt or a text: `generate` (live, token by token)
and `score` (a given text, teacher-forced).

It leaves out the operations over several runs (ops.py, batch.py) and all computation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tokenprobe import api
from tokenprobe.backends import GenerationError
from tokenprobe.backends.base import validate_alternatives, validate_request
from tokenprobe.cli.app import (
    AltOpt,
    AttentionOpt,
    BaseUrlOpt,
    DistOpt,
    ExtraBodyOpt,
    HtmlOpt,
    JsonOpt,
    KindOpt,
    LensOpt,
    ModelOpt,
    NoSaveOpt,
    OutOpt,
    StepsOpt,
    app,
    backend_options,
    base_model_note,
    check_dist,
    emit,
    err,
    fail,
    interrupted,
    load_backend,
    open_store_unless,
    out,
    save_record,
)
from tokenprobe.cli.interrupt import BackgroundSteps, in_background
from tokenprobe.errors import InputError, TokenprobeError
from tokenprobe.views.terminal import LivePrinter, legend, summary_panel


@app.command()
def generate(
    prompt: Annotated[str, typer.Argument(help="the text to continue, or the chat message")],
    model: ModelOpt = None,
    chat: Annotated[bool, typer.Option("--chat", help="chat mode (the model's template)")] = False,
    system: Annotated[str | None, typer.Option("--system", help="system prompt (chat)")] = None,
    max_tokens: Annotated[int, typer.Option("--max-tokens", help="tokens to generate")] = 64,
    temperature: Annotated[float, typer.Option("--temperature", "-t", help="0 = greedy")] = 1.0,
    top_p: Annotated[float, typer.Option("--top-p")] = 1.0,
    top_k: Annotated[int, typer.Option("--top-k", help="0 = off")] = 0,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    alternatives: AltOpt = 10,
    stop: Annotated[list[str] | None, typer.Option("--stop", help="stop string (repeatable)")]
    = None,
    as_json: JsonOpt = False,
    output: OutOpt = None,
    html: HtmlOpt = None,
    steps: StepsOpt = False,
    dist: DistOpt = "sampled",
    base_url: BaseUrlOpt = None,
    extra_body: ExtraBodyOpt = None,
    logprobs_kind: KindOpt = None,
    no_save: NoSaveOpt = False,
    attention: AttentionOpt = False,
    lens: LensOpt = False,
) -> None:
    """Generate a continuation (or a chat answer) and show every token's choice."""
    try:
        check_dist(dist)
        store = open_store_unless(no_save)
        request = api.build_request(
            prompt, chat=chat, system=system, max_tokens=max_tokens, temperature=temperature,
            top_p=top_p, top_k=top_k, seed=seed, alternatives=alternatives, stop=stop,
            attention=attention, lens=lens,
        )
        validate_request(request)
        backend = load_backend(model, backend_options(base_url, extra_body, logprobs_kind))
        api.check_capture(backend, request.internals)
        if chat and not model:  # the embedded default
            base_model_note("--chat")
        stream = in_background(lambda: backend.stream(request))
    except TokenprobeError as e:
        fail(str(e), e.exit_code)
    except KeyboardInterrupt:
        interrupted()
    # Tokens are printed as they come unless the whole trace is the output (--json) or
    # the step view follows; piped output gets the same text, without colour. The prompt
    # goes out with the first token: a request that fails before one prints nothing.
    live = not as_json and not steps
    printer = LivePrinter(out) if live else None
    started = False

    def start() -> bool:
        if request.mode == "completion":
            out.print(prompt, style="dim", end="")
        return True

    made = BackgroundSteps(stream)  # made on a worker thread: Ctrl-C is handled at once
    try:
        if printer is None:
            with err.status("generating…", spinner="dots") as status:
                for n, _ in enumerate(made, 1):
                    status.update(f"generating… {n} tokens")
        else:
            for step in made:
                started = started or start()
                printer.add(step)
    except KeyboardInterrupt:
        trace = made.interrupt()
        if printer is not None and started:
            printer.finish()
        emit(trace, as_json, output, html, show=False)
        if store is not None:
            save_record(trace, store)
        interrupted(f"interrupted: kept {len(trace.steps)} tokens (trace marked incomplete)")
    except GenerationError as e:
        if printer is not None and started:
            printer.finish()
        emit(e.trace, as_json, output, html, show=False)
        if store is not None:
            save_record(e.trace, store)
        fail(str(e), code=3)
    except TokenprobeError as e:
        fail(str(e), e.exit_code)
    trace = stream.trace
    if printer is not None:
        started = started or start()  # no token at all: the prompt, then the summary
        printer.finish()
        emit(trace, as_json, output, html, show=False)
        out.print(legend())
        out.print(summary_panel(trace))
    else:
        emit(trace, as_json, output, html, steps=steps, dist=dist)
    if store is not None:
        save_record(trace, store)


@app.command()
def score(
    text: Annotated[str | None, typer.Argument(help="the text to score")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="read the text from F")]
    = None,
    model: ModelOpt = None,
    alternatives: AltOpt = 10,
    as_json: JsonOpt = False,
    output: OutOpt = None,
    html: HtmlOpt = None,
    steps: StepsOpt = False,
    base_url: BaseUrlOpt = None,
    extra_body: ExtraBodyOpt = None,
    logprobs_kind: KindOpt = None,
    no_save: NoSaveOpt = False,
    attention: AttentionOpt = False,
    lens: LensOpt = False,
) -> None:
    """Score a given text: how likely each of its tokens was to the model."""
    try:
        if (text is None) == (file is None):
            raise InputError("give the text to score, or --file F (one of the two)")
        if file is not None:
            try:
                text = file.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise InputError(f"no such file: {file}") from None
            except (OSError, UnicodeDecodeError) as e:
                raise InputError(f"cannot read {file}: {e}") from None
        assert text is not None
        if not text:
            raise InputError("the text to score is empty")
        validate_alternatives(alternatives)
        store = open_store_unless(no_save)
        backend = load_backend(model, backend_options(base_url, extra_body, logprobs_kind))
        kinds = api.internals_of(attention, lens)
        api.check_capture(backend, kinds)
        extra: dict[str, Any] = {"internals": kinds} if kinds else {}
        scored = text
        with Progress(TextColumn("scoring"), BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), console=err, transient=True) as bar:
            task = bar.add_task("score", total=None)
            trace = in_background(lambda: backend.score(
                scored, alternatives=alternatives,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                **extra))
        if store is not None:
            save_record(trace, store)
    except TokenprobeError as e:
        fail(str(e), e.exit_code)
    except KeyboardInterrupt:
        interrupted()
    emit(trace, as_json, output, html, steps=steps, dist="raw")
