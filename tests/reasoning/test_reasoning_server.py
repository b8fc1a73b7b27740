"""A real reasoning answer: llama-server with a thinking chat template (conftest.py), read
by the openai backend streamed and whole. The trace's answer must be the server's
`content` and its thinking the server's `reasoning_content`, as the server itself gives
them for the same greedy request."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from tests.reasoning.helpers import FIXTURES

from tokenprobe.backends import BackendOptions
from tokenprobe.backends.openai import OpenAIBackend
from tokenprobe.metrics import summarize, thinking_summary
from tokenprobe.trace import Request

MESSAGES: list[dict[str, str]] = json.loads(
    (FIXTURES / "llamacpp_request.json").read_text(encoding="utf-8"))["messages"]


def server_message(base: str, max_tokens: int) -> dict[str, Any]:
    body = {"messages": MESSAGES, "max_tokens": max_tokens, "temperature": 0,
            "logprobs": True, "top_logprobs": 3}
    doc = httpx.post(f"{base}/v1/chat/completions", json=body, timeout=60).json()
    return doc["choices"][0]["message"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("stream", [True, False])
def test_thinking_and_answer_match_the_server(thinking_server: str, stream: bool) -> None:
    expected = server_message(thinking_server, 24)
    assert expected["reasoning_content"] and expected["content"]  # the template works
    backend = OpenAIBackend.from_spec("gemma", BackendOptions(
        base_url=f"{thinking_server}/v1", extra_body={"repeat_penalty": 1.0}))
    backend.use_stream = stream
    request = Request(mode="chat", messages=MESSAGES, temperature=0.0, max_tokens=24,
                      alternatives=3)
    trace = backend.stream(request).run()
    assert trace.complete, trace.error
    assert trace.text == expected["content"]
    assert trace.reasoning is not None
    assert trace.reasoning.text == expected["reasoning_content"]
    assert trace.reasoning.source == "reasoning_content"
    assert trace.reasoning.logprobs_for == ["reasoning", "answer"]
    start, end = trace.reasoning.text_steps or (0, 0)
    assert b"".join(s.data for s in trace.reasoning.steps[start:end]).decode() == \
        expected["reasoning_content"]
    if not stream:  # whole: the closing tag's tokens are there, after the thinking
        tail = b"".join(s.data for s in trace.reasoning.steps[end:]).decode()
        assert tail.strip() == "</think>"
    # The summary is the answer's; the thinking has its own.
    assert summarize(trace).tokens == len(trace.steps)
    t = thinking_summary(trace)
    assert t is not None and t.tokens == len(trace.reasoning.steps)
