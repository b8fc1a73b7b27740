"""A reasoning model's thinking kept apart from its answer, by every reader of the OpenAI
chat shape: the live reader (stream and whole) and the importer, on answers recorded from
llama.cpp's llama-server and on vLLM's shapes written from its source
(tests/fixtures/reasoning/README.md)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from tests.reasoning.helpers import FIXTURES, fixture_docs, live_read, message_texts

import tokenprobe
from tokenprobe.metrics import summarize, thinking_summary
from tokenprobe.trace import Trace

RECORDED = ["llamacpp_chat_whole.json", "llamacpp_chat_stream.sse",
            "vllm_chat_whole.json", "vllm_chat_stream.json", "vllm_chat_stream_old.json"]


@pytest.mark.parametrize("name", RECORDED)
def test_live_reader_keeps_the_thinking_apart(name: str) -> None:
    docs = fixture_docs(name)
    answer, thinking = message_texts(docs)
    assert answer and thinking  # the fixture has both parts
    trace = live_read(docs, stream=len(docs) > 1)
    assert trace.text == answer
    assert trace.reasoning is not None
    assert trace.reasoning.text == thinking
    assert trace.reasoning.steps and all(s.logprob is not None for s in trace.reasoning.steps)
    assert trace.reasoning.logprobs_for == ["reasoning", "answer"]
    start, end = trace.reasoning.text_steps or (0, -1)
    spelled = b"".join(s.data for s in trace.reasoning.steps[start:end]).decode()
    assert spelled == thinking
    # No token is lost or counted twice: each token of the whole answer is in one part.
    items = [it for d in docs for ch in d["choices"]
             for it in ((ch.get("logprobs") or {}).get("content") or [])]
    assert len(trace.reasoning.steps) + len(trace.steps) == len(items)
    assert [s.logprob for s in trace.reasoning.steps + trace.steps] == pytest.approx(
        [it["logprob"] for it in items])


@pytest.mark.parametrize("name", RECORDED)
def test_import_reads_as_the_live_reader(name: str) -> None:
    docs = fixture_docs(name)
    live = live_read(docs, stream=len(docs) > 1)
    (imported,) = tokenprobe.load_all(FIXTURES / name)
    assert imported.text == live.text
    assert imported.reasoning is not None and live.reasoning is not None
    assert imported.reasoning.text == live.reasoning.text
    assert [s.data for s in imported.reasoning.steps] == [s.data for s in live.reasoning.steps]
    assert imported.reasoning.source == live.reasoning.source


def test_whole_response_splits_at_the_closing_tag() -> None:
    trace = live_read(fixture_docs("llamacpp_chat_whole.json"), stream=False)
    labels = [s.token for s in trace.reasoning.steps]  # type: ignore[union-attr]
    # llama.cpp drops the tag and the newline after it from both texts: they close the
    # thinking, after the steps that spell it.
    assert labels[-4:] == ["</", "think", ">", "\n"]
    assert trace.reasoning.text_steps == (0, len(labels) - 4)  # type: ignore[union-attr]


def test_stream_without_the_tag_tokens() -> None:
    # llama.cpp sends no chunk for tokens its parser holds back (the closing tag).
    trace = live_read(fixture_docs("llamacpp_chat_stream.sse"), stream=True)
    assert "think" not in [s.token for s in trace.reasoning.steps]  # type: ignore[union-attr]


def test_summary_is_the_answers_and_the_thinking_has_its_own() -> None:
    trace = live_read(fixture_docs("vllm_chat_whole.json"), stream=False)
    assert trace.reasoning is not None
    answer = np.array([s.logprob for s in trace.steps], dtype=np.float64)
    thinking = np.array([s.logprob for s in trace.reasoning.steps], dtype=np.float64)
    s, t = summarize(trace), thinking_summary(trace)
    assert t is not None
    assert s.tokens == len(answer) and t.tokens == len(thinking)
    assert s.geometric_mean_prob == pytest.approx(math.exp(answer.mean()), rel=1e-12)
    assert t.geometric_mean_prob == pytest.approx(math.exp(thinking.mean()), rel=1e-12)
    assert t.arithmetic_mean_prob == pytest.approx(np.exp(thinking).mean(), rel=1e-12)


def test_trace_json_keeps_the_thinking(tmp_path) -> None:  # type: ignore[no-untyped-def]
    trace = live_read(fixture_docs("vllm_chat_stream.json"), stream=True)
    path = tmp_path / "t.json"
    trace.save(path)
    back = tokenprobe.load(path)
    assert back.reasoning is not None and trace.reasoning is not None
    assert back.reasoning.to_dict() == trace.reasoning.to_dict()
    assert back.to_dict() == trace.to_dict()
    assert Trace.from_dict(trace.to_dict()).reasoning.text == trace.reasoning.text  # type: ignore[union-attr]


def test_inline_thinking_is_split_at_the_tags_on_import(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A server without a reasoning parser: the thinking is inline in the content.
    docs = fixture_docs("vllm_chat_whole.json")
    msg = docs[0]["choices"][0]["message"]
    content = "<think>" + msg["reasoning"] + "</think>" + msg["content"]
    plain = {**docs[0], "choices": [{**docs[0]["choices"][0],
                                     "message": {"role": "assistant", "content": content}}]}
    live = live_read([plain], stream=False)
    assert live.reasoning is None and live.text == content  # the live reader leaves it
    path = tmp_path / "plain.json"
    path.write_text(json.dumps(plain), encoding="utf-8")
    (trace,) = tokenprobe.load_all(path)
    assert trace.reasoning is not None and trace.reasoning.source == "think_tags"
    assert trace.reasoning.text == msg["reasoning"]
    # The whitespace after the closing tag is the tag's, as a parser drops it.
    assert trace.text == msg["content"].lstrip()
    assert [s.token for s in trace.reasoning.steps][-2:] == ["</think>", "\n\n"]


def test_text_that_does_not_open_with_a_tag_is_left_whole(tmp_path) -> None:  # type: ignore[no-untyped-def]
    docs = fixture_docs("vllm_chat_whole.json")
    items = docs[0]["choices"][0]["logprobs"]["content"][2:]
    text = "".join(it["token"] for it in items)
    plain = {**docs[0], "choices": [{**docs[0]["choices"][0], "logprobs": {"content": items},
                                     "message": {"role": "assistant", "content": text}}]}
    path = tmp_path / "plain.json"
    path.write_text(json.dumps(plain), encoding="utf-8")
    (trace,) = tokenprobe.load_all(path)
    assert trace.reasoning is None and trace.text == text


@pytest.mark.parametrize("name", ["ollama_chat_stream.json", "ollama_chat_whole.json"])
def test_ollama_thinking_import_and_live(name: str) -> None:
    from tests.backends.test_ollama_replay import Replay, backend

    from tokenprobe.api import build_request

    docs = fixture_docs(name)
    answer = "".join(d["message"]["content"] for d in docs)
    thinking = "".join(d["message"].get("thinking", "") for d in docs)
    entries = [e for d in docs for e in d.get("logprobs") or []]
    (imported,) = tokenprobe.load_all(FIXTURES / name)
    live = backend(Replay(docs), "qwen3").stream(build_request("2+2?", chat=True)).run()
    for trace in (imported, live):
        assert trace.text == answer
        assert trace.reasoning is not None and trace.reasoning.text == thinking
        assert trace.reasoning.source == "thinking"
        # Ollama eats the whitespace after each tag: the tags and that whitespace are the
        # thinking's tokens, around the run that spells its text.
        labels = [s.token for s in trace.reasoning.steps]
        assert labels[:2] == ["<think>", "\n"] and labels[-2:] == ["</think>", "\n\n"]
        assert trace.reasoning.text_steps == (2, len(labels) - 2)
        assert [s.logprob for s in trace.reasoning.steps + trace.steps] == pytest.approx(
            [e["logprob"] for e in entries])


@pytest.mark.parametrize("name", ["vllm_responses_whole.json", "vllm_responses_stream.json"])
def test_responses_reasoning_item(name: str) -> None:
    (trace,) = tokenprobe.load_all(FIXTURES / name)
    assert trace.text == "The answer is 4."
    assert trace.reasoning is not None and trace.reasoning.source == "responses"
    assert trace.reasoning.text == "The user asks 2+2. That is 4."
    # The server reported logprobs for the answer only, and the trace says so.
    assert trace.reasoning.steps == [] and trace.reasoning.logprobs_for == ["answer"]


def test_responses_summary_is_named_a_summary() -> None:
    (trace,) = tokenprobe.load_all(FIXTURES / "openai_responses_summary.json")
    assert trace.reasoning is not None and trace.reasoning.source == "responses_summary"
    assert trace.reasoning.text.startswith("**Adding numbers**")
    assert "summary" in trace.source["note"]


def test_native_llamacpp_inline_thinking_split_at_the_tags() -> None:
    (trace,) = tokenprobe.load_all(FIXTURES / "llamacpp_completion_inline.json")
    assert trace.reasoning is not None and trace.reasoning.source == "think_tags"
    assert trace.reasoning.text == "\nThree plus three is four.\n"
    assert trace.text == "3"
    labels = [s.token for s in trace.reasoning.steps]
    assert labels[:3] == ["<", "think", ">"] and labels[-4:] == ["</", "think", ">", "\n"]
    assert trace.reasoning.text_steps == (3, len(labels) - 4)


def test_terminal_summary_is_the_answers_with_the_thinking_beside() -> None:
    import io

    from rich.console import Console

    from tokenprobe.views.terminal import print_trace

    trace = live_read(fixture_docs("vllm_chat_whole.json"), stream=False)
    out = io.StringIO()
    print_trace(Console(file=out, width=200, color_system=None), trace)
    text = out.getvalue()
    answer = np.array([s.logprob for s in trace.steps], dtype=np.float64)
    thinking = np.array([s.logprob for s in trace.reasoning.steps],  # type: ignore[union-attr]
                        dtype=np.float64)
    assert f"geometric mean {math.exp(answer.mean()):.1%}" in text
    assert f"thinking: {len(thinking)} tokens" in text
    assert f"geometric mean {math.exp(thinking.mean()):.1%}" in text
    assert text.index("thinking:") < text.index("answer:")
