"""The native llama.cpp backend asks the server once for the model's vocabulary size (GET
/v1/models, `meta.n_vocab`) and records it in the trace; a server that does not say, or
fails to, leaves it unknown and the generation goes on."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tokenprobe.api import build_request
from tokenprobe.backends import BackendOptions
from tokenprobe.backends.llamacpp import LlamaCppBackend

STREAM = "".join(f"data: {json.dumps(d)}\n\n" for d in json.loads(
    (Path(__file__).parents[1] / "fixtures" / "llamacpp" / "stream_raw.json").read_text()))


def _backend(models: httpx.Response | None, asked: list[str]) -> LlamaCppBackend:
    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.method} {request.url.path}")
        if request.url.path == "/v1/models":
            return models if models is not None else httpx.Response(404, text="Not Found")
        return httpx.Response(200, content=STREAM.encode())

    return LlamaCppBackend.from_spec("http://127.0.0.1:8080", BackendOptions(
        extra={"transport": httpx.MockTransport(handle), "max_retries": 0}))


def _models(n_vocab: object, model_id: str = "gemma") -> httpx.Response:
    return httpx.Response(200, json={"object": "list", "data": [
        {"id": model_id, "object": "model", "meta": {"n_vocab": n_vocab, "n_ctx": 4096}}]})


def test_the_vocabulary_size_is_asked_once_and_recorded() -> None:
    asked: list[str] = []
    b = _backend(_models(262144), asked)
    first = b.stream(build_request("The capital of France is", temperature=0.0)).run()
    second = b.stream(build_request("The capital of France is", temperature=0.0)).run()
    assert first.vocab_size == second.vocab_size == 262144
    assert asked == ["POST /completion", "GET /v1/models", "POST /completion"]
    view = first.at_temperature(1.5)[0]
    assert view.vocab_known and view.candidates[0].low > 0.0  # V bounds the unlisted mass


def test_a_server_that_does_not_say_leaves_it_unknown() -> None:
    for models in (None, _models("many"), _models(0), _models(True),
                   httpx.Response(200, text="<html>no</html>",
                                  headers={"content-type": "text/html"}),
                   httpx.Response(200, text="{not json", headers={"content-type":
                                                                   "application/json"})):
        asked: list[str] = []
        t = _backend(models, asked).stream(build_request("The capital", temperature=0.0)).run()
        assert t.complete and t.text and t.vocab_size is None
        assert not t.at_temperature(1.5)[0].vocab_known


def test_a_server_with_several_models_gives_the_answering_ones() -> None:
    model = "/root/.cache/tokenprobe/models/gemma-3-270m-q4_k_m.gguf"  # as the stream names it
    several = httpx.Response(200, json={"data": [
        {"id": "other", "meta": {"n_vocab": 32000}}, {"id": model, "meta": {"n_vocab": 262144}}]})
    t = _backend(several, []).stream(build_request("The capital", temperature=0.0)).run()
    assert t.vocab_size == 262144
    unnamed = httpx.Response(200, json={"data": [
        {"id": "a", "meta": {"n_vocab": 32000}}, {"id": "b", "meta": {"n_vocab": 256000}}]})
    t = _backend(unnamed, []).stream(build_request("The capital", temperature=0.0)).run()
    assert t.vocab_size is None  # which one answered is not known
