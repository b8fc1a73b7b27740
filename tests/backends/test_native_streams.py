"""The native backends' streams, through an httpx MockTransport: tokens held back for more
text are kept when the stream breaks, lines end at LF only, and a URL with a bad port or
a query is refused or kept out of traces and messages in one line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tokenprobe.api import build_request
from tokenprobe.backends import BackendOptions, GenerationError
from tokenprobe.backends.llamacpp import LlamaCppBackend
from tokenprobe.backends.nativehttp import byte_lines
from tokenprobe.backends.ollama import OllamaBackend
from tokenprobe.backends.openai import OpenAIBackend
from tokenprobe.backends.server_errors import ServerError, scrub
from tokenprobe.backends.urls import public_url
from tokenprobe.errors import InputError

SECRET = "SECRETsecret0123456789"


class Broken(httpx.SyncByteStream):
    """A body that sends `data`, then breaks as a reset connection does."""

    def __init__(self, data: bytes, broken: bool = True) -> None:
        self.data = data
        self.broken = broken

    def __iter__(self) -> Iterator[bytes]:
        # In small pieces, as a network delivers them (a character may be cut across two).
        yield from (self.data[i:i + 7] for i in range(0, len(self.data), 7))
        if self.broken:
            raise httpx.RemoteProtocolError("peer closed connection without sending "
                                            "complete message body")


def transport(body: bytes, broken: bool = True) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Broken(body, broken))
    return httpx.MockTransport(handle)


def llamacpp(t: httpx.MockTransport, url: str = "http://127.0.0.1:8080") -> LlamaCppBackend:
    return LlamaCppBackend.from_spec(url, BackendOptions(
        extra={"transport": t, "max_retries": 0}))


def ollama(t: httpx.MockTransport) -> OllamaBackend:
    return OllamaBackend.from_spec("m", BackendOptions(
        base_url="http://127.0.0.1:11434", extra={"transport": t, "max_retries": 0}))


def llamacpp_chunk(tid: int, own: str, sent: str) -> dict[str, Any]:
    """One token whose own bytes are `own` and whose text sent with it is `sent` (the
    server sends "" for a token that may begin a stop word)."""
    item = {"id": tid, "token": sent, "bytes": list(sent.encode()), "logprob": -0.5,
            "top_logprobs": [{"id": tid, "token": own, "bytes": list(own.encode()),
                              "logprob": -0.5}]}
    return {"index": 0, "content": sent, "stop": False, "completion_probabilities": [item]}


def sse(docs: list[dict[str, Any]]) -> bytes:
    # ensure_ascii=False, as llama.cpp's server writes: U+2028 stays raw in the line.
    return "".join(f"data: {json.dumps(d, ensure_ascii=False)}\n\n" for d in docs).encode()


def ndjson(docs: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs).encode()


def test_llamacpp_keeps_a_held_stop_word_prefix_when_the_stream_breaks() -> None:
    # " EN" and "D" may begin the stop word "END": the server sends them with no text and
    # waits. The connection resets before it decides: both were received and are kept.
    docs = [llamacpp_chunk(1, "Hello", "Hello"), llamacpp_chunk(2, " EN", ""),
            llamacpp_chunk(3, "D", "")]
    b = llamacpp(transport(sse(docs)))
    with pytest.raises(GenerationError, match="broke the connection part-way") as info:
        b.stream(build_request("Say", max_tokens=8, stop=[" END"])).run()
    t = info.value.trace
    assert [s.token for s in t.steps] == ["Hello", " EN", "D"]
    assert [s.logprob for s in t.steps] == [-0.5, -0.5, -0.5]
    assert t.text == "Hello END" and not t.complete and t.finish_reason == "error"


def test_ollama_keeps_tokens_waiting_for_their_bytes_when_the_stream_breaks() -> None:
    # A token that hides its bytes (U+FFFD, no `bytes`) and the token after it wait for the
    # text that shows them; the stream breaks first.
    def doc(entries: list[tuple[str, list[int] | None]], text: str) -> dict[str, Any]:
        logprobs = [{"token": tok, "logprob": -0.25, **({"bytes": raw} if raw else {}),
                     "top_logprobs": []} for tok, raw in entries]
        return {"model": "m", "response": text, "done": False, "logprobs": logprobs}

    docs = [doc([("Hi", list(b"Hi"))], "Hi"), doc([("\ufffd", None), (" there", None)], "")]
    b = ollama(transport(ndjson(docs)))
    with pytest.raises(GenerationError, match="broke the connection part-way") as info:
        b.stream(build_request("Say", max_tokens=8)).run()
    t = info.value.trace
    assert [s.token for s in t.steps] == ["Hi", "\ufffd", " there"]
    assert t.text == "Hi\ufffd there" and not t.complete


def test_lines_end_at_lf_only() -> None:
    text = 'data: {"content": "a\u2028b\u2029c\x85d"}\r\n\r\n'.encode()
    chunks = [text[i:i + 3] for i in range(0, len(text), 3)]  # characters cut across chunks
    assert list(byte_lines(chunks)) == ['data: {"content": "a\u2028b\u2029c\x85d"}', ""]
    assert list(byte_lines([b"a\nb"])) == ["a", "b"]


@pytest.mark.parametrize("kind", ["llamacpp", "ollama"])
def test_text_with_line_separators_streams_whole(kind: str) -> None:
    words = ["one\u2028", "two\u2029", "three\x85"]
    if kind == "llamacpp":
        docs = [llamacpp_chunk(i + 1, w, w) for i, w in enumerate(words)]
        docs.append({"index": 0, "content": "", "stop": True, "stop_type": "eos"})
        b: Any = llamacpp(transport(sse(docs), broken=False))
    else:
        docs = [{"model": "m", "response": w, "done": False, "logprobs": [
            {"token": w, "logprob": -0.5, "bytes": list(w.encode()), "top_logprobs": []}]}
            for w in words]
        docs.append({"model": "m", "response": "", "done": True, "done_reason": "stop"})
        b = ollama(transport(ndjson(docs), broken=False))
    t = b.stream(build_request("Count", max_tokens=8)).run()
    assert t.complete and t.text == "".join(words) and len(t.steps) == 3


@pytest.mark.parametrize("make", [
    lambda: LlamaCppBackend.from_spec("http://127.0.0.1:99999", BackendOptions()),
    lambda: LlamaCppBackend.from_spec("127.0.0.1:70000", BackendOptions()),
    lambda: OllamaBackend.from_spec("m", BackendOptions(base_url="http://127.0.0.1:123456")),
    lambda: OllamaBackend.from_spec("m", BackendOptions(base_url="localhost:port")),
    lambda: OpenAIBackend.from_spec("m", BackendOptions(base_url="http://127.0.0.1:99999/v1")),
], ids=["llamacpp", "llamacpp-bare", "ollama", "ollama-word", "openai"])
def test_a_port_out_of_range_is_one_line(make: Any) -> None:
    with pytest.raises(InputError, match="port that is not a number from 0 to 65535") as info:
        make()
    assert "\n" not in str(info.value)


def test_a_query_in_the_url_stays_out_of_traces_and_messages() -> None:
    docs = [llamacpp_chunk(1, "ok", "ok"),
            {"index": 0, "content": "", "stop": True, "stop_type": "eos"}]
    url = f"http://127.0.0.1:8080/?key={SECRET}#frag"
    t = llamacpp(transport(sse(docs), broken=False), url).stream(build_request("x")).run()
    assert SECRET not in t.to_json() and t.source["base_url"] == "http://127.0.0.1:8080/"
    # A failure names the server without its query.
    b = llamacpp(transport(sse(docs[:1])), url)
    with pytest.raises(GenerationError) as info:
        b.stream(build_request("x")).run()
    assert SECRET not in str(info.value) and SECRET not in info.value.trace.to_json()

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error": f"bad request to {request.url}"})

    b = llamacpp(httpx.MockTransport(refuse), url)
    with pytest.raises(ServerError, match="failed") as err:
        b.stream(build_request("x")).run()
    assert SECRET not in str(err.value)
    assert public_url(f"https://h/v1?api-key={SECRET}") == "https://h/v1"
    assert scrub(f"GET https://h/v1/x?api-key={SECRET}&v=2 failed", []) == (
        "GET https://h/v1/x?api-key=***&v=*** failed")
