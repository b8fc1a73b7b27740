"""Ollama's native API (`/api/generate`, `/api/chat`): a whole response or its NDJSON chunks.

Shape read (ollama/ollama: docs/api.md, the v0.12.11 release notes that introduced
logprobs, PR #12899; `api.Logprob` in api/types.go, `CalculateLogprobs` in
runner/common/logprob.go)::

    {"model": "gemma3", "created_at": "...", "done": false,
     "response": "The",                                   # /api/generate
     "message": {"role": "assistant", "content": "The",   # /api/chat
                 "thinking": "..."},
     "thinking": "...",                                   # /api/generate, thinking models
     "logprobs": [{"token": "The", "logprob": -0.83, "bytes": [84, 104, 101],
                   "top_logprobs": [{"token": "...", "logprob": -1.2, "bytes": [...]}]}]}
    last: {"done": true, "done_reason": "stop" | "length", "eval_count": int, ...}
    error: {"error": "message"}

- `logprobs: true` gives each token's logprob; `top_logprobs: N` (0-20) the N most likely
  tokens, which may or may not include the chosen one. The runner takes a softmax of the
  raw logits (before temperature and the samplers): "raw".
- A chunk may carry several entries (text held back for a stop sequence or a partial
  character is released with its tokens) or none. `bytes` are the token's own bytes, so a
  token that is part of a character is exact; Go writes invalid UTF-8 in `token` as U+FFFD.
- End-of-generation tokens are not reported; tokens of a stop sequence are dropped with it.
- An Ollama older than 0.12.11 ignores `logprobs` and answers without the field: the
  importer says so instead of inventing a trace without numbers.

With `thinking` (a thinking model, `think` on), a chunk's `logprobs` are the tokens of the
text it carries, thinking or answer, and a chunk the parser sends without text carries the
tokens it swallowed (`<think>`, `</think>`; server/routes.go sends a chunk with logprobs
even when its content and thinking are empty): the thinking becomes `Trace.reasoning`, routed
chunk by chunk (formats/_thinking.py), and the text check covers the answer.

It leaves out the HTTP side (backends/ollama.py) and Ollama's OpenAI-compatible endpoints
(openai_chat.py, openai_completions.py).
"""

from __future__ import annotations

from typing import Any

from tokenprobe.errors import FormatError
from tokenprobe.formats._thinking import keep_thinking, split_thinking
from tokenprobe.formats.trace_finish import new_trace, set_finish, settle
from tokenprobe.formats.wire_tokens import Piece, candidate, make_step, token_piece
from tokenprobe.formats.wire_values import logprob, need_dict, need_str, opt_list, opt_str
from tokenprobe.trace import Step, Trace

NAME = "ollama"
KIND = "raw"


def pieces_and_steps(entries: Any, where: str) -> tuple[list[Piece], list[Step]]:
    """Steps of one chunk's `logprobs` list."""
    pieces: list[Piece] = []
    steps: list[Step] = []
    for k, entry in enumerate(opt_list(entries, where)):
        entry = need_dict(entry, f"{where}[{k}]")
        piece = token_piece(need_str(entry.get("token"), f"{where}[{k}].token"),
                            entry.get("bytes"))
        top = []
        for j, alt in enumerate(opt_list(entry.get("top_logprobs"),
                                         f"{where}[{k}].top_logprobs")):
            alt = need_dict(alt, f"{where}[{k}].top_logprobs[{j}]")
            label = need_str(alt.get("token"), f"{where}[{k}].top_logprobs[{j}].token")
            top.append(candidate(token_piece(label, alt.get("bytes")),
                                 logprob(alt.get("logprob"))))
        pieces.append(piece)
        steps.append(make_step(piece, logprob(entry.get("logprob")), None, top))
    return pieces, steps


def chunk_text(doc: dict[str, Any], where: str) -> tuple[str, str, bool]:
    """(answer text, thinking text, is chat) of one chunk."""
    msg = doc.get("message")
    if msg is not None:
        msg = need_dict(msg, f"{where}.message")
        return (opt_str(msg.get("content"), f"{where}.message.content") or "",
                opt_str(msg.get("thinking"), f"{where}.message.thinking") or "", True)
    return (opt_str(doc.get("response"), f"{where}.response") or "",
            opt_str(doc.get("thinking"), f"{where}.thinking") or "", False)


def matches(doc: Any) -> bool:
    if isinstance(doc, list):
        return bool(doc) and all(_is_doc(d) for d in doc)
    return _is_doc(doc)


def _is_doc(doc: Any) -> bool:
    return (isinstance(doc, dict) and isinstance(doc.get("done"), bool)
            and ("response" in doc or "message" in doc) and "choices" not in doc)


def parse(doc: Any, file: str | None = None) -> list[Trace]:
    """One trace from an /api/generate or /api/chat response, or the list of its chunks."""
    docs = doc if isinstance(doc, list) else [doc]
    if not docs:
        raise FormatError("the file holds an empty list, not an Ollama response")
    model: Any = None
    text: list[str] = []
    thinking: list[str] = []
    pieces: list[Piece] = []
    steps: list[Step] = []
    parts: list[tuple[Any, str, str]] = []
    seen = False
    chat = False
    done = False
    reason: Any = None
    for n, d in enumerate(docs):
        where = f"chunk {n}" if isinstance(doc, list) else "response"
        d = need_dict(d, where)
        if d.get("error") is not None:
            raise FormatError(f"{where} is an error from the server: {d['error']}")
        model = model or d.get("model")
        answer, thought, is_chat = chunk_text(d, where)
        chat = chat or is_chat
        text.append(answer)
        thinking.append(thought)
        parts.append((d.get("logprobs"), thought, answer))
        if d.get("logprobs") is not None:
            seen = True
            p, s = pieces_and_steps(d["logprobs"], f"{where}.logprobs")
            pieces += p
            steps += s
        if d.get("done") is True:
            done = True
            reason = d.get("done_reason")
    answer_text, thought_text = "".join(text), "".join(thinking)
    if (answer_text or thought_text) and not seen:
        raise FormatError("the response has text but no logprobs: the server did not return "
                          "them (Ollama reports them from 0.12.11 on; ask with logprobs: true)")
    trace = new_trace(NAME, file, model, KIND, mode="chat" if chat else "completion")
    trace.steps = steps
    set_finish(trace, reason)
    if thought_text:
        pieces = keep_thinking(trace, parts, "thinking",
                               lambda entries: pieces_and_steps(entries, "logprobs"))
    settle(trace, pieces, answer_text)
    split_thinking(trace)
    if not done and isinstance(doc, list):
        trace.complete = False
        trace.error = trace.error or "the stream ended before its last chunk (done: true)"
    return [trace]
