"""The command line: a thin typer layer over the Python API and the views.

Stdout carries only the result (the coloured text and summary, or with --json exactly one
trace document); progress, notes and errors go to stderr. Exit codes: 0 success; 2 bad input
or a file/model problem (one line on stderr, no traceback); 3 a generation that broke
part-way (the partial trace is still written to -o); 130 interrupted by Ctrl-C (likewise).

It leaves out all computation: each command calls tokenprobe's API and a view.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tokenprobe import api
from tokenprobe.backends import (
    Backend,
    BackendOptions,
    GenerationError,
    get_backend,
    parse_model_spec,
)
from tokenprobe.backends.base import validate_alternatives, validate_request
from tokenprobe.errors import InputError, TokenprobeError
from tokenprobe.formats import format_names
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
    prefix, _ = parse_model_spec(model)
    if prefix == "llama":
        with err.status("loading the model…", spinner="dots"):
            return get_backend(model, options)
    return get_backend(model, options)


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


def resolve_trace(ref: str | Path) -> Trace:
    """A trace from a file, or from the history by id (or unique id prefix)."""
    path = Path(ref)
    if path.exists() or not _looks_like_id(str(ref)):
        return api.load(path)
    from tokenprobe.store import Store

    return Store().trace(str(ref))


def _looks_like_id(ref: str) -> bool:
    return len(ref) >= 4 and all(c in "0123456789abcdef" for c in ref.lower())


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
) -> None:
    """Generate a continuation (or a chat answer) and show every token's choice."""
    try:
        _check_dist(dist)
        store = open_store_unless(no_save)
        request = api.build_request(
            prompt, chat=chat, system=system, max_tokens=max_tokens, temperature=temperature,
            top_p=top_p, top_k=top_k, seed=seed, alternatives=alternatives, stop=stop,
        )
        validate_request(request)
        backend = _load_backend(model, _options(base_url, extra_body, logprobs_kind))
        if chat and backend.name == "llama" and not model:
            err.print("note: the embedded model is a base model: it continues text well but "
                      "chats poorly; leave out --chat to see it at its best", style="yellow")
        stream = backend.stream(request)
    except TokenprobeError as e:
        fail(str(e), e.exit_code)
    # Tokens are printed as they come unless the whole trace is the output (--json) or
    # the step view follows; piped output gets the same text, without colour.
    live = not as_json and not steps
    printer = LivePrinter(out) if live else None
    try:
        if printer is not None and request.mode == "completion":
            out.print(prompt, style="dim", end="")
        if as_json or not live:
            with err.status("generating…", spinner="dots") as status:
                for n, _ in enumerate(stream, 1):
                    status.update(f"generating… {n} tokens")
        else:
            for step in stream:
                assert printer is not None
                printer.add(step)
    except KeyboardInterrupt:
        trace = stream.interrupt()
        if printer is not None:
            printer.finish()
        _emit(trace, as_json, output, html, show=False)
        if store is not None:
            save_record(trace, store)
        err.print(f"interrupted: kept {len(trace.steps)} tokens (trace marked incomplete)")
        raise typer.Exit(130) from None
    except GenerationError as e:
        if printer is not None:
            printer.finish()
        _emit(e.trace, as_json, output, html, show=False)
        if store is not None:
            save_record(e.trace, store)
        fail(str(e), code=3)
    except TokenprobeError as e:
        fail(str(e), e.exit_code)
    trace = stream.trace
    if printer is not None:
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
        with Progress(TextColumn("scoring"), BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), console=err, transient=True) as bar:
            task = bar.add_task("score", total=None)
            trace = backend.score(
                text, alternatives=alternatives,
                progress=lambda done, total: bar.update(task, completed=done, total=total))
        if store is not None:
            save_record(trace, store)
    except TokenprobeError as e:
        fail(str(e), e.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(130) from None
    _emit(trace, as_json, output, html, steps=steps, dist="raw")


@app.command()
def show(
    trace_file: Annotated[Path, typer.Argument(metavar="TRACE",
                          help="a trace JSON file, or a history id")],
    steps: StepsOpt = False,
    dist: DistOpt = "sampled",
    html: HtmlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a saved trace (a file, any supported server response, or a history id)."""
    try:
        _check_dist(dist)
        if not trace_file.exists() and _looks_like_id(str(trace_file)):
            _show_history(str(trace_file), steps, dist, html, as_json)
            return
        trace = api.load(trace_file)
        _emit(trace, as_json, None, html, steps=steps, dist=dist)
    except TokenprobeError as e:
        fail(str(e), e.exit_code)


def _show_history(ref: str, steps: bool, dist: str, html: Path | None, as_json: bool) -> None:
    from tokenprobe.store import Store

    store = Store()
    rec = store.get(ref)
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
    if as_json:
        sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
        return
    from tokenprobe.views import ops_terminal

    if rec.kind == "comparison":
        from tokenprobe.ops.compare import Comparison

        out.print(ops_terminal.comparison_view(Comparison.from_dict(doc)))
    else:
        from tokenprobe.ops.choose import Choice

        out.print(ops_terminal.choice_view(Choice.from_dict(doc)))


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="a saved server response or trace")],
    format: Annotated[str, typer.Option("--format", help="auto, or one of: " + ", ".join(
        format_names()))] = "auto",
    as_json: JsonOpt = False,
    output: OutOpt = None,
    html: HtmlOpt = None,
    steps: StepsOpt = False,
    choice: Annotated[int | None, typer.Option(
        "--choice", help="which trace of a file that holds several (choices, candidates or "
        "JSON lines), from 0")] = None,
    vocab_size: Annotated[int | None, typer.Option(
        "--vocab-size", help="the model's vocabulary size, where known: it bounds the "
        "values at other temperatures (most responses do not say it)")] = None,
) -> None:
    """Read a saved logprob response (OpenAI, vLLM, llama.cpp, Ollama, …) into a trace."""
    try:
        if vocab_size is not None and vocab_size < 1:
            raise InputError(f"--vocab-size must be a positive whole number (not {vocab_size})")
        traces = api.load_all(file, format=format, vocab_size=vocab_size)
        if choice is not None:
            if not 0 <= choice < len(traces):
                raise InputError(f"--choice {choice} is out of range: {file} holds "
                                 f"{len(traces)} trace{'s' if len(traces) > 1 else ''} "
                                 f"(0 to {len(traces) - 1})")
            trace = traces[choice]
        elif len(traces) == 1:
            trace = traces[0]
        else:
            raise InputError(f"{file} holds {len(traces)} traces (choices, candidates or "
                             f"lines): pick one with --choice N (0 to {len(traces) - 1})")
        _emit(trace, as_json, output, html, steps=steps, dist="raw")
    except TokenprobeError as e:
        fail(str(e), e.exit_code)


# The operations' and the history's commands register themselves on `app`.
from tokenprobe import cli_batch, cli_ops, cli_serve  # noqa: E402, F401


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except TokenprobeError as e:
        err.print(f"error: {e}", markup=False)
        sys.exit(e.exit_code)
    except Exception as e:  # a bug: one line by default, the traceback on request
        if os.environ.get("TOKENPROBE_DEBUG"):
            raise
        err.print(f"internal error: {type(e).__name__}: {e} (set TOKENPROBE_DEBUG=1 for "
                  "the traceback)", markup=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
