"""A server model's address is tried when the model is added (reach.py): a connection and
nothing sent, in a thread of its own with a short limit, so that the page can say at once
that nothing answers there instead of failing on the first message."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.web.asgi import AsgiClient
from tests.web.serve import free_port

from tokenprobe.backends import BackendOptions
from tokenprobe.web import reach
from tokenprobe.web.registry import ModelEntry
from tokenprobe.web.security import Guard


@pytest.fixture
def client(make_app: Callable[..., Guard]) -> AsgiClient:
    return AsgiClient(make_app())


@pytest.fixture
def listener() -> Iterator[tuple[int, list[bytes]]]:
    """A TCP port that accepts connections and records what each one sent."""
    srv = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = b""
                try:
                    while chunk := conn.recv(4096):
                        data += chunk
                except OSError:
                    pass
                received.append(data)

    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()[1], received
    srv.close()


async def test_a_model_whose_server_answers_is_reachable_and_hears_nothing(
        client: AsgiClient, listener: tuple[int, list[bytes]]) -> None:
    port, received = listener
    key = "sk-test-NOTFORTHEPROBE0123456789"
    r = await client.post("/api/models", {"spec": "openai:m",
                                          "base_url": f"http://127.0.0.1:{port}/v1",
                                          "api_key": key})
    assert r.status == 201
    assert r.json()["reachable"] is True and "reach_note" not in r.json()
    for _ in range(100):  # the probe closes its connection at once
        if received:
            break
        await asyncio.sleep(0.05)
    assert received == [b""]  # a connection, and not a byte: no request, no key


async def test_a_model_whose_server_is_down_is_added_and_said_to_be_unreachable(
        client: AsgiClient) -> None:
    port = free_port()  # nothing listens there
    secret = "pw-NOTSHOWN-123"
    r = await client.post("/api/models", {"spec": "openai:m",
                                          "base_url": f"http://bob:{secret}@127.0.0.1:{port}/v1"})
    assert r.status == 201
    added = r.json()
    assert added["reachable"] is False
    assert added["reach_note"] == (f"not reachable now: connection refused "
                                   f"(http://127.0.0.1:{port}/v1)")
    assert secret not in r.body.decode() and "bob" not in r.body.decode()
    # Offered all the same: the page asks whether to keep it.
    listed = (await client.get("/api/models")).json()["models"]
    assert added["id"] in [m["id"] for m in listed]
    assert (await client.delete(f"/api/models/{added['id']}")).status == 200
    # llamacpp: names its server in the spec; the probe goes there.
    lc = await client.post("/api/models", {"spec": f"llamacpp:127.0.0.1:{port}"})
    assert lc.json()["reachable"] is False
    assert lc.json()["reach_note"].endswith(f"(http://127.0.0.1:{port})")


async def test_the_probe_runs_off_the_event_loop(client: AsgiClient,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def hang(host: str, port: int, timeout: float) -> None:
        time.sleep(30)  # a name lookup that never answers (the probe's limit cuts it)

    monkeypatch.setattr(reach, "_connect", hang)
    monkeypatch.setattr(reach, "PROBE_TIMEOUT", 1.5)
    t0 = time.monotonic()
    adding = asyncio.create_task(client.post("/api/models", {
        "spec": "openai:m", "base_url": "http://slow.example:8000/v1"}))
    await asyncio.sleep(0.2)
    health = await client.get("/api/health")
    answered = time.monotonic() - t0
    assert health.status == 200 and not adding.done()
    r = await adding
    took = time.monotonic() - t0
    assert answered < 1.0 <= took < 5, (answered, took)
    assert r.json()["reachable"] is False
    assert r.json()["reach_note"] == ("not reachable now: no answer within 1.5 s "
                                      "(http://slow.example:8000/v1)")


def entry(spec: str | None, base_url: str | None = None) -> ModelEntry:
    return ModelEntry("x", spec, "x", BackendOptions(base_url=base_url))


def test_where_the_probe_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    assert reach.reachability(entry(None)) == {"reachable": None}  # the embedded model
    assert reach.reachability(entry("/models/m.gguf")) == {"reachable": None}
    assert reach.target(entry("openai:m")) == "https://api.openai.com/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://10.0.0.5:8000/v1")
    assert reach.target(entry("openai:m")) == "http://10.0.0.5:8000/v1"
    assert reach.target(entry("openai:m", "http://h:1/v1")) == "http://h:1/v1"
    assert reach.target(entry("ollama:llama3")) == "http://127.0.0.1:11434"
    assert reach.target(entry("llamacpp:http://h:8080")) == "http://h:8080"
    assert reach.target(entry("llamacpp:name", "http://h:9/v1")) == "http://h:9/v1"


def test_too_many_unfinished_probes_leave_a_model_unchecked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def hang(host: str, port: int, timeout: float) -> None:
        release.wait(30)

    monkeypatch.setattr(reach, "_connect", hang)
    monkeypatch.setattr(reach, "_pending", threading.BoundedSemaphore(2))
    e = entry("openai:m", "http://hung.example/v1")
    try:
        for _ in range(2):
            assert reach.reachability(e, timeout=0.1)["reachable"] is False
        got: dict[str, Any] = reach.reachability(e, timeout=0.1)
        assert got["reachable"] is None and got["reach_note"].startswith("not checked")
    finally:
        release.set()
