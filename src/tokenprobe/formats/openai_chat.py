"""OpenAI chat completions: a whole response, a list of stream chunks, or raw SSE text.

Shape read (OpenAI API reference, "The chat completion object" and "The chat completion
chunk object"; the same shape from vLLM, llama.cpp server, llama-cpp-python, Ollama's and
LM Studio's OpenAI-compatible endpoints)::

    {"object": "chat.completion", "model": "...",
     "choices": [{"index": 0,
                  "message": {"role": "assistant", "content": "..." | null,
                              "refusal": "..." | null, "tool_calls": [...]},
                  "logprobs": {"content": [ITEM, ...] | null,
                               "refusal": [ITEM, ...] | null} | null,
                  "finish_reason": "stop" | "length" | "tool_calls" | "content_filter"}]}
    ITEM = {"token": "...", "logprob": -0.1, "bytes": [int, ...] | null,
            "top_logprobs": [{"token": "...", "logprob": -0.1, "bytes": [...] | null}, ...]}

A stream is a list of `chat.completion.chunk` objects whose choices carry `delta`
({role, content, refusal, tool_calls}) instead of `message`; each chunk's `logprobs.content`
holds the tokens of that chunk (zero, one or several). SSE text (`data: {...}` lines ending
in `data: [DONE]`) is split into chunks by formats/__init__.py.

Values: logprob -9999.0 is OpenAI's documented "not in the top 20" sentinel; exactly -100.0
is read as a clamp too (see `wire_values.openai_logprob`). Tokens that are part of a character
come as `bytes:\\xe6\\x9b` with the true `bytes`; vLLM writes U+FFFD with the replacement's
bytes, and llama-cpp-python an empty string with `bytes: null`: both are fitted to the
message text. The logprobs are raw (softmax of the logits, before temperature), as OpenAI's
and vLLM's defaults are.

Choices: a choice with text but `logprobs: null` is refused with a FormatError (a trace
without steps would break the rule that the text is its tokens); a choice without text
(tool calls only) gives a trace with no steps and a note in `source`. A refusal is read from
`logprobs.refusal` and its text is the refusal. One trace per choice.

Reasoning models: a message or delta may carry the thinking in `reasoning_content`
(llama.cpp, DeepSeek, vLLM before it renamed the field) or `reasoning` (vLLM after, Ollama's
OpenAI endpoint, OpenRouter), while `logprobs.content` holds the tokens of both parts. The
thinking becomes `Trace.reasoning`, its tokens routed chunk by chunk as a live stream routes
them (reasoning.PartRouter); the trace's steps and text are the answer's. Without a parser
on the server the thinking is inline in `content` between think tags: split by the tags'
tokens (reasoning.split_inline, via `split_thinking`).

Left out: the Responses API (openai_responses.py), legacy completions
(openai_completions.py), vLLM's `prompt_logprobs` (vllm.py).
"""

from __future__ import annotations

from typing import Any

from tokenprobe.errors import FormatError
from tokenprobe.formats._thinking import keep_thinking, split_thinking
from tokenprobe.formats.trace_finish import new_trace, set_finish, settle
from tokenprobe.formats.wire_tokens import (
    ItemsReader,
    Piece,
    chat_alternatives,
    make_step,
    token_piece,
    unknown_token_ids,
)
from tokenprobe.formats.wire_values import (
    choices,
    documents,
    need_dict,
    need_list,
    need_str,
    openai_logprob,
    opt_list,
    opt_str,
)
from tokenprobe.trace import Step, Trace

NAME = "openai.chat"
KIND = "raw"

def pieces_and_steps(items: Any, where: str) -> tuple[list[Piece], list[Step]]:
    pieces: list[Piece] = []
    steps: list[Step] = []
    for k, item in enumerate(need_list(items, where)):
        item = need_dict(item, f"{where}[{k}]")
        label = need_str(item.get("token"), f"{where}[{k}].token")
        if unknown_token_ids(label) and not isinstance(item.get("bytes"), list):
            raise FormatError(f"{where}[{k}] gives a token id only ({label}); tokenprobe "
                              "needs the token text (request without return_tokens_as_token_ids)")
        piece = token_piece(label, item.get("bytes"))
        top = chat_alternatives(opt_list(item.get("top_logprobs"), f"{where}[{k}].top_logprobs"),
                                f"{where}[{k}].top_logprobs")
        pieces.append(piece)
        steps.append(make_step(piece, openai_logprob(item.get("logprob")), None, top))
    return pieces, steps


def matches(doc: Any) -> bool:
    if isinstance(doc, list):
        return bool(doc) and all(_is_chunk(d) for d in doc)
    return _is_response(doc)


def _is_response(doc: Any) -> bool:
    if not isinstance(doc, dict):
        return False
    choices = doc.get("choices")
    return (doc.get("object") == "chat.completion" or (
        isinstance(choices, list) and bool(choices) and isinstance(choices[0], dict)
        and "message" in choices[0]))


def _is_chunk(doc: Any) -> bool:
    if not isinstance(doc, dict):
        return False
    if doc.get("object") == "chat.completion.chunk":
        return True
    choices = doc.get("choices")
    return (isinstance(choices, list) and bool(choices) and isinstance(choices[0], dict)
            and "delta" in choices[0])


class _Choice:
    """One choice, gathered from a whole response or from its stream chunks."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.refusal: list[str] = []
        self.items: list[Any] = []
        self.refusal_items: list[Any] = []
        self.logprobs_seen = False
        self.has_content = False
        self.finish: str | None = None
        self.tool_calls = 0
        # A reasoning model's thinking: its text, the field it came in, and each document's
        # (logprob items, thinking, content), so that its tokens can be routed per chunk.
        self.thinking: list[str] = []
        self.thinking_field: str | None = None
        self.docs: list[tuple[list[Any], str, str]] = []

    def add(self, choice: dict[str, Any], message: dict[str, Any], where: str) -> None:
        text = opt_str(message.get("content"), f"{where}.content")
        if text is not None:
            self.content.append(text)
            self.has_content = True
        refusal = opt_str(message.get("refusal"), f"{where}.refusal")
        if refusal is not None:
            self.refusal.append(refusal)
        self.tool_calls += len(opt_list(message.get("tool_calls"), f"{where}.tool_calls"))
        thought = ""
        for name in ("reasoning_content", "reasoning"):
            value = opt_str(message.get(name), f"{where}.{name}")
            if value:
                thought, self.thinking_field = value, self.thinking_field or name
                self.thinking.append(value)
                break
        lp = choice.get("logprobs")
        items: list[Any] = []
        if lp is not None:
            lp = need_dict(lp, f"{where}.logprobs")
            self.logprobs_seen = True
            items = opt_list(lp.get("content"), f"{where}.logprobs.content")
            self.items += items
            self.refusal_items += opt_list(lp.get("refusal"), f"{where}.logprobs.refusal")
        self.docs.append((items, thought, text or ""))
        if choice.get("finish_reason") is not None:
            self.finish = choice.get("finish_reason")


def parse(doc: Any, file: str | None = None, fmt: str = NAME,
          reader: ItemsReader | None = None) -> list[Trace]:
    """Traces (one per choice) from a chat completion or a list of its stream chunks.

    `reader` turns a choice's logprob items into pieces and steps (vllm.py passes its own,
    which knows token ids).
    """
    model, gathered = gather(doc)
    return [build(gathered[i], i, model, file, fmt, reader or pieces_and_steps)
            for i in sorted(gathered)]


def gather(doc: Any) -> tuple[Any, dict[int, _Choice]]:
    """(model, choices by index) from a whole response or its stream chunks."""
    model: Any = None
    gathered: dict[int, _Choice] = {}
    for where, d in documents(doc):
        model = model or d.get("model")
        for index, at, ch in choices(d, where):
            msg = ch.get("message") if ch.get("message") is not None else ch.get("delta")
            msg = need_dict(msg if msg is not None else {}, f"{at}.message")
            gathered.setdefault(index, _Choice()).add(ch, msg, at)
    if not gathered:
        raise FormatError("the response has no choices")
    return model, gathered


def build(ch: _Choice, index: int, model: Any, file: str | None, fmt: str,
          reader: ItemsReader) -> Trace:
    """One choice's trace: its steps with their true bytes, its text, its outcome."""
    trace = new_trace(fmt, file, model, KIND, mode="chat")
    trace.source["choice"] = index
    refused = not ch.items and bool(ch.refusal_items or ch.refusal)
    text = "".join(ch.refusal) if refused else "".join(ch.content)
    items = ch.refusal_items if refused else ch.items
    if text and not ch.logprobs_seen:
        raise FormatError(f"choice {index} has text but no logprobs (logprobs is null): the "
                          "server did not return them; ask with logprobs: true")
    if ch.thinking and not refused:
        pieces = keep_thinking(trace, ch.docs, ch.thinking_field or "reasoning_content",
                               lambda its: reader(its, f"choices[{index}].logprobs.content"))
    else:
        pieces, trace.steps = reader(items, f"choices[{index}].logprobs.content")
    set_finish(trace, ch.finish)
    if refused:
        trace.source["note"] = "the model refused; the text is the refusal"
    elif ch.tool_calls and not text:
        trace.source["note"] = (f"the answer is {ch.tool_calls} tool call(s), which carry no "
                                "logprobs")
    settle(trace, pieces, text if ch.has_content or refused else None)
    return split_thinking(trace)
