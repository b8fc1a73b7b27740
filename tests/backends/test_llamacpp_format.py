"""The llama.cpp server's native response shapes (tests/fixtures/llamacpp, sources named in
its README): current and older, streamed and whole, raw and post-sampling."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from tokenprobe.errors import FormatError
from tokenprobe.formats import llamacpp
from tokenprobe.trace import Trace

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "llamacpp"
ALL = sorted(p.name for p in FIXTURES.glob("*.json"))


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def parse(name: str) -> Trace:
    traces = llamacpp.parse(load(name), name)
    assert len(traces) == 1
    return traces[0]


@pytest.mark.parametrize("name", ALL)
def test_every_fixture_reads_as_an_exact_trace(name: str) -> None:
    doc = load(name)
    assert llamacpp.matches(doc)
    t = parse(name)
    assert t.backend == "import" and t.source["format"] == "llamacpp"
    assert t.text == t.data.decode("utf-8")  # the text is exactly the tokens' bytes
    for s in t.steps:
        lps = [c.logprob for c in s.top if c.logprob is not None]
        assert lps == sorted(lps, reverse=True)
        assert len({(c.id, c.data) for c in s.top}) == len(s.top)
    again = Trace.from_dict(json.loads(t.to_json()))
    assert again.to_dict() == t.to_dict()


def test_stream_and_whole_answer_give_the_same_steps() -> None:
    a, b = parse("stream_raw.json"), parse("whole_raw.json")
    assert [s.to_dict() for s in a.steps] == [s.to_dict() for s in b.steps]
    assert a.text == b.text == " the capital of the country of"
    assert a.finish_reason == "length" and a.logprobs_kind == "raw"
    assert a.model == "gemma-3-270m-q4_k_m.gguf"
    first = a.steps[0]
    assert (first.token, first.id) == (" the", 506)
    assert first.logprob == pytest.approx(-1.6250953674316406)
    assert [c.token for c in first.top] == [" the", " a", " Paris"]
    # The server's generation settings fill in the request.
    assert (a.request.temperature, a.request.top_k, a.request.max_tokens,
            a.request.alternatives) == (0.0, 40, 6, 3)


def test_post_sampling_probabilities_are_processed() -> None:
    t = parse("stream_post_sampling.json")
    assert t.logprobs_kind == "processed"
    raw = load("stream_post_sampling.json")[0]["completion_probabilities"][0]
    assert t.steps[0].logprob == pytest.approx(math.log(raw["prob"]))
    # " of" was the only token left after the samplers: probability 1, one alternative.
    of = t.steps[2]
    assert of.token == " of" and of.logprob == 0.0 and len(of.top) == 1
    # The sampled token need not be the most likely one.
    assert t.steps[1].token == " city" and t.steps[1].rank() == 3
    assert t.request.temperature == pytest.approx(0.8) and t.request.seed == 3


@pytest.mark.parametrize("name", ["stream_partial_characters.json",
                                  "whole_partial_characters.json"])
def test_tokens_the_server_held_back_are_steps_without_logprobs(name: str) -> None:
    t = parse(name)
    assert t.text == "𩸽𩸽"
    assert [s.data for s in t.steps] == [b"\xf0\xa9\xb8", b"\xbd"] * 2
    held, last = t.steps[0], t.steps[1]
    assert held.logprob is None and held.id is None and held.top == []
    assert last.id == 427 and last.logprob == pytest.approx(-0.002010099356994033, rel=0.1)
    assert last.top[0].data == b"\xbd"  # its own byte, not the four the server sent with it
    assert "2 token(s) the server did not report" in t.source["note"]


def test_a_streamed_stop_word_keeps_its_tokens_past_the_text() -> None:
    t = parse("stream_stop_word.json")
    # The server's text is " the"; the tokens that made the stop word come with empty text
    # and keep their own bytes, as the local engine keeps them.
    assert t.text == " the capital of" and t.finish_reason == "stop" and t.complete
    assert [s.token for s in t.steps] == [" the", " capital", " of"]
    whole = parse("whole_stop_word.json")
    assert whole.text == " the" and [s.token for s in whole.steps] == [" the"]


def test_end_of_turn_is_a_step_with_no_bytes() -> None:
    t = parse("stream_chat_eos.json")
    assert t.text == "Say hi." and t.finish_reason == "stop"
    eot = t.steps[-1]
    assert eot.id == 106 and eot.data == b"" and eot.rank() is None
    assert eot.logprob == pytest.approx(-15.99344253540039)  # raw: before the logit bias


def test_older_shape() -> None:
    t = parse("old_whole.json")
    assert t.logprobs_kind == "processed" and t.finish_reason == "length"
    assert t.text == " Paris, the city of 曇"
    assert t.model == "ggml-model-q4_0.gguf"
    the = t.steps[2]
    assert the.token == " the" and the.rank() == 2
    assert the.logprob == pytest.approx(math.log(0.3897))
    # A character made of three `byte: \x..` tokens: their bytes, in order.
    assert [s.data for s in t.steps[-3:]] == [b"\xe6", b"\x9b", b"\x87"]
    # Probability 0 (a token the samplers removed) is not reported, never -inf.
    assert t.steps[-1].top[-1].logprob is None
    stream = parse("old_stream.json")
    assert [s.to_dict() for s in stream.steps] == [s.to_dict() for s in t.steps[:3]]
    assert stream.finish_reason == "length"


def test_held_back_text_is_given_to_its_own_tokens() -> None:
    """A token that might begin a stop word is sent with empty text; when the stop word does
    not follow, its bytes come with the next token's text. Each token keeps its own."""
    def chunk(tok: int, own: str, sent: str) -> dict[str, Any]:
        item = {"id": tok, "token": sent, "bytes": list(sent.encode()), "logprob": -0.5,
                "top_logprobs": [{"id": tok, "token": own, "bytes": list(own.encode()),
                                  "logprob": -0.5}]}
        return {"index": 0, "content": sent, "stop": False, "completion_probabilities": [item]}

    docs = [chunk(1, " the", " the"), chunk(2, " capital", ""),
            chunk(3, " city", " capital city"),
            {"index": 0, "content": "", "stop": True, "stop_type": "limit"}]
    reader = llamacpp.Reader()
    released = [[s.token for s in reader.feed(d, "chunk")] for d in docs]
    assert released == [[" the"], [], [" capital", " city"], []]
    t = llamacpp.parse(docs)[0]
    assert [s.token for s in t.steps] == [" the", " capital", " city"]


@pytest.mark.parametrize("doc, message", [
    ({"content": "Hi", "stop": True, "completion_probabilities": {"a": 1}},
     "completion_probabilities must be a JSON array"),
    ({"content": "Hi", "stop": True, "completion_probabilities": ["x"]},
     r"completion_probabilities\[0\] must be a JSON object"),
    ({"content": "Hi there", "stop": True, "tokens_predicted": 2},
     "has text but no completion_probabilities"),
    ([{"index": "0", "content": "", "stop": True, "completion_probabilities": []}],
     "index must be an integer"),
    ({"content": "ab", "stop": True, "completion_probabilities": [
        {"id": 1, "token": "a", "bytes": [97], "logprob": -1.0, "top_logprobs": []},
        {"id": 2, "token": "b", "bytes": [98], "prob": 0.5, "top_probs": []}]},
     "mixes logprobs and post-sampling probs"),
    ({"content": "xyz", "stop": True, "completion_probabilities": [
        {"id": 1, "token": "a", "bytes": [97], "logprob": -1.0, "top_logprobs": []}]},
     "do not spell the response text"),
])
def test_malformed_input_is_one_line(doc: Any, message: str) -> None:
    with pytest.raises(FormatError, match=message) as info:
        llamacpp.parse(doc)
    assert "\n" not in str(info.value)


def test_what_it_does_not_claim() -> None:
    assert not llamacpp.matches({"choices": [{"text": "x"}]})
    assert not llamacpp.matches({"schema": "tokenprobe/trace@1", "content": "x", "stop": True})
    assert not llamacpp.matches({"model": "m", "response": "x", "done": True})
    assert not llamacpp.matches([])
