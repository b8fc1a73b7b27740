"""Every server fault the issue names, injected by a scripted server: the message, the exit
code, and the tokens kept."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from tests.helpers import run_cli
from tests.servers.faultserver import (
    chat_chunk,
    chat_stream,
    fault_server,
    raw_body,
    reset,
    silence,
    sse,
    status,
)

from tokenprobe.api import build_request
from tokenprobe.backends import BackendOptions, GenerationError
from tokenprobe.backends.faults import ServerError, logprobs_cap, retry_delay, scrub
from tokenprobe.backends.openai import OpenAIBackend
from tokenprobe.trace import Trace

KEY = "sk-proj-SECRETsecretSECRET0123456789"


def backend(base: str, **extra: object) -> object:
    opts = BackendOptions(base_url=base, api_key=KEY, timeout=extra.pop("timeout", None),  # type: ignore[arg-type]
                          extra={"max_retries": 0, **extra})
    return OpenAIBackend.from_spec("m", opts)


def chat(base: str, **extra: object) -> Trace:
    req = build_request("hi", chat=True, max_tokens=8, alternatives=2)
    return backend(base, **extra).stream(req).run()  # type: ignore[attr-defined]


def cli(base: str, *args: str) -> tuple[int, str, str]:
    r = run_cli(["generate", "hi", "--chat", "-m", "openai:m", "--base-url", base,
                 "--no-save", *args], env={"OPENAI_API_KEY": KEY}, timeout=60)
    assert KEY not in r.stdout + r.stderr
    return r.code, r.stdout, r.stderr


def test_happy_stream_from_script() -> None:
    # The script itself is sound: a full stream reads as a complete trace.
    with fault_server(sse(chat_stream(["Hel", "lo"]))) as s:
        t = chat(s.base_url)
    assert t.complete and t.text == "Hello" and t.finish_reason == "stop"
    assert s.requests[0]["logprobs"] is True and s.requests[0]["top_logprobs"] == 2
    assert s.headers[0]["authorization"] == f"Bearer {KEY}"


def test_429_retry_after_is_honoured() -> None:
    with fault_server(status(429, {"error": {"message": "slow down"}}, {"retry-after": "1"}),
                      sse(chat_stream(["ok"]))) as s:
        t0 = time.monotonic()
        t = chat(s.base_url, max_retries=2)
        took = time.monotonic() - t0
    assert t.text == "ok" and len(s.requests) == 2
    assert took >= 0.9  # waited as told


def test_429_gives_up_with_a_clear_message() -> None:
    with fault_server(*[status(429, {"error": {"message": "Rate limit reached"}},
                               {"retry-after": "0"})] * 2) as s:
        with pytest.raises(ServerError, match=r"rate limiting requests \(HTTP 429\) after 2 "
                           r"tries: Rate limit reached"):
            chat(s.base_url, max_retries=1)
        assert len(s.requests) == 2
    with fault_server(*[status(429, {"error": {"message": "Rate limit reached"}},
                               {"retry-after": "0"})] * 3) as s:
        code, _out, errtext = cli(s.base_url)
    assert code == 4 and "HTTP 429" in errtext and errtext.count("\n") == 1


def test_retry_after_is_bounded() -> None:
    assert retry_delay({"retry-after": "3600"}, 0) == 30.0
    assert retry_delay({"retry-after-ms": "250"}, 0) == 0.25
    assert retry_delay({}, 2) == 2.0
    assert retry_delay({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0) == 0.5


@pytest.mark.parametrize("code", [500, 503])
def test_server_errors(code: int) -> None:
    with (
        fault_server(status(code, {"error": {"message": "overloaded"}})) as s,
        pytest.raises(ServerError, match=rf"failed \(HTTP {code}\): overloaded"),
    ):
        chat(s.base_url)


def test_timeout() -> None:
    with fault_server(silence(3)) as s:
        t0 = time.monotonic()
        with pytest.raises(ServerError, match=r"did not answer within 0.5 s"):
            chat(s.base_url, timeout=0.5)
        assert time.monotonic() - t0 < 2.5


def test_connection_refused() -> None:
    from tests.servers.conftest import free_port

    with pytest.raises(ServerError, match=r"cannot reach the server at .*connection refused"):
        chat(f"http://127.0.0.1:{free_port()}/v1")


def test_connection_reset() -> None:
    with fault_server(reset) as s, pytest.raises(ServerError, match=r"reach|broke"):
        chat(s.base_url)


@pytest.mark.parametrize("chunked_cut", [False, True])
def test_cut_stream_keeps_the_tokens(tmp_path: Path, chunked_cut: bool) -> None:
    docs = chat_stream(["The", " cat", " sat"], finish=None)
    with (
        fault_server(sse(docs, done=False, chunked_cut=chunked_cut)) as s,
        pytest.raises(GenerationError) as info,
    ):
        chat(s.base_url)
    t = info.value.trace
    assert [st.token for st in t.steps] == ["The", " cat", " sat"]
    assert t.text == "The cat sat" and not t.complete and t.error
    assert "kept the 3 tokens" in str(info.value)
    # Through the command line: exit 3, the partial trace written.
    out = tmp_path / "t.json"
    with fault_server(sse(docs, done=False, chunked_cut=chunked_cut)) as s:
        code, _, errtext = cli(s.base_url, "-o", str(out))
    assert code == 3, errtext
    saved = json.loads(out.read_text())
    assert saved["complete"] is False and saved["error"] and len(saved["steps"]) == 3
    assert KEY not in out.read_text()


def test_non_json_body() -> None:
    with (
        fault_server(raw_body("<html>Bad gateway</html>", "text/html")) as s,
        pytest.raises(ServerError, match=r"not JSON .*Bad gateway"),
    ):
        chat(s.base_url, stream=False)


def test_truncated_body() -> None:
    with (
        fault_server(raw_body('{"choices": [{"index": 0, "message": {"content": "Hi')) as s,
        pytest.raises(ServerError, match="not JSON"),
    ):
        chat(s.base_url, stream=False)


def test_truncated_json_in_a_stream_keeps_the_tokens() -> None:
    docs = chat_stream(["A", "B"], finish=None)
    with (
        fault_server(sse(docs, done=False, extra_lines=['data: {"choices": [{"ind\n\n'])) as s,
        pytest.raises(GenerationError, match="not JSON") as info,
    ):
        chat(s.base_url)
    assert info.value.trace.text == "AB"


def test_server_that_ignores_logprobs() -> None:
    docs = [chat_chunk(t, with_logprobs=False) for t in ["One", " two", " three", " four"]]
    with (
        fault_server(sse(docs)) as s,
        pytest.raises(ServerError, match=r"returned no logprobs: .* see docs/servers.md"),
    ):
        chat(s.base_url)
    # A short answer without logprobs is caught at the end.
    short = [chat_chunk("Hi", with_logprobs=False), chat_chunk(None, finish="stop")]
    with (
        fault_server(sse(short)) as s,
        pytest.raises(ServerError, match="returned no logprobs"),
    ):
        chat(s.base_url)


def test_top_logprobs_above_the_cap() -> None:
    vllm = {"object": "error", "message": "Requested sample logprobs of 30, which is greater "
            "than max allowed: 20", "type": "BadRequestError", "code": 400}
    with fault_server(status(400, vllm)) as s:
        code, _, errtext = cli(s.base_url, "--alternatives", "30")
    assert code == 4
    assert "allows at most 20 alternatives per token (asked for 30)" in errtext
    openai_msg = ("Invalid 'top_logprobs': integer above maximum value. Expected a value <= "
                  "20, but got 30 instead.")
    assert logprobs_cap(openai_msg) == 20
    # OpenAI's own cap is known before asking.
    with pytest.raises(Exception, match="at most 20 alternatives"):
        OpenAIBackend.from_spec("gpt-4o-mini", BackendOptions(api_key=KEY)).stream(
            build_request("hi", chat=True, alternatives=25))


def test_logprobs_only_for_part_of_the_text() -> None:
    docs = chat_stream(["Hel"], finish=None)
    docs.append({"choices": [{"index": 0, "delta": {"content": "lo there"}, "logprobs": None,
                              "finish_reason": "stop"}]})
    with (
        fault_server(sse(docs)) as s,
        pytest.raises(GenerationError, match="logprobs for only the first 3 of the 11") as info,
    ):
        chat(s.base_url)
    assert info.value.trace.text == "Hel"


def test_the_key_never_appears(tmp_path: Path) -> None:
    echo = {"error": {"message": f"Incorrect API key provided: {KEY}. You can find your API "
                      "key at https://platform.openai.com/account/api-keys."}}
    with (
        fault_server(status(401, echo)) as s,
        pytest.raises(ServerError) as info,
    ):
        chat(s.base_url)
    assert KEY not in str(info.value) and "***" in str(info.value)
    with fault_server(status(401, echo)) as s:
        code, _out, errtext = cli(s.base_url)
    assert code == 4 and "refused the credentials" in errtext
    # A trace from a keyed server records the URL, never the key (nor URL credentials).
    with fault_server(sse(chat_stream(["ok"]))) as s:
        url = s.base_url.replace("http://", f"http://user:{KEY}@")
        t = chat(url)
        html = t.to_html()
    assert KEY not in t.to_json() and KEY not in html
    assert "user" not in t.source["base_url"]


def test_scrub() -> None:
    assert scrub(f"bad key {KEY}!", [KEY]) == "bad key ***!"
    assert scrub("key sk-abcdefghijklmnop was wrong", []) == "key sk-abc*** was wrong"
