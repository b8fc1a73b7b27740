"""Scoring a given text through an OpenAI-compatible server: its prompt logprobs.

- `score(text)`: `/completions` with `echo: true`, `logprobs: N` and one generated token
  (dropped). The echoed tokens are the text's; a server that puts a control token before
  them (vLLM's `<bos>`, which its `text` leaves out) gives a first step marked `special`
  with empty bytes (formats/openai_completions.engine_special), so the scores are those of
  the text as the model saw it. Where the answer also carries vLLM's `prompt_logprobs`
  (vLLM computes them for echo), their ids, ranks and alternatives are merged into the
  echoed steps, whose bytes (fitted to the text) are kept.
- `score_continuation(request, answer)`: the answer's tokens after the prompt; in
  completion mode from the echo of prompt + answer, in chat mode from vLLM's
  `prompt_logprobs` of the conversation with the answer as a final assistant message
  (`continue_final_message`), which other servers refuse (one line).

What the numbers are: prompt logprobs skip the sampling processors, so they are raw
log-probabilities whatever the server's processing (a server declared "processed" gives
raw scores), or raw logits from a server that reports logits (formats/vllm_values.py).

It leaves out generation (backends/openai.py) and the wire shapes (formats/).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tokenprobe.backends.livefit import trim_top
from tokenprobe.backends.server_errors import ServerError, parse_json
from tokenprobe.errors import ModelError
from tokenprobe.formats import openai_chat, openai_completions, vllm
from tokenprobe.formats.trace_finish import add_note
from tokenprobe.formats.wire_tokens import Piece, fit_to_text, token_piece
from tokenprobe.textbytes import token_label
from tokenprobe.trace import Request, Step, Trace

if TYPE_CHECKING:
    from tokenprobe.backends.openai import OpenAIBackend

PROMPT_KIND_NOTE = ("prompt logprobs are computed before any sampling processing: raw, "
                    "whatever the server's processing")


def score_kind(declared: str | None, found: str | None) -> str:
    """The logprobs_kind of scored tokens: logits stay logits; logprobs are raw (prompt
    logprobs skip temperature and the samplers), unknown stays unknown."""
    if found == "logits" or declared == "logits":
        return "logits"
    return "unknown" if declared == "unknown" else "raw"


def _score_request(text: str, alternatives: int) -> Request:
    return Request(mode="score", prompt=text, temperature=None, top_p=None, top_k=None,
                   max_tokens=None, alternatives=alternatives)


def _echo_params(backend: OpenAIBackend, prompt: str, alternatives: int) -> dict[str, Any]:
    params: dict[str, Any] = {"model": backend.model, "prompt": prompt, "echo": True,
                              "logprobs": alternatives, "max_tokens": 1, "temperature": 0.0}
    if backend.extra_body:
        params["extra_body"] = dict(backend.extra_body)
    return params


def echo(backend: OpenAIBackend, prompt: str, alternatives: int) -> tuple[Trace, vllm.Reader]:
    """The prompt's tokens and logprobs from `/completions` with echo."""
    params = _echo_params(backend, prompt, alternatives)
    req = _score_request(prompt, alternatives)
    with backend.conn.errors(alternatives):
        try:
            doc = backend.conn.whole(backend.client.completions, params, alternatives)
        except backend.conn.openai.BadRequestError as e:
            msg = backend.conn.refusal(e)
            if "logprob" in msg.lower() and "max" in msg.lower():
                raise  # a cap on alternatives: the status error names it
            raise ServerError(f"{backend.where} cannot score a given text (it refused "
                              f"echo with logprobs): {msg}") from None
    return _read_echo(backend, doc, req)


def _read_echo(backend: OpenAIBackend, doc: Any, req: Request) -> tuple[Trace, vllm.Reader]:
    alternatives = req.alternatives or 0
    reader = vllm.Reader(alternatives, backend.declared_kind)
    with backend.conn.errors(alternatives):
        if not isinstance(doc, dict):
            raise ServerError(f"{backend.where} answered with JSON that is not an object")
        model, usage, gathered = openai_completions.gather(doc)
        got = openai_completions.build(gathered[min(gathered)], 0, model, usage, None,
                                       vllm.NAME, reader.completion_logprobs)
        plp = next((c.get("prompt_logprobs") for c in gathered[min(gathered)]["raw"]
                    if c.get("prompt_logprobs") is not None), None)
        if plp is not None and got.prompt_steps:
            vllm.merge_prompt_logprobs(got.prompt_steps, reader, plp)
    if not got.prompt_steps:
        raise ServerError(f"{backend.where} cannot score a given text: it did not echo the "
                          "prompt's logprobs")
    return got, reader


async def afetch_score(backend: OpenAIBackend, text: str, alternatives: int,
                       client: Any) -> str:
    """The body of the echo that scores `text`, asked on an event loop (a batch)."""
    params = _echo_params(backend, text, alternatives)
    with backend.conn.errors(alternatives):
        return await backend.conn.apost(client, "/completions", params, alternatives)


def read_score(backend: OpenAIBackend, text: str, alternatives: int, body: str) -> Trace:
    """The score trace of an echo's body (from `afetch_score`; no connection needed)."""
    req = _score_request(text, alternatives)
    with backend.conn.errors(alternatives):
        doc = parse_json(body, backend.where)
    got, reader = _read_echo(backend, doc, req)
    return _score_trace(backend, text, alternatives, got, reader)


def score(backend: OpenAIBackend, text: str, alternatives: int = 10,
          progress: Any = None) -> Trace:
    got, reader = echo(backend, text, alternatives)
    trace = _score_trace(backend, text, alternatives, got, reader)
    if progress is not None:
        progress(len(trace.prompt_steps), len(trace.prompt_steps))
    return trace


def _score_trace(backend: OpenAIBackend, text: str, alternatives: int, got: Trace,
                 reader: vllm.Reader) -> Trace:
    trace = Trace(backend=backend.name, model=backend.model,
                  request=_score_request(text, alternatives),
                  logprobs_kind=score_kind(backend.declared_kind, reader.judge.kind),
                  source=backend.source())
    for s in got.prompt_steps:
        trim_top(s, alternatives)
    trace.prompt_steps = got.prompt_steps
    _notes(trace, got, reader, backend.declared_kind)
    if got.request.prompt != text:
        raise ServerError(f"{backend.where} echoed tokens that do not spell the text")
    trace.rebuild_text()
    return trace


def _notes(trace: Trace, got: Trace, reader: vllm.Reader, declared: str | None) -> None:
    if got.source.get("note"):
        add_note(trace, str(got.source["note"]))
    if reader.judge.note:
        add_note(trace, reader.judge.note)
    if declared == "processed":
        add_note(trace, PROMPT_KIND_NOTE)


def score_continuation(backend: OpenAIBackend, request: Request, answer: str,
                       alternatives: int = 10) -> Trace:
    if request.mode == "chat":
        steps, reader, note = _chat_answer_steps(backend, request, answer, alternatives)
    else:
        prompt = request.prompt or ""
        got, reader = echo(backend, prompt + answer, alternatives)
        note = got.source.get("note")
        cut = len(prompt.encode("utf-8"))
        steps, pos = [], 0
        for s in got.prompt_steps:
            if s.special and not s.data:
                continue  # the engine's <bos>: before the prompt, not part of the answer
            if pos >= cut:
                steps.append(s)
            elif pos + len(s.data) > cut:
                raise ModelError("the server's tokens cross the boundary between the prompt "
                                 "and the answer; end the prompt with a space or newline")
            pos += len(s.data)
    for s in steps:
        s.forced = True
        s.sample_logprob = None
        trim_top(s, alternatives)
    req = Request(**{**request.to_dict(), "max_tokens": len(steps),
                     "alternatives": alternatives, "stop": []})
    trace = Trace(backend=backend.name, model=backend.model, request=req,
                  logprobs_kind=score_kind(backend.declared_kind, reader.judge.kind),
                  source=backend.source())
    if note:
        add_note(trace, str(note))
    if reader.judge.note:
        add_note(trace, reader.judge.note)
    trace.steps = steps
    trace.rebuild_text()
    trace.finish_reason = "length"
    return trace


def _chat_answer_steps(backend: OpenAIBackend, request: Request, answer: str,
                       alternatives: int) -> tuple[list[Step], vllm.Reader, Any]:
    """The answer's tokens as vLLM scores them at the end of the conversation."""
    if "api.openai.com" in backend.base_url:
        raise ModelError(f"{backend.where} cannot score a fixed chat answer (the chat API has "
                         "no prompt logprobs); use completion mode")
    messages = [*(request.messages or []), {"role": "assistant", "content": answer}]
    extra = dict(backend.extra_body)
    extra.update({"prompt_logprobs": alternatives, "continue_final_message": True,
                  "add_generation_prompt": False})
    params: dict[str, Any] = {"model": backend.model, "messages": messages, "max_tokens": 1,
                              "temperature": 0.0, "extra_body": extra}
    reader = vllm.Reader(alternatives, backend.declared_kind)
    with backend.conn.errors(alternatives):
        try:
            doc = backend.conn.whole(backend.client.chat.completions, params, alternatives)
        except backend.conn.openai.BadRequestError as e:
            msg = backend.conn.refusal(e)
            raise ModelError(f"{backend.where} cannot score a fixed chat answer (it refused "
                             f"prompt logprobs after a final assistant message: {msg}); use "
                             "completion mode") from None
        plp = doc.get("prompt_logprobs") if isinstance(doc, dict) else None
        if not isinstance(plp, list):
            raise ModelError(f"{backend.where} cannot score a fixed chat answer (it returned "
                             "no prompt logprobs); use completion mode")
        openai_chat.gather(doc)  # the answer must be a chat completion
        reader.learn_prompt(plp, "prompt_logprobs")
        prompt = reader.prompt_steps(plp, doc.get("prompt_token_ids"), "prompt_logprobs")
    return _answer_suffix(prompt, answer), reader, None


def _answer_suffix(steps: list[Step], answer: str) -> list[Step]:
    """The last steps, which spell `answer` exactly (hidden bytes fitted to it)."""
    want = answer.encode("utf-8")
    for j in range(len(steps) - 1, -1, -1):
        tail = steps[j:]
        pieces = [token_piece(s.token) if not s.data or "\ufffd" in s.token
                  else Piece(s.token, s.data) for s in tail]
        vllm.completing_tokens(pieces)
        fitted = fit_to_text(pieces, answer)
        if fitted is not None and b"".join(fitted) == want:
            for s, data in zip(tail, fitted):
                if data != s.data:
                    s.bytes, s.token = data, token_label(data)
            return tail
        if sum(len(s.data) for s in tail) > len(want) + 4 * len(tail):
            break
    raise ModelError("the server's tokens of the conversation do not end with the answer "
                     "(the answer's first token joined the text before it)")

