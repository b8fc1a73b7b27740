"""Tokens appear live: each step reaches the consumer before the server's next chunk is even
produced. The recorded responses (tests/fixtures) are replayed through an httpx
MockTransport whose body is made lazily, chunk by chunk, noting how many steps the consumer
had when each chunk was asked for."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tokenprobe.api import build_request
from tokenprobe.backends import BackendOptions
from tokenprobe.backends.llamacpp import LlamaCppBackend
from tokenprobe.backends.ollama import OllamaBackend

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


class Lazy:
    """A transport answering with `lines`, each made only when the reader asks for it."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.received: list[Any] = []  # the consumer's steps so far
        self.seen_at: list[int] = []  # len(received) when each line was made
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=self.body())

    def body(self) -> Iterator[bytes]:
        for line in self.lines:
            self.seen_at.append(len(self.received))
            yield line.encode()


@pytest.mark.parametrize("kind", ["llamacpp", "ollama"])
def test_each_token_arrives_before_the_next_chunk(kind: str) -> None:
    if kind == "llamacpp":
        docs = json.loads((FIXTURES / "llamacpp" / "stream_raw.json").read_text())
        lazy = Lazy([f"data: {json.dumps(d)}\n\n" for d in docs])
        options = BackendOptions(extra={"transport": lazy.transport})
        backend: Any = LlamaCppBackend.from_spec("http://127.0.0.1:8080", options)
    else:
        docs = json.loads((FIXTURES / "ollama" / "generate_stream.json").read_text())
        lazy = Lazy([json.dumps(d) + "\n" for d in docs])
        backend = OllamaBackend.from_spec("gemma3", BackendOptions(
            base_url="http://127.0.0.1:11434", extra={"transport": lazy.transport}))
    stream = backend.stream(build_request("The capital of France is", temperature=0.0))
    for step in stream:
        lazy.received.append(step)
    n = len(lazy.received)
    assert n == len(docs) - 1 and stream.trace.complete
    # Chunk k (one token each) was made when the consumer already had the k tokens before it.
    assert lazy.seen_at == list(range(n + 1))


def test_an_older_llamacpp_server_is_recorded_as_processed() -> None:
    """A server from before December 2024 answers n_probs with post-sampling `probs`: the
    live trace says "processed", whatever was asked, and equals the imported one."""
    from tokenprobe.formats import llamacpp as fmt

    docs = json.loads((FIXTURES / "llamacpp" / "old_stream.json").read_text())
    lazy = Lazy([f"data: {json.dumps(d)}\n\n" for d in docs])
    backend = LlamaCppBackend.from_spec("http://127.0.0.1:8080",
                                        BackendOptions(extra={"transport": lazy.transport}))
    assert backend.logprobs_kind == "raw"
    t = backend.stream(build_request("The capital of France is", alternatives=2)).run()
    assert t.logprobs_kind == "processed" and t.complete and t.model == "ggml-model-q4_0.gguf"
    saved = fmt.parse(docs)[0]
    assert [s.to_dict() for s in t.steps] == [
        {**s.to_dict(), "sample_logprob": s.logprob} for s in saved.steps]
