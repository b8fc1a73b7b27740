"""Reading one OpenAI-compatible answer: its JSON documents (stream chunks, or one whole
response) into steps, the same way for a live stream, a whole body and the batch's worker
processes.

`AnswerReader.feed` takes one document and returns the steps that are ready (tokens whose
bytes are hidden wait in a `LiveFitter` until the text shows them); `end` says how the
answer ended, or why it is unusable (no logprobs, a cut stream, an error finish, tokens that
do not spell the text); `attach_prompt` adds vLLM's `prompt_logprobs` as prompt steps;
`settle_trace` records what the numbers are (`logprobs_kind`: declared, or proved by the
numbers, formats/vllm_values.py).
A reasoning model's thinking (`reasoning_content` or `reasoning` in messages and deltas) is
kept apart: its tokens are routed by `reasoning.PartRouter` (a chunk's text says which part
its tokens are; a whole response's tokens are split where the answer's text begins) into
`Trace.reasoning`, and only the answer's tokens are steps.
`sse_line` reads one line of a server-sent-event stream.

It leaves out making requests (backends/openai.py), retries and errors of the transport
(openai_transport.py), and the shapes themselves (formats/openai_chat.py,
openai_completions.py, vllm.py).
"""

from __future__ import annotations

from typing import Any

from tokenprobe.backends.livefit import LiveFitter
from tokenprobe.backends.server_errors import (
    NO_LOGPROBS_AFTER,
    ServerError,
    body_message,
    check_cover,
    no_logprobs,
    parse_json,
    scrub,
)
from tokenprobe.formats import openai_completions, vllm
from tokenprobe.formats.trace_finish import settle_prompt
from tokenprobe.formats.wire_tokens import fit_to_text, name_hidden_chosen
from tokenprobe.formats.wire_values import finish_error, finish_reason
from tokenprobe.reasoning import Part, PartRouter, Reasoning, ThinkingSteps, settle_reasoning
from tokenprobe.textbytes import token_label
from tokenprobe.trace import Request, Step, Trace

# The fields that carry a reasoning model's thinking in an OpenAI-shaped message or delta:
# llama.cpp, DeepSeek and vLLM before its rename write `reasoning_content`; vLLM after
# it, OpenRouter and Ollama's OpenAI endpoint `reasoning` (docs/servers.md).
THINKING_FIELDS = ("reasoning_content", "reasoning")


class _AnswerFitter(LiveFitter):
    """The answer's fitter: at the end it first takes the tokens the router still holds."""

    def __init__(self, alternatives: int | None, before_finish: Any) -> None:
        super().__init__(alternatives)
        self._before_finish = before_finish

    def finish(self, broken: bool = False) -> list[Step]:
        return self._before_finish(broken) + super().finish(broken)


class AnswerReader:
    """Reads one answer's JSON documents (stream chunks, or one whole response) into steps:
    the same reading for the synchronous and the asynchronous paths."""

    def __init__(self, where: str, secrets: list[str | None], request: Request, chat: bool,
                 stream: bool, kind: str | None = None, echo: bool = False) -> None:
        self.where = where
        # A completion asked with `echo`: the answer starts with the prompt's tokens (and
        # vLLM's <bos>), which become prompt steps; chat `echo` repeats a final assistant
        # message's text, which has no tokens.
        self.echo = echo
        self.request = request
        self.echo_steps: list[Step] | None = None
        # Top-k / top-p mask tokens (vLLM writes their -inf as -9999.0) only in the
        # processed distribution: a masked alternative in such a request proves it.
        self.may_mask = bool(request.top_k) or (request.top_p is not None
                                                 and request.top_p < 1.0)
        self.masked = False
        self.secrets = secrets
        self.stream = stream
        self.chat = chat
        self.fitter: LiveFitter = _AnswerFitter(request.alternatives, self._flush)
        # A reasoning model's thinking: its own fitter, and the router that says which
        # part each token is.
        self.router = PartRouter()
        self.thinking = LiveFitter(request.alternatives)
        self.reasoning: Reasoning | None = None
        self.thinking_taken = 0  # the thinking's steps a stream has passed on (take_thinking)
        self.ended = False
        # vLLM's reading is OpenAI's plus token ids (`return_tokens_as_token_ids`) and its
        # order of alternatives; on other servers it reads exactly as openai_chat does.
        self.vllm = vllm.Reader(request.alternatives, kind)
        self.prompt_logprobs: Any = None
        self.prompt_ids: Any = None
        self.seen_logprobs = False
        self.finish: str | None = None
        self.n = 0

    def feed(self, doc: Any) -> list[Step]:
        where = self.where
        if not isinstance(doc, dict):
            raise ServerError(f"{where} sent a chunk that is not a JSON object")
        if doc.get("error") is not None:  # vLLM and others report errors in-stream
            raise ServerError(f"{where} reported an error part-way: "
                              f"{scrub(body_message(doc), self.secrets)}")
        out: list[Step] = []
        if doc.get("prompt_logprobs") is not None:  # vLLM chat: on the response
            self.prompt_logprobs, self.prompt_ids = doc["prompt_logprobs"], doc.get(
                "prompt_token_ids")
        for choice in doc.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            if choice.get("prompt_logprobs") is not None:  # vLLM completions: on the choice
                self.prompt_logprobs, self.prompt_ids = choice["prompt_logprobs"], choice.get(
                    "prompt_token_ids")
            text, pieces, steps, has_lp = read_choice(choice, self.chat, f"chunk {self.n}",
                                                       self.vllm)
            thought = self._thought(choice) if self.chat else ""
            if self.echo and self.echo_steps is None and (text if self.chat else steps):
                text, pieces, steps = self._split_echo(choice, text, pieces, steps, doc)
            self.seen_logprobs = self.seen_logprobs or has_lp
            if self.may_mask and not self.masked:
                self.masked = any(c.logprob is None and c.logit is None
                                  for s in steps for c in s.top)
            think, answer = self.router.route(pieces, steps, thought, text)
            self._think(think)
            out += self.fitter.add(answer.pieces, answer.steps, answer.text)
            if not self.seen_logprobs and self.fitter.chunks_with_text >= NO_LOGPROBS_AFTER:
                raise no_logprobs(where)
            if choice.get("finish_reason") is not None:
                self.finish = choice["finish_reason"]
        self.n += 1
        return out

    def _thought(self, choice: dict[str, Any]) -> str:
        """The thinking text of one choice's message or delta ("" when none)."""
        msg = choice.get("delta") if choice.get("delta") is not None else choice.get("message")
        if not isinstance(msg, dict):
            return ""
        for name in THINKING_FIELDS:
            value = msg.get(name)
            if isinstance(value, str) and value:
                if self.reasoning is None:
                    self.reasoning = Reasoning(source=name)
                return value
        return ""

    def take_thinking(self) -> list[ThinkingSteps]:
        """The thinking's steps read since the last call, for a stream that shows them."""
        if self.reasoning is None or len(self.reasoning.steps) <= self.thinking_taken:
            return []
        new = self.reasoning.steps[self.thinking_taken:]
        self.thinking_taken = len(self.reasoning.steps)
        return [ThinkingSteps(new)]

    def _think(self, part: Part) -> None:
        if not (part.text or part.steps):
            return
        if self.reasoning is None:
            self.reasoning = Reasoning()
        self.reasoning.text += part.text
        self.reasoning.steps += self.thinking.add(part.pieces, part.steps, part.text)

    def _flush(self, broken: bool) -> list[Step]:
        """At the end: the tokens the router held go to their part; the thinking's last
        tokens are released."""
        self.ended = True
        think, answer = self.router.flush()
        self._think(think)
        out = LiveFitter.add(self.fitter, answer.pieces, answer.steps, answer.text)
        if self.reasoning is not None:
            self.reasoning.steps += self.thinking.finish(broken)
        return out

    def _split_echo(self, choice: dict[str, Any], text: str, pieces: list[Any],
                    steps: list[Step], doc: dict[str, Any]) -> tuple[str, list[Any], list[Step]]:
        """The echoed prompt out of the first answer with tokens: kept as prompt steps, and
        the text and tokens after it go on as the answer."""
        if self.chat:
            # vLLM's chat echo sends the final assistant message's text first, without
            # logprobs; the answer's tokens follow it.
            last = (self.request.messages or [{}])[-1]
            said = str(last.get("content") or "") if last.get("role") == "assistant" else ""
            self.echo_steps = []
            if said and text.startswith(said):
                text = text[len(said):]
            return text, pieces, steps
        prompt = self.request.prompt or ""
        usage = doc.get("usage") if isinstance(doc.get("usage"), dict) else {}
        n = openai_completions.prompt_count(steps, usage, [choice])
        if n is None or not text.startswith(prompt):
            return text, pieces, steps
        head, head_steps = pieces[:n], steps[:n]
        if head_steps:
            head_steps[0].logprob = None
            openai_completions.engine_special(head, head_steps[0], text)
        fitted = fit_to_text(head, prompt)
        if fitted is None or b"".join(fitted) != prompt.encode("utf-8"):
            raise ServerError(f"{self.where} echoed tokens that do not spell the prompt")
        for step, piece, data in zip(head_steps, head, fitted):
            if piece.hidden is not None or data != step.data:
                step.bytes, step.token = data, token_label(data)
                name_hidden_chosen(step)
        self.echo_steps = head_steps
        return text[len(prompt):], pieces[n:], steps[n:]

    def settle_trace(self, trace: Trace) -> None:
        """The trace's `logprobs_kind` as the numbers read so far say, with the reason in
        `source["note"]` when the numbers proved it rather than a declaration."""
        if self.reasoning is not None:
            trace.reasoning = self.reasoning
            if self.ended:
                settle_reasoning(self.reasoning, trace.steps)
        judge = self.vllm.judge
        note = judge.note
        if judge.kind is not None:
            trace.logprobs_kind = judge.kind
        elif self.masked:
            trace.logprobs_kind = "processed"
            note = ("alternatives masked by top-k/top-p (-9999) show the processed "
                    "distribution (vLLM's --logprobs-mode processed_logprobs)")
        if note and note not in str(trace.source.get("note", "")):
            old = trace.source.get("note")
            trace.source["note"] = f"{old}; {note}" if old else note

    def attach_prompt(self, trace: Trace) -> None:
        """vLLM's `prompt_logprobs` (asked for with --extra-body) as the trace's prompt steps;
        alternatives known by id only get the bytes the answer revealed."""
        self.vllm.fill_alternatives(trace.steps)
        if self.reasoning is not None:
            self.vllm.fill_alternatives(self.reasoning.steps)
            trace.reasoning = self.reasoning
            settle_reasoning(self.reasoning, trace.steps)
        if self.echo_steps:
            trace.prompt_steps = self.echo_steps
            if self.prompt_logprobs is not None:
                vllm.merge_prompt_logprobs(trace.prompt_steps, self.vllm, self.prompt_logprobs)
            settle_prompt(trace)
            return
        if self.prompt_logprobs is None:
            return
        self.vllm.learn_prompt(self.prompt_logprobs, "prompt_logprobs")
        trace.prompt_steps = self.vllm.prompt_steps(self.prompt_logprobs, self.prompt_ids,
                                                    "prompt_logprobs")
        settle_prompt(trace)

    def end(self, done: bool) -> str | None:
        """The finish reason, once the documents are over; or why the answer is unusable."""
        where = self.where
        if not done and self.finish is None:
            raise ServerError(f"{where} ended the stream before finishing its answer "
                              "(the connection was cut)")
        if self.finish is None and self.stream:
            # Every server sends a finish reason in its last chunk; a stream that ends
            # without one was stopped (llama-cpp-python's server stops a stream when
            # another request arrives, unless started with --interrupt_requests false).
            raise ServerError(f"{where} ended the stream without a finish reason (the "
                              "answer was stopped part-way)")
        if self.fitter.server_text and not self.seen_logprobs:
            raise no_logprobs(where)
        if finish_reason(self.finish) == "error":
            # A content filter, an abort, an error: the answer is not whole (the tokens are
            # kept, as for any failure part-way).
            raise ServerError(finish_error(self.finish, where))
        check_cover(bytes(self.fitter.emitted), self.fitter.server_text, where)
        return finish_reason(self.finish)


def sse_line(line: str, where: str) -> tuple[Any, bool]:
    """(document or None, whether the stream is done) for one line of an SSE stream."""
    if not line.startswith("data:"):
        return (parse_json(line, where) if line.startswith("{") else None), False
    data = line[5:].strip(" \t")
    if data == "[DONE]":
        return None, True
    return (parse_json(data, where) if data else None), False


def read_choice(choice: dict[str, Any], chat: bool, where: str,
                 reader: vllm.Reader) -> tuple[str, list[Any], list[Step], bool]:
    """(text, pieces, steps, logprobs present) of one choice of one chunk or response."""
    lp = choice.get("logprobs")
    if chat:
        msg = choice.get("delta") if choice.get("delta") is not None else choice.get("message")
        msg = msg if isinstance(msg, dict) else {}
        text = msg.get("content") or ""
        items: Any = []
        if isinstance(lp, dict):
            items = lp.get("content") or []
            if not items and lp.get("refusal"):
                items = lp["refusal"]
        if not text and msg.get("refusal"):
            text = msg["refusal"]
        if not isinstance(text, str):
            raise ServerError(f"{where}: the message content is not text")
        pieces, steps = reader.chat_items(items, f"{where}.logprobs.content")
        return text, pieces, steps, isinstance(lp, dict)
    text = choice.get("text") or ""
    if not isinstance(text, str):
        raise ServerError(f"{where}: the choice's text is not text")
    if not isinstance(lp, dict):
        return text, [], [], False
    pieces, steps = reader.completion_logprobs(lp, f"{where}.logprobs")
    return text, pieces, steps, True
