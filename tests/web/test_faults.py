"""A server backend that fails, seen through the web API: the message reaches the page, the
tokens received are kept (and saved), and the key appears nowhere.

The failing server is the scripted fault server (tests/servers/faultserver.py): real HTTP,
scripted only for what a real server will not do on demand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.servers.faultserver import chat_stream, fault_server, reset, silence, sse, status
from tests.web.asgi import AsgiClient
from tests.web.conftest import last, live_text, names, state_of

from tokenprobe.backends import BackendOptions
from tokenprobe.web import ModelConfig
from tokenprobe.web.security import Guard

KEY = "sk-proj-WEBSECRETwebsecret0123456789"
CHAT = {"mode": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8,
        "alternatives": 2}


def server_app(make_app: Callable[..., Guard], base_url: str, **extra: Any) -> Guard:
    timeout = extra.pop("timeout", None)
    opts = BackendOptions(base_url=base_url, api_key=KEY, timeout=timeout,
                          extra={"max_retries": 0, **extra})
    return make_app(models=[ModelConfig("openai:m", opts)])


async def chat(app: Guard) -> list[tuple[str, Any]]:
    async with AsgiClient(app).stream("POST", "/api/generate", CHAT) as s:
        assert s.status == 200
        events = await s.rest()
    text = repr(events) + state_of(app).store.path.read_bytes().decode("utf-8", "replace")
    assert KEY not in text
    return events


async def test_server_stream_reaches_the_page(make_app: Callable[..., Guard]) -> None:
    with fault_server(sse(chat_stream(["Hel", "lo"]))) as s:
        app = server_app(make_app, s.base_url)
        events = await chat(app)
    assert live_text(events) == "Hello"
    done = last(events, "done")
    assert done["trace"]["backend"] == "openai" and done["trace"]["complete"] is True
    assert s.headers[0]["authorization"] == f"Bearer {KEY}"  # the key went to the server


@pytest.mark.parametrize(("behaviour", "message"), [
    (status(500, {"error": {"message": "overloaded"}}), "failed (HTTP 500): overloaded"),
    (status(429, {"error": {"message": "Rate limit reached"}}, {"retry-after": "0"}),
     "(HTTP 429)"),
    (reset, "reach"),
])
async def test_failure_before_any_token_shows_the_message(
        make_app: Callable[..., Guard], behaviour: Any, message: str) -> None:
    with fault_server(behaviour) as s:
        events = await chat(server_app(make_app, s.base_url))
    assert names(events)[-1] == "error"
    err = last(events, "error")
    assert message in err["message"] and "trace" not in err


async def test_timeout_shows_the_message(make_app: Callable[..., Guard]) -> None:
    with fault_server(silence(3)) as s:
        events = await chat(server_app(make_app, s.base_url, timeout=0.5))
    assert "did not answer within 0.5 s" in last(events, "error")["message"]


@pytest.mark.parametrize("chunked_cut", [False, True])
async def test_cut_stream_keeps_and_saves_the_tokens(make_app: Callable[..., Guard],
                                                     chunked_cut: bool) -> None:
    docs = chat_stream(["The", " cat", " sat"], finish=None)
    with fault_server(sse(docs, done=False, chunked_cut=chunked_cut)) as s:
        app = server_app(make_app, s.base_url)
        events = await chat(app)
    assert names(events).count("steps") == 3 and live_text(events) == "The cat sat"
    err = last(events, "error")
    assert "kept the 3 tokens" in err["message"]
    assert err["trace"]["text"] == "The cat sat" and err["trace"]["complete"] is False
    saved = AsgiClient(app)
    entry = (await saved.get(f"/api/history/{err['saved']}")).json()
    assert entry["traces"][0]["steps"]["n"] == 3 and entry["traces"][0]["error"]
