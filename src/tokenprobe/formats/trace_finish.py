"""Finishing an imported trace: the steps get their true bytes (hidden ones fitted to the
response's text), `text` and offsets are rebuilt from them and checked against the server's
text, and the finish reason says whether the answer is whole.

It leaves out reading values (wire_values.py) and a token's bytes and steps (wire_tokens.py).
"""

from __future__ import annotations

from typing import Any

from tokenprobe.errors import FormatError
from tokenprobe.formats.wire_tokens import Piece, fit_to_text, name_hidden_chosen
from tokenprobe.formats.wire_values import clean_text, finish_error, finish_reason
from tokenprobe.textbytes import TextAssembler, token_label
from tokenprobe.trace import Request, Trace


def new_trace(fmt: str, file: str | None, model: Any, kind: str, mode: str = "completion",
              prompt: str | None = None) -> Trace:
    source: dict[str, Any] = {"format": fmt}
    if file:
        source["file"] = file
    return Trace(
        backend="import",
        model=clean_text(model) if isinstance(model, str) else "",
        request=Request(mode=mode, prompt=prompt, temperature=None, top_p=None, top_k=None,
                        max_tokens=None, alternatives=None),
        logprobs_kind=kind,
        source=source,
    )


def set_finish(trace: Trace, value: Any) -> None:
    """The trace's finish reason from the server's, with the error it means when it is one
    (`settle` then marks the trace incomplete)."""
    trace.finish_reason = finish_reason(value)
    if trace.finish_reason == "error" and not trace.error:
        trace.error = finish_error(value)


def settle(trace: Trace, pieces: list[Piece], server_text: str | None,
           prompt_pieces: list[Piece] | None = None, echo: bool = False) -> Trace:
    """Give the steps their true bytes, rebuild `text` and offsets, and check the text.

    `pieces` belong to `trace.steps`, `prompt_pieces` to `trace.prompt_steps`. With `echo`
    the server's text holds the prompt and the completion (legacy completions), otherwise
    the completion only. The steps' bytes, decoded, are the trace's text. The server's text
    must equal it, or be a prefix of it (the server cut a stop word the tokens still hold).
    When the tokens cover only the start of the server's text the trace keeps what the
    tokens show and says so in `error`; any other difference means the file is not what it
    claims, and is refused. A trace whose finish reason is "error" (a content filter, an
    abort, an error the server reported) is incomplete, with the reason in `error`.
    """
    _settle(trace, pieces, server_text, prompt_pieces, echo)
    if trace.finish_reason == "error":
        trace.complete = False
        if not trace.error:
            trace.error = "the server stopped the answer with an error"
    return trace


def _settle(trace: Trace, pieces: list[Piece], server_text: str | None,
            prompt_pieces: list[Piece] | None, echo: bool) -> None:
    prompt_pieces = prompt_pieces or []
    if server_text is not None:
        server_text = clean_text(server_text)
    if echo:
        datas = _fit_or_labels(prompt_pieces + pieces, server_text)
    else:
        datas = [p.data for p in prompt_pieces] + _fit_or_labels(pieces, server_text)
    blank = 0
    for step, piece, data in zip(trace.prompt_steps + trace.steps, prompt_pieces + pieces, datas):
        if data != step.bytes:
            step.bytes = data
            step.token = token_label(data)
        if piece.hidden is not None:
            name_hidden_chosen(step)
            blank += not data
    guessed = _guessed_runs(prompt_pieces + pieces, datas)
    if guessed:
        add_note(trace, f"{guessed} run(s) of tokens hiding their bytes cover more bytes than "
                        "tokens: the run's bytes are exact, their split among its tokens is "
                        "a guess")
    if blank:
        add_note(trace, f"{blank} token(s) show no text: the server's text has no bytes for "
                        "them (byte pieces of a character the server dropped, or special "
                        "tokens)")
    if trace.prompt_steps:
        settle_prompt(trace)
    trace.rebuild_text()
    if server_text is None:
        return
    ours = (trace.request.prompt or "") + trace.text if echo else trace.text
    if ours == server_text or ours.startswith(server_text):
        return  # equal, or the tokens go on past a stop word the server cut: kept
    if server_text.startswith(ours):
        trace.complete = False
        cover = (f"the logprobs cover only the first {len(ours)} of "
                 f"{len(server_text)} characters of the response text")
        trace.error = f"{trace.error}; {cover}" if trace.error else cover
        return
    at = next((k for k, (a, b) in enumerate(zip(ours, server_text)) if a != b),
              min(len(ours), len(server_text)))
    raise FormatError(f"the tokens do not spell the response text (they differ at "
                      f"character {at})")


def _guessed_runs(pieces: list[Piece], datas: list[bytes]) -> int:
    """Runs of hidden tokens whose split the text does not fix (more bytes than tokens)."""
    count, i, n = 0, 0, len(pieces)
    while i < n:
        if pieces[i].hidden is None:
            i += 1
            continue
        j = i
        while j < n and pieces[j].hidden is not None:
            j += 1
        if j - i > 1 and sum(len(d) for d in datas[i:j]) > j - i:
            count += 1
        i = j
    return count


def add_note(trace: Trace, note: str) -> None:
    """A remark about how the file was read, kept in `source["note"]`."""
    old = trace.source.get("note")
    note = clean_text(note)
    trace.source["note"] = f"{old}; {note}" if old else note


def settle_prompt(trace: Trace) -> None:
    """Offsets of the prompt steps, and the prompt text they spell."""
    assembler = TextAssembler()
    for s in trace.prompt_steps:
        s.offset = assembler.add(s.data)
    trace.request.prompt = assembler.finish()


def _fit_or_labels(pieces: list[Piece], text: str | None) -> list[bytes]:
    if text is not None:
        fitted = fit_to_text(pieces, text)
        if fitted is not None:
            return fitted
    return [p.data for p in pieces]
