"""Every server fault tokenprobe handles, for the OpenAI-compatible backend, injected by a
scripted server: the message, the exit code, and the tokens kept."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from tests.helpers import run_async, run_cli
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
from tokenprobe.backends.openai import OpenAIBackend
from tokenprobe.backends.server_errors import (
    MAX_RETRY_WAIT,
    ServerError,
    logprobs_cap,
    retry_delay,
    scrub,
)
from tokenprobe.errors import InputError
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
    with pytest.raises(InputError, match="at most 20 alternatives"):
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


# --- a stream that breaks while tokens wait; lines; finish reasons; unreadable chunks --


def held_chunk() -> dict[str, object]:
    """Two tokens whose text has not come yet: one hiding its bytes (llama-cpp-python's ""),
    and the token after it, which waits with it until the text shows them."""
    items = [{"token": "", "logprob": -0.7, "bytes": None, "top_logprobs": []},
             {"token": " EN", "logprob": -0.3, "bytes": list(b" EN"), "top_logprobs": []}]
    return {"id": "c1", "object": "chat.completion.chunk", "model": "m",
            "choices": [{"index": 0, "delta": {"content": ""}, "logprobs": {"content": items},
                         "finish_reason": None}]}


def test_a_broken_stream_keeps_the_tokens_that_waited() -> None:
    docs = [*chat_stream(["Hello"], finish=None), held_chunk()]
    with fault_server(sse(docs, done=False, chunked_cut=True)) as s, \
            pytest.raises(GenerationError) as info:
        chat(s.base_url)
    t = info.value.trace
    assert [st.token for st in t.steps] == ["Hello", "", " EN"]
    assert [st.logprob for st in t.steps] == [-0.1, -0.7, -0.3]
    assert t.text == "Hello EN" and not t.complete


def test_a_broken_stream_keeps_the_tokens_that_waited_on_an_event_loop() -> None:
    docs = [*chat_stream(["Hello"], finish=None), held_chunk()]

    async def run(b: OpenAIBackend) -> Trace:
        client = b.async_client()
        try:
            return await b.agenerate(build_request("hi", chat=True, alternatives=2), client,
                                     stream=True)
        finally:
            await client.close()

    with fault_server(sse(docs, done=False, chunked_cut=True)) as s:
        t = run_async(run(backend(s.base_url)))  # type: ignore[arg-type]
    assert [st.token for st in t.steps] == ["Hello", "", " EN"]
    assert not t.complete and t.error and t.finish_reason == "error"


def test_line_separators_inside_a_chunk() -> None:
    words = ["a\u2028b", "c\u2029", "d\x85"]

    async def run(b: OpenAIBackend) -> Trace:
        client = b.async_client()
        try:
            return await b.agenerate(build_request("hi", chat=True), client, stream=True)
        finally:
            await client.close()

    with fault_server(sse(chat_stream(words), ensure_ascii=False)) as s:
        t = chat(s.base_url)
    assert t.complete and t.text == "".join(words)
    with fault_server(sse(chat_stream(words), ensure_ascii=False)) as s:
        t = run_async(run(backend(s.base_url)))  # type: ignore[arg-type]
    assert t.complete and t.text == "".join(words)


@pytest.mark.parametrize(("finish", "says"), [
    ("content_filter", "stopped the answer with its content filter"),
    ("abort", "aborted the answer"), ("error", "stopped the answer with an error")])
def test_an_error_finish_keeps_the_tokens(tmp_path: Path, finish: str, says: str) -> None:
    docs = chat_stream(["A", "B"], finish=finish)
    with fault_server(sse(docs)) as s, pytest.raises(GenerationError, match=says) as info:
        chat(s.base_url)
    t = info.value.trace
    assert t.text == "AB" and not t.complete and t.finish_reason == "error"
    out = tmp_path / "t.json"
    with fault_server(sse(docs)) as s:
        code, _, errtext = cli(s.base_url, "-o", str(out))
    assert code == 3 and says in errtext
    assert json.loads(out.read_text())["complete"] is False


def test_a_chunk_that_cannot_be_read_is_the_servers_failure() -> None:
    bad = chat_chunk("A")
    bad["choices"][0]["logprobs"] = {"content": 5}  # type: ignore[index]
    with fault_server(sse([bad])) as s, \
            pytest.raises(ServerError, match="sent an answer tokenprobe cannot read"):
        chat(s.base_url)
    with fault_server(sse([bad])) as s:
        code, _, errtext = cli(s.base_url)
    assert code == 4 and "cannot read" in errtext and errtext.count("\n") == 1


# --- retries: bounded waits, honest counts ---------------------------------------------


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The retry waits the backend takes, recorded instead of slept."""
    import tokenprobe.backends.openai_transport as openai_backend

    taken: list[float] = []
    monkeypatch.setattr(openai_backend, "_sleep", taken.append)
    return taken


def test_a_long_retry_after_is_bounded(waits: list[float]) -> None:
    # The SDK would wait as told up to its own bound (two minutes); the backend waits at
    # most MAX_RETRY_WAIT, as the native backends do.
    with fault_server(status(429, {"error": {"message": "slow"}}, {"retry-after": "45"}),
                      status(503, {"error": {"message": "busy"}}, {"retry-after-ms": "250"}),
                      sse(chat_stream(["ok"]))) as s:
        t = chat(s.base_url, max_retries=2)
    assert t.text == "ok" and len(s.requests) == 3
    assert waits == [MAX_RETRY_WAIT, 0.25]


def test_after_n_tries_only_when_there_were_n(waits: list[float]) -> None:
    # A retry-after beyond the SDK's bound made it give up at once, while the message said
    # "after 3 tries"; now the tries are made (the wait bounded), and counted.
    limited = status(429, {"error": {"message": "later"}}, {"retry-after": "3600"})
    with fault_server(limited, limited, limited) as s, \
            pytest.raises(ServerError, match=r"\(HTTP 429\) after 3 tries: later"):
        chat(s.base_url, max_retries=2)
    assert len(s.requests) == 3 and waits == [MAX_RETRY_WAIT] * 2
    with fault_server(limited) as s, pytest.raises(ServerError) as info:
        chat(s.base_url, max_retries=0)
    assert "tries" not in str(info.value) and len(s.requests) == 1
    # A refusal is not retried, and says no count.
    with fault_server(status(400, {"error": {"message": "bad"}}), limited) as s, \
            pytest.raises(ServerError) as info:
        chat(s.base_url, max_retries=2)
    assert "HTTP 400" in str(info.value) and "tries" not in str(info.value)
    assert len(s.requests) == 1


def test_a_query_in_the_base_url_stays_out() -> None:
    secret = "SECRETsecret0123456789"
    b = OpenAIBackend("m", f"http://127.0.0.1:9/v1?api-key={secret}", None)
    assert secret not in json.dumps(b.source()) and secret not in b.where
    with pytest.raises(ServerError, match="cannot reach") as info:
        b.stream(build_request("hi")).run()
    assert secret not in str(info.value)
