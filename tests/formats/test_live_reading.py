"""The OpenAI-compatible backend reads a live answer as the importer reads the saved one.

The backend's reader (backends/openai_reader.py `AnswerReader`) is fed the recorded documents of
tests/fixtures as a server would send them whole; the trace it makes must equal the
imported trace: same tokens, bytes, ids, logprobs, alternatives, prompt steps (vLLM's
`prompt_logprobs`), text.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tokenprobe.backends.base import replay_steps
from tokenprobe.backends.openai import OpenAIBackend
from tokenprobe.backends.openai_reader import AnswerReader
from tokenprobe.errors import TokenprobeError
from tokenprobe.formats import load_all
from tokenprobe.trace import Request, Step, Trace

FIXTURES = Path(__file__).parent.parent / "fixtures"


def live(path: Path, alternatives: int) -> Trace:
    doc = json.loads(path.read_text(encoding="utf-8"))
    chat = "message" in doc["choices"][0]
    backend = OpenAIBackend("m", "http://127.0.0.1:9/v1", None, stream=False)
    request = Request(mode="chat" if chat else "completion", alternatives=alternatives)
    reader = AnswerReader(backend.where, [], request, chat, stream=False)
    steps = reader.feed(doc) + reader.fitter.finish()
    trace = replay_steps(backend, request, steps, reader.end(True), None)
    reader.attach_prompt(trace)
    return trace


def view(steps: list[Step]) -> list[object]:
    return [(s.data, s.id, s.logprob, [(c.data, c.id, c.logprob) for c in s.top])
            for s in steps]


@pytest.mark.parametrize(("name", "alternatives"), [
    ("vllm/chat_prompt_logprobs.json", 3), ("vllm/chat_token_ids.json", 2),
    ("vllm/completion_prompt_logprobs.json", 2), ("openai/chat.json", 2),
    ("llama-cpp-python/completion_stop.json", 2), ("llama-cpp-python/chat.json", 3),
])
def test_live_reading_equals_import(name: str, alternatives: int) -> None:
    path = FIXTURES / name
    got, want = live(path, alternatives), load_all(path)[0]
    assert got.text == want.text
    assert view(got.steps) == view(want.steps)
    assert view(got.prompt_steps) == view(want.prompt_steps)
    assert got.request.prompt == want.request.prompt or not want.prompt_steps
    assert got.finish_reason == want.finish_reason


def test_live_token_ids_without_text_are_refused_naming_the_flag() -> None:
    with pytest.raises(TokenprobeError, match="return_tokens_as_token_ids"):
        live(FIXTURES / "vllm" / "completion_token_ids.json", 1)
