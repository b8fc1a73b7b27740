"""Ollama's native response shapes with logprobs (tests/fixtures/ollama, sources named in its
README): /api/generate and /api/chat, streamed and whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tokenprobe.errors import FormatError
from tokenprobe.formats import ollama
from tokenprobe.trace import Trace

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ollama"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def parse(name: str) -> Trace:
    traces = ollama.parse(load(name), name)
    assert len(traces) == 1
    return traces[0]


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_every_fixture_is_claimed(name: str) -> None:
    assert ollama.matches(load(name))


def test_generate_stream_and_whole_give_the_same_trace() -> None:
    a, b = parse("generate_stream.json"), parse("generate_whole.json")
    assert [s.to_dict() for s in a.steps] == [s.to_dict() for s in b.steps]
    assert a.text == "The sky is blue" and a.finish_reason == "length"
    assert a.logprobs_kind == "raw" and a.model == "gemma3" and a.request.mode == "completion"
    first = a.steps[0]
    assert first.logprob == pytest.approx(-0.8361086845397949)
    assert [(c.token, c.logprob) for c in first.top] == [
        ("The", -0.8361086845397949), ("Okay", -1.2590975761413574),
        ("That", -1.2686877250671387)]
    assert first.entropy is not None and not first.entropy_exact


def test_chat_with_a_character_split_into_bytes() -> None:
    t = parse("chat_stream.json")
    assert t.request.mode == "chat" and t.finish_reason == "stop"
    assert t.text == "Hello from 曇!" and t.text == t.data.decode()
    # Go writes U+FFFD for each byte token; the bytes are the truth.
    assert [s.data for s in t.steps[3:6]] == [b"\xe6", b"\x9b", b"\x87"]
    assert t.steps[3].top[0].data == b"\xe6"
    assert t.steps[1].token == " from" and t.steps[1].rank() == 2


def test_thinking_is_kept_apart() -> None:
    t = parse("chat_thinking_stream.json")
    assert t.text == "4" and t.reasoning is not None and t.reasoning.text == "Easy."
    assert [s.token for s in t.reasoning.steps] == ["Easy", "."]


def test_an_ollama_without_logprobs_is_named() -> None:
    with pytest.raises(FormatError, match=r"no logprobs.*0\.12\.11"):
        parse("generate_without_logprobs.json")


def test_a_stream_without_its_last_chunk_is_incomplete() -> None:
    docs = load("generate_stream.json")[:-1]
    t = ollama.parse(docs)[0]
    assert not t.complete and "done: true" in (t.error or "")
    assert t.text == "The sky is blue"


@pytest.mark.parametrize("doc, message", [
    ([{"model": "m", "response": "x", "done": False, "logprobs": {"token": "x"}}],
     "logprobs must be a JSON array"),
    ([{"model": "m", "response": "x", "done": False, "logprobs": [{"logprob": -1}]}],
     r"logprobs\[0\].token must be a string"),
    ([{"model": "m", "response": "x", "done": False,
       "logprobs": [{"token": "x", "logprob": -1, "top_logprobs": [5]}]}],
     r"top_logprobs\[0\] must be a JSON object"),
    ([{"error": "model 'nope' not found"}], "error from the server: model 'nope' not found"),
    ([], "empty list"),
])
def test_malformed_input_is_one_line(doc: Any, message: str) -> None:
    with pytest.raises(FormatError, match=message) as info:
        ollama.parse(doc)
    assert "\n" not in str(info.value)


def test_what_it_does_not_claim() -> None:
    assert not ollama.matches({"choices": [], "done": True, "response": ""})
    assert not ollama.matches({"content": "x", "stop": True})
    assert not ollama.matches([])
