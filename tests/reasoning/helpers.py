"""Reading an OpenAI-shaped answer's documents the way the live backend does (its
AnswerReader, then the same finishing steps), without a server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tokenprobe.backends.openai_reader import AnswerReader, sse_line
from tokenprobe.trace import Request, Trace

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reasoning"


def fixture_docs(name: str) -> list[dict[str, Any]]:
    """A fixture's JSON documents: an SSE file's chunks, or the one JSON response."""
    text = (FIXTURES / name).read_text(encoding="utf-8")
    if name.endswith(".sse"):
        docs = []
        for line in text.splitlines():
            doc, done = sse_line(line, "fixture")
            if done:
                break
            if doc is not None:
                docs.append(doc)
        return docs
    doc = json.loads(text)
    return doc if isinstance(doc, list) else [doc]


def live_read(docs: list[dict[str, Any]], stream: bool) -> Trace:
    """The trace the openai backend makes of these documents (as `OpenAIBackend._run` and
    `openai_batch._finish`)."""
    request = Request(mode="chat", messages=[{"role": "user", "content": "q"}],
                      alternatives=2)
    reader = AnswerReader("the server", [], request, chat=True, stream=stream)
    trace = Trace(backend="openai", model="m", request=request)
    for doc in docs:
        trace.steps += reader.feed(doc)
        reader.settle_trace(trace)
    trace.steps += reader.fitter.finish()
    trace.finish_reason = reader.end(True)
    trace.rebuild_text()
    reader.settle_trace(trace)
    reader.attach_prompt(trace)
    return trace


def message_texts(docs: list[dict[str, Any]]) -> tuple[str, str]:
    """(answer, thinking) as the server's documents say them, whole or streamed."""
    answer, thinking = [], []
    for d in docs:
        for ch in d.get("choices") or []:
            msg = ch.get("message") or ch.get("delta") or {}
            answer.append(msg.get("content") or "")
            thinking.append(msg.get("reasoning_content") or msg.get("reasoning") or "")
    return "".join(answer), "".join(thinking)
