"""A hosted reasoning model that refuses logprobs: the server's own message, on one line
(OpenAI answers o-series models' logprobs requests with 403 "You are not allowed to request
logprobs from this model", as reported in confident-ai/deepeval#2184)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.inprocess import invoke
from tests.servers.faultserver import fault_server, status

from tokenprobe.api import build_request
from tokenprobe.backends import BackendOptions
from tokenprobe.backends.openai import OpenAIBackend
from tokenprobe.backends.server_errors import ServerError

REFUSAL = {"error": {"message": "You are not allowed to request logprobs from this model",
                     "type": "invalid_request_error", "param": None, "code": None}}


def test_refusal_is_the_servers_message_on_one_line() -> None:
    with fault_server(status(403, REFUSAL)) as s:
        backend = OpenAIBackend.from_spec("o4-mini", BackendOptions(
            base_url=s.base_url, api_key="k", extra={"max_retries": 0}))
        with pytest.raises(ServerError) as e:
            backend.stream(build_request("hi", chat=True, max_tokens=8)).run()
    message = str(e.value)
    assert "You are not allowed to request logprobs from this model" in message
    assert "\n" not in message


def test_refusal_on_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    with fault_server(status(403, REFUSAL)) as s:
        r = invoke(["generate", "hi", "--chat", "-m", "openai:o4-mini", "--base-url",
                    s.base_url, "--no-save"], tmp_path, monkeypatch)
    assert r.code == 4 and r.stdout == ""
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "not allowed to request logprobs" in lines[0]
    assert "Traceback" not in r.stderr
