"""OpenAI's Responses API (`/v1/responses`): a whole response, or its list of stream events.

Shape read (OpenAI API reference, "The response object" and "Streaming events"; the
`openai` SDK's types/responses/response_output_text.py and response_text_delta_event.py),
with `include: ["message.output_text.logprobs"]` and `top_logprobs: N` in the request::

    {"object": "response", "model": "...", "status": "completed" | "incomplete" | "failed",
     "incomplete_details": {"reason": "max_output_tokens" | "content_filter"} | null,
     "output": [{"type": "reasoning", ...},
                {"type": "message", "role": "assistant",
                 "content": [{"type": "output_text", "text": "...",
                              "logprobs": [ITEM, ...]},
                             {"type": "refusal", "refusal": "..."}]},
                {"type": "function_call", ...}]}
    ITEM = {"token": "...", "logprob": -0.1, "bytes": [int, ...],
            "top_logprobs": [{"token": "...", "logprob": -0.1, "bytes": [...]}]}

One trace per response: its text is every `output_text` part of every message, in order,
and its steps are their logprobs. Tool calls carry no logprobs and are not part of the
text (a note says they were there). A reasoning item (`{"type": "reasoning", "content":
[{"type": "reasoning_text", "text": ...}], "summary": [{"type": "summary_text", "text":
...}]}`) becomes `Trace.reasoning`: the thinking's own text where the server gives it
(`reasoning_text`: vLLM, open-weight models), source `responses`; only a summary of it
(OpenAI's hosted reasoning models, which give no thinking), source `responses_summary`; its
tokens where a part carries `logprobs` (none of the servers documented does). Streamed, the
`response.reasoning_text.delta` and `response.reasoning_summary_text.delta` events.
A stream is a list of events: the `response.completed` / `response.incomplete` event's
full response is read when it holds the logprobs; otherwise the
`response.output_text.delta` events are joined (their items have no `bytes`, so partial
characters are fitted to the text). An `output_text` with text and `logprobs: null` or
missing (not asked for) is refused. The logprobs are raw, as for chat.

It leaves out chat completions (openai_chat.py).
"""

from __future__ import annotations

from typing import Any

from tokenprobe.errors import FormatError
from tokenprobe.formats import openai_chat
from tokenprobe.formats.trace_finish import add_note, new_trace, set_finish, settle
from tokenprobe.formats.wire_tokens import Piece
from tokenprobe.formats.wire_values import clean_text, finish_reason, need_dict, opt_list, opt_str
from tokenprobe.reasoning import Reasoning, settle_reasoning
from tokenprobe.trace import Step, Trace

NAME = "openai.responses"
KIND = "raw"
_FINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")


def matches(doc: Any) -> bool:
    if isinstance(doc, list):
        return bool(doc) and all(
            isinstance(d, dict) and str(d.get("type", "")).startswith("response.")
            for d in doc)
    return isinstance(doc, dict) and (doc.get("object") == "response" or (
        isinstance(doc.get("output"), list) and "status" in doc and "choices" not in doc))


def parse(doc: Any, file: str | None = None) -> list[Trace]:
    if not isinstance(doc, list):
        return [_from_response(need_dict(doc, "response"), file)]
    final = None
    for n, ev in enumerate(doc):
        ev = need_dict(ev, f"event {n}")
        if ev.get("type") in _FINAL_EVENTS and isinstance(ev.get("response"), dict):
            final = ev["response"]
    if final is not None and _has_logprobs(final):
        return [_from_response(final, file)]
    return [_from_deltas(doc, final, file)]


def _has_logprobs(resp: dict[str, Any]) -> bool:
    output = resp.get("output")
    return any(isinstance(part, dict) and part.get("logprobs")
               for item in (output if isinstance(output, list) else [])
               if isinstance(item, dict) and isinstance(item.get("content"), list)
               for part in item["content"])


def _from_response(resp: dict[str, Any], file: str | None) -> Trace:
    trace = new_trace(NAME, file, resp.get("model"), KIND, mode="chat")
    texts: list[str] = []
    pieces: list[Piece] = []
    steps: list[Step] = []
    others: list[str] = []
    refusal: list[str] = []
    thinking = Thinking()
    for i, item in enumerate(opt_list(resp.get("output"), "output")):
        item = need_dict(item, f"output[{i}]")
        if item.get("type") == "reasoning":
            if not thinking.add_item(item, f"output[{i}]"):
                others.append("reasoning (no text)")  # encrypted, or not summarised
            continue
        if item.get("type") != "message":
            others.append(str(item.get("type", "item")))
            continue
        for j, part in enumerate(opt_list(item.get("content"), f"output[{i}].content")):
            where = f"output[{i}].content[{j}]"
            part = need_dict(part, where)
            if part.get("type") == "refusal":
                refusal.append(opt_str(part.get("refusal"), f"{where}.refusal") or "")
                continue
            if part.get("type") != "output_text":
                continue
            text = opt_str(part.get("text"), f"{where}.text") or ""
            if text and part.get("logprobs") is None:
                raise FormatError(f"{where} has text but no logprobs: ask with include: "
                                  "[\"message.output_text.logprobs\"]")
            p, s = openai_chat.pieces_and_steps(opt_list(part.get("logprobs"),
                                                         f"{where}.logprobs"),
                                                f"{where}.logprobs")
            texts.append(text)
            pieces += p
            steps += s
    trace.steps = steps
    _outcome(trace, resp, others, refusal)
    settle(trace, pieces, "".join(texts))
    return thinking.attach(trace)


def _from_deltas(events: list[Any], final: dict[str, Any] | None, file: str | None) -> Trace:
    model = final.get("model") if final else None
    texts: list[str] = []
    items: list[Any] = []
    seen = False
    thinking = Thinking()
    for n, ev in enumerate(events):
        if ev.get("type") == "response.created" and isinstance(ev.get("response"), dict):
            model = model or ev["response"].get("model")
        if ev.get("type") in THINKING_EVENTS:
            thinking.add_delta(ev, f"event {n}")
            continue
        if ev.get("type") != "response.output_text.delta":
            continue
        texts.append(opt_str(ev.get("delta"), f"event {n}.delta") or "")
        if ev.get("logprobs") is not None:
            seen = True
            items += opt_list(ev.get("logprobs"), f"event {n}.logprobs")
    text = "".join(texts)
    if text and not seen:
        raise FormatError("the stream's text has no logprobs: ask with include: "
                          "[\"message.output_text.logprobs\"]")
    trace = new_trace(NAME, file, model, KIND, mode="chat")
    pieces, trace.steps = openai_chat.pieces_and_steps(items, "logprobs")
    if final is not None:
        _outcome(trace, final, [], [])
    else:
        trace.complete, trace.error = False, "the stream ended before the response was complete"
    settle(trace, pieces, text)
    return thinking.attach(trace)


THINKING_EVENTS = ("response.reasoning_text.delta", "response.reasoning_summary_text.delta")


class Thinking:
    """The reasoning items of a response, or the deltas of a stream: the thinking's own
    text where the server gave it, else its summary, and its tokens where a part has
    logprobs."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.summary: dict[Any, list[str]] = {}  # each summary part's text, in order
        self.pieces: list[Piece] = []
        self.steps: list[Step] = []

    def add_item(self, item: dict[str, Any], where: str) -> bool:
        """Read one reasoning item; False when it holds no text (encrypted only)."""
        before = len(self.text) + len(self.summary)
        for j, part in enumerate(opt_list(item.get("content"), f"{where}.content")):
            part = need_dict(part, f"{where}.content[{j}]")
            if part.get("type") == "reasoning_text":
                self.text.append(opt_str(part.get("text"), f"{where}.content[{j}].text") or "")
                if part.get("logprobs"):
                    p, s = openai_chat.pieces_and_steps(part["logprobs"],
                                                        f"{where}.content[{j}].logprobs")
                    self.pieces += p
                    self.steps += s
        for j, part in enumerate(opt_list(item.get("summary"), f"{where}.summary")):
            part = need_dict(part, f"{where}.summary[{j}]")
            if part.get("type") == "summary_text":
                self.summary[(where, j)] = [opt_str(part.get("text"),
                                                    f"{where}.summary[{j}].text") or ""]
        return len(self.text) + len(self.summary) > before

    def add_delta(self, ev: dict[str, Any], where: str) -> None:
        delta = opt_str(ev.get("delta"), f"{where}.delta") or ""
        if ev.get("type") == "response.reasoning_text.delta":
            self.text.append(delta)
            if ev.get("logprobs"):
                p, s = openai_chat.pieces_and_steps(ev["logprobs"], f"{where}.logprobs")
                self.pieces += p
                self.steps += s
        else:
            key = (ev.get("item_id"), ev.get("summary_index"))
            self.summary.setdefault(key, []).append(delta)

    def attach(self, trace: Trace) -> Trace:
        if not (self.text or self.summary):
            return trace
        if self.text:
            trace.reasoning = Reasoning(text="".join(self.text), steps=self.steps,
                                        source="responses")
        else:
            trace.reasoning = Reasoning(text="\n\n".join("".join(p)
                                                          for p in self.summary.values()),
                                        source="responses_summary")
            add_note(trace, "the reasoning is the server's summary of the thinking, not "
                            "the thinking itself")
        settle_reasoning(trace.reasoning, trace.steps)
        return trace


def _outcome(trace: Trace, resp: dict[str, Any], others: list[str], refusal: list[str]) -> None:
    status = resp.get("status")
    details = resp.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, dict) else None
    if status == "incomplete":
        set_finish(trace, reason)
        trace.finish_reason = trace.finish_reason or "length"
    elif status == "failed":
        err = resp.get("error")
        msg = err.get("message") if isinstance(err, dict) else None
        trace.finish_reason, trace.complete = "error", False
        trace.error = (f"the response failed: {clean_text(msg)[:200]}" if isinstance(msg, str)
                       and msg else "the response failed")
    else:
        trace.finish_reason = finish_reason(status)
    if others:
        add_note(trace, f"the output also holds {', '.join(sorted(set(others)))}, which carry "
                        "no logprobs")
    if refusal and not trace.steps:
        add_note(trace, "the model refused: " + " ".join(refusal)[:200])
