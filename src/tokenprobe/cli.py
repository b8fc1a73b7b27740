"""The command line: a thin typer layer over the Python API and the views.

Stdout carries only the result (the coloured text and summary, or with --json exactly one
trace document); progress, notes and errors go to stderr. Exit codes: 0 success; 2 bad input
or a file/model problem (one line on stderr, no traceback); 3 a generation that broke
part-way (the partial trace is still written to -o); 130 interrupted by Ctrl-C (likewise),
handled at once at any moment (cli_interrupt.py: models load and generate on a worker
thread while the main thread waits).

It leaves out all computation: each command calls tokenprobe's API and a view.
"""

from __future__ import annotations

# First, before anything heavy: from here until the commands below are imported, Ctrl-C
# ends the process at once with 130 and one line (cli_interrupt.IMPORT_GUARD).
from tokenprobe.cli_interrupt import IMPORT_GUARD

# isort: split
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tokenprobe import api, cli_interrupt
from tokenprobe.backends import (
    BUILTIN,
    Backend,
    BackendOptions,
    GenerationError,
    get_backend,
    parse_model_spec,
)
from tokenprobe.backends.base import validate_alternatives, validate_request
from tokenprobe.cli_interrupt import BackgroundSteps, in_background, keep_stderr, leave
from tokenprobe.errors import InputError, TokenprobeError
from tokenprobe.trace import Trace
from tokenprobe.views.terminal import LivePrinter, legend, print_trace, summary_panel

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


# The backends that run here, in this process: a --base-url would be silently ignored.
LOCAL_KINDS = ("llama", "hf", "own")


def check_base_url(model: str | None, base_url: str | None) -> None:
    """--base-url says where a server is: refused for a model that runs here, which would
    silently ignore it."""
    prefix = parse_model_spec(model)[0]
    if base_url is None or prefix not in LOCAL_KINDS:
        return
    servers = ", ".join(f"{p}:NAME" for p in BUILTIN if p not in LOCAL_KINDS)
    what = (f"the local model {model}" if prefix != "llama" else
            f"the local model file {model}" if model else "the embedded model")
    raise InputError(f"--base-url applies to server models only ({servers}), not to {what}")


def base_model_note(flag: str) -> None:
    err.print("note: the embedded model is a base model: it continues text well but chats "
              f"poorly; leave out {flag} to see it at its best", style="yellow")


def _options(base_url: str | None, extra_body: str | None,
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


def _load_backend(model: str | None, options: BackendOptions) -> Backend:
    """The backend, loaded on a worker thread: Ctrl-C during the load is handled at once."""
    prefix, _ = parse_model_spec(model)
    check_base_url(model, options.base_url)
    if prefix == "llama":
        with err.status("loading the model…", spinner="dots"):
            return in_background(lambda: get_backend(model, options), "tokenprobe-load")
    return in_background(lambda: get_backend(model, options), "tokenprobe-load")


def _emit(trace: Trace, as_json: bool, output: Path | None, html: Path | None,
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


def _check_dist(dist: str) -> None:
    if dist not in ("sampled", "raw"):
        raise InputError(f"--dist must be 'sampled' or 'raw' (got {dist!r})")


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
        _check_dist(dist)
        store = open_store_unless(no_save)
        request = api.build_request(
            prompt, chat=chat, system=system, max_tokens=max_tokens, temperature=temperature,
            top_p=top_p, top_k=top_k, seed=seed, alternatives=alternatives, stop=stop,
            attention=attention, lens=lens,
        )
        validate_request(request)
        backend = _load_backend(model, _options(base_url, extra_body, logprobs_kind))
        api.check_capture(backend, request.internals)
        if chat and backend.name == "llama" and not model:
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
        _emit(trace, as_json, output, html, show=False)
        if store is not None:
            save_record(trace, store)
        interrupted(f"interrupted: kept {len(trace.steps)} tokens (trace marked incomplete)")
    except GenerationError as e:
        if printer is not None and started:
            printer.finish()
        _emit(e.trace, as_json, output, html, show=False)
        if store is not None:
            save_record(e.trace, store)
        fail(str(e), code=3)
    except TokenprobeError as e:
        fail(str(e), e.exit_code)
    trace = stream.trace
    if printer is not None:
        started = started or start()  # no token at all: the prompt, then the summary
        printer.finish()
        _emit(trace, as_json, output, html, show=False)
        out.print(legend())
        out.print(summary_panel(trace))
    else:
        _emit(trace, as_json, output, html, steps=steps, dist=dist)
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
        backend = _load_backend(model, _options(base_url, extra_body, logprobs_kind))
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
    _emit(trace, as_json, output, html, steps=steps, dist="raw")


# The reading, the operations' and the history's commands register themselves on `app`.
from tokenprobe import (  # noqa: E402, F401
    cli_batch,
    cli_calibrate,
    cli_ops,
    cli_serve,
    cli_show,
    cli_tokenize,
)

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
