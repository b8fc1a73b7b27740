"""The Ollama backend, replaying recorded responses (tests/fixtures/ollama, written from
Ollama's documentation) through an httpx MockTransport: Ollama cannot run here. What is
checked is ours: the request we send, and that a live stream gives the same trace as the
importer reads from the same documents. Faults are in test_native_faults.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tokenprobe.api import build_request
from tokenprobe.backends import BackendOptions, get_backend
from tokenprobe.backends.ollama import OllamaBackend, ollama_url
from tokenprobe.errors import ModelError
from tokenprobe.formats import ollama as fmt
from tokenprobe.ops.branch import branch
from tokenprobe.trace import Trace

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ollama"
KEY = "ollama-key-SECRETsecret0123456789"


class Replay:
    """An httpx transport that answers every request with the NDJSON of `docs`."""

    def __init__(self, *answers: list[dict[str, Any]]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        docs = self.answers.pop(0)
        body = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs)
        return httpx.Response(200, content=body.encode(),
                              headers={"Content-Type": "application/x-ndjson"})

    def body(self, n: int = 0) -> dict[str, Any]:
        return json.loads(self.requests[n].content)  # type: ignore[no-any-return]


def fixture(name: str) -> list[dict[str, Any]]:
    doc = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return doc if isinstance(doc, list) else [doc]


@pytest.fixture(autouse=True)
def no_ollama_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default server and no key, whatever the machine running the tests has set (a
    test that wants them sets them itself)."""
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)


def backend(replay: Replay, model: str = "gemma3", **options: Any) -> OllamaBackend:
    return OllamaBackend.from_spec(model, BackendOptions(
        extra={"transport": replay.transport, "max_retries": 0}, **options))


def test_generate_sends_raw_logprobs_and_the_sampling_settings() -> None:
    replay = Replay(fixture("generate_stream.json"))
    req = build_request("Why is the sky blue?", max_tokens=4, temperature=0.0, top_k=0,
                        seed=5, alternatives=3, stop=["\n\n"])
    t = backend(replay).stream(req).run()
    sent = replay.body()
    assert replay.requests[0].url == "http://127.0.0.1:11434/api/generate"
    assert sent["model"] == "gemma3" and sent["prompt"] == "Why is the sky blue?"
    assert sent["raw"] is True and sent["stream"] is True
    assert sent["logprobs"] is True and sent["top_logprobs"] == 3
    assert sent["options"] == {"temperature": 0.0, "top_p": 1.0, "top_k": 0, "min_p": 0.0,
                               "repeat_penalty": 1.0, "seed": 5, "num_predict": 4,
                               "stop": ["\n\n"]}
    # A live stream gives the trace the importer reads from the same documents.
    saved = fmt.parse(fixture("generate_stream.json"))[0]
    assert [s.to_dict() for s in t.steps] == [
        {**s.to_dict(), "sample_logprob": 0.0} for s in saved.steps]
    assert t.text == saved.text == "The sky is blue"
    assert t.backend == "ollama" and t.model == "gemma3" and t.logprobs_kind == "raw"
    assert t.finish_reason == "length" and t.complete
    assert t.source == {"base_url": "http://127.0.0.1:11434"}


def test_chat_streams_tokens_as_they_come() -> None:
    replay = Replay(fixture("chat_stream.json"))
    req = build_request("Say hello", chat=True, system="Be brief.", temperature=0.7,
                        alternatives=2)
    stream = backend(replay).stream(req)
    seen = [s.data for s in stream]
    assert replay.requests[0].url.path == "/api/chat"
    sent = replay.body()
    assert sent["messages"] == [{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": "Say hello"}]
    assert "raw" not in sent and sent["top_logprobs"] == 2
    assert b"".join(seen).decode() == "Hello from 曇!"
    assert seen[3:6] == [b"\xe6", b"\x9b", b"\x87"]
    t = stream.trace
    assert t.request.mode == "chat" and t.finish_reason == "stop"
    assert all(s.sample_logprob is None for s in t.steps)  # sampled at 0.7: not reported


def test_thinking_is_kept_apart_from_the_answer() -> None:
    replay = Replay(fixture("chat_thinking_stream.json"))
    t = backend(replay, "qwen3").stream(build_request("2+2?", chat=True)).run()
    assert t.text == "4" and [s.token for s in t.steps] == ["4"]
    assert t.reasoning is not None and t.reasoning.text == "Easy."
    assert [s.token for s in t.reasoning.steps] == ["Easy", "."]
    assert t.reasoning.source == "thinking"


def test_extra_body_options_merge() -> None:
    replay = Replay(fixture("generate_whole.json"))
    b = backend(replay, extra_body={"options": {"num_ctx": 4096, "top_p": 0.5},
                                    "keep_alive": "1m", "stream": False})
    b.stream(build_request("Why?", max_tokens=4)).run()
    sent = replay.body()
    assert sent["options"]["num_ctx"] == 4096 and sent["options"]["top_p"] == 0.5
    assert sent["keep_alive"] == "1m" and sent["stream"] is True  # always streamed


def test_branching_continues_an_assistant_message() -> None:
    parent_docs = fixture("chat_stream.json")
    replay = Replay(parent_docs, fixture("chat_stream.json"))
    options = BackendOptions(extra={"transport": replay.transport, "max_retries": 0})
    parent = get_backend("ollama:gemma3", options).stream(
        build_request("Say hello", chat=True, max_tokens=8)).run()
    child = branch(parent, 1, " there", options=options)
    sent = replay.body(1)
    assert sent["messages"][-1] == {"role": "assistant", "content": "Hello there"}
    assert child.steps[1].forced and child.steps[1].token == " there"
    assert child.parent == {"id": parent.id, "step": 1, "token": " there"}


def test_completion_branch_resends_the_text() -> None:
    replay = Replay(fixture("generate_stream.json"), fixture("generate_stream.json"))
    options = BackendOptions(extra={"transport": replay.transport, "max_retries": 0})
    parent = get_backend("ollama:gemma3", options).stream(
        build_request("Why is the sky blue?", max_tokens=4)).run()
    branch(parent, 2, " was", options=options)
    sent = replay.body(1)
    assert sent["prompt"] == "Why is the sky blue?The sky was" and sent["raw"] is True


def test_the_host_and_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "0.0.0.0:11500")
    monkeypatch.setenv("OLLAMA_API_KEY", KEY)
    # The command line hands OPENAI_API_KEY to every backend: Ollama never gets it.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-for-ollama")
    replay = Replay(fixture("generate_stream.json"), fixture("generate_stream.json"))
    t = backend(replay, api_key="sk-not-for-ollama").stream(build_request("Why?")).run()
    request = replay.requests[0]
    assert str(request.url) == "http://127.0.0.1:11500/api/generate"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in t.to_json() and "sk-not" not in str(request.headers)
    # A key given for this model (the web app's "add a model") is used.
    backend(replay, api_key="own-key-1234").stream(build_request("Why?")).run()
    assert replay.requests[1].headers["authorization"] == "Bearer own-key-1234"
    assert ollama_url("example.com") == "http://example.com:11434"
    assert ollama_url("https://ollama.example/") == "https://ollama.example:443"
    assert ollama_url("http://[::1]:9000/api") == "http://[::1]:9000"


def test_scoring_is_refused() -> None:
    b = backend(Replay())
    with pytest.raises(ModelError, match="cannot score a given text"):
        b.score("text")


def test_a_saved_trace_matches_the_importer() -> None:
    """What the backend records and what the importer reads are one trace format."""
    replay = Replay(fixture("chat_stream.json"))
    live = backend(replay).stream(build_request("Say hello", chat=True)).run()
    again = Trace.from_dict(json.loads(live.to_json()))
    assert again.to_dict() == live.to_dict()
