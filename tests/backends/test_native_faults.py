"""Every server fault tokenprobe handles, for the native llamacpp and ollama backends, injected
by the scripted fault server: the message, the exit code, and the tokens kept."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from tests.helpers import run_cli
from tests.servers.conftest import free_port
from tests.servers.faultserver import (
    Behaviour,
    fault_server,
    ndjson,
    raw_body,
    reset,
    silence,
    sse,
    status,
)

from tokenprobe.api import build_request
from tokenprobe.backends import Backend, BackendOptions, GenerationError
from tokenprobe.backends.llamacpp import LlamaCppBackend
from tokenprobe.backends.ollama import OllamaBackend
from tokenprobe.backends.server_errors import ServerError
from tokenprobe.errors import ModelError
from tokenprobe.trace import Trace

KEY = "sk-proj-SECRETsecretSECRET0123456789"
OLLAMA_KEY = "ollama-SECRETsecretSECRET0123456789"
KINDS = ["llamacpp", "ollama"]


@pytest.fixture(autouse=True)
def openai_key_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """As for a user with OPENAI_API_KEY set: the command line hands it to every backend."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)


# --- the two servers' stream shapes ----------------------------------------------------


def llamacpp_chunk(token: str, lp: float, with_probs: bool = True) -> dict[str, Any]:
    doc: dict[str, Any] = {"index": 0, "content": token, "tokens": [7], "stop": False,
                           "id_slot": -1, "tokens_predicted": 1, "tokens_evaluated": 2}
    if with_probs:
        item = {"id": 7, "token": token, "bytes": list(token.encode()), "logprob": lp}
        doc["completion_probabilities"] = [{**item, "top_logprobs": [
            item, {"id": 8, "token": "x", "bytes": [120], "logprob": -3.0}]}]
    return doc


def llamacpp_docs(tokens: list[str], finished: bool = True,
                  with_probs: bool = True) -> list[dict[str, Any]]:
    docs = [llamacpp_chunk(t, -0.1 * (i + 1), with_probs) for i, t in enumerate(tokens)]
    if finished:
        docs.append({"index": 0, "content": "", "stop": True, "model": "m.gguf",
                     "stop_type": "eos", "stopping_word": ""})
    return docs


def ollama_docs(tokens: list[str], finished: bool = True,
                with_probs: bool = True) -> list[dict[str, Any]]:
    docs = []
    for i, t in enumerate(tokens):
        doc: dict[str, Any] = {"model": "m", "created_at": "2025-11-14T22:26:10Z",
                               "message": {"role": "assistant", "content": t}, "done": False}
        if with_probs:
            item = {"token": t, "logprob": -0.1 * (i + 1), "bytes": list(t.encode())}
            doc["logprobs"] = [{**item, "top_logprobs": [
                item, {"token": "x", "logprob": -3.0, "bytes": [120]}]}]
        docs.append(doc)
    if finished:
        docs.append({"model": "m", "created_at": "2025-11-14T22:26:11Z",
                     "message": {"role": "assistant", "content": ""}, "done": True,
                     "done_reason": "stop", "eval_count": len(tokens)})
    return docs


def answer(kind: str, tokens: list[str], finished: bool = True, with_probs: bool = True,
           **cut: Any) -> Behaviour:
    """The server's streamed answer of `tokens` (cut short, when asked)."""
    if kind == "llamacpp":
        return sse(llamacpp_docs(tokens, finished, with_probs), done=False,
                   chunked_cut=bool(cut.get("cut")), extra_lines=cut.get("extra"))
    return ndjson(ollama_docs(tokens, finished, with_probs), cut=bool(cut.get("cut")),
                  extra_lines=cut.get("extra"))


def backend(kind: str, url: str, **extra: Any) -> Backend:
    timeout = extra.pop("timeout", None)
    opts = BackendOptions(base_url=url, api_key=KEY, timeout=timeout,
                          extra={"max_retries": 0, **extra})
    if kind == "llamacpp":
        return LlamaCppBackend.from_spec(url, opts)
    return OllamaBackend.from_spec("m", opts)


def chat(kind: str, url: str, **extra: Any) -> Trace:
    req = build_request("hi", chat=kind == "ollama", max_tokens=8, alternatives=2)
    return backend(kind, url, **extra).stream(req).run()


def cli(kind: str, url: str, *args: str) -> tuple[int, str, str]:
    model = f"llamacpp:{url}" if kind == "llamacpp" else "ollama:m"
    extra = [] if kind == "llamacpp" else ["--base-url", url]
    r = run_cli(["generate", "hi", "-m", model, *extra, "--no-save", *args],
                env={"OPENAI_API_KEY": KEY, "OLLAMA_API_KEY": OLLAMA_KEY}, timeout=60)
    assert KEY not in r.stdout + r.stderr and OLLAMA_KEY not in r.stdout + r.stderr
    return r.code, r.stdout, r.stderr


# --- the faults ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_happy_stream_from_script(kind: str) -> None:
    # The script itself is sound: a full stream reads as a complete trace.
    with fault_server(answer(kind, ["Hel", "lo"])) as s:
        t = chat(kind, s.base_url)
    assert t.complete and t.text == "Hello" and t.finish_reason == "stop"
    assert s.paths[0] == ("/completion" if kind == "llamacpp" else "/api/chat")
    sent = s.requests[0]
    if kind == "llamacpp":
        assert sent["n_probs"] == 2 and sent["stream"] is True
        assert s.headers[0]["authorization"] == f"Bearer {KEY}"
    else:
        assert sent["logprobs"] is True and sent["top_logprobs"] == 2
        assert "authorization" not in s.headers[0]  # OPENAI_API_KEY is not Ollama's


@pytest.mark.parametrize("kind", KINDS)
def test_429_retry_after_is_honoured(kind: str) -> None:
    with fault_server(status(429, {"error": "slow down"}, {"retry-after": "1"}),
                      answer(kind, ["ok"])) as s:
        t0 = time.monotonic()
        t = chat(kind, s.base_url, max_retries=2)
        took = time.monotonic() - t0
    # Two generation requests (llamacpp then asks /v1/models for the vocabulary size).
    assert t.text == "ok" and len([p for p in s.paths if p != "/v1/models"]) == 2
    assert took >= 0.9  # waited as told


@pytest.mark.parametrize("kind", KINDS)
def test_429_gives_up_with_a_clear_message(kind: str) -> None:
    limited = status(429, {"error": {"code": 429, "message": "Rate limit reached"}},
                     {"retry-after": "0"})
    with fault_server(limited, limited) as s:
        with pytest.raises(ServerError, match=r"rate limiting requests \(HTTP 429\) after 2 "
                           r"tries: Rate limit reached"):
            chat(kind, s.base_url, max_retries=1)
        assert len(s.requests) == 2
    with fault_server(limited, limited, limited) as s:
        code, _out, errtext = cli(kind, s.base_url)
    assert code == 4 and "HTTP 429" in errtext and errtext.count("\n") == 1


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("code", [500, 503])
def test_server_errors(kind: str, code: int) -> None:
    with (
        fault_server(status(code, {"error": "overloaded"})) as s,
        pytest.raises(ServerError, match=rf"failed \(HTTP {code}\): overloaded"),
    ):
        chat(kind, s.base_url)


def test_a_loading_server_is_waited_for() -> None:
    loading = status(503, {"error": {"code": 503, "message": "Loading model",
                                     "type": "unavailable_error"}}, {"retry-after": "0"})
    with fault_server(loading, answer("llamacpp", ["ok"])) as s:
        t = chat("llamacpp", s.base_url, max_retries=2)
    assert t.text == "ok" and len([p for p in s.paths if p != "/v1/models"]) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_timeout(kind: str) -> None:
    with fault_server(silence(3)) as s:
        t0 = time.monotonic()
        with pytest.raises(ServerError, match=r"did not answer within 0.5 s"):
            chat(kind, s.base_url, timeout=0.5)
        assert time.monotonic() - t0 < 2.5


@pytest.mark.parametrize("kind", KINDS)
def test_connection_refused(kind: str) -> None:
    with pytest.raises(ServerError, match=r"cannot reach the server at .*connection refused"):
        chat(kind, f"http://127.0.0.1:{free_port()}")


@pytest.mark.parametrize("kind", KINDS)
def test_connection_reset(kind: str) -> None:
    with fault_server(reset) as s, pytest.raises(ServerError, match=r"reach|broke"):
        chat(kind, s.base_url)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cut", [False, True])
def test_cut_stream_keeps_the_tokens(kind: str, cut: bool, tmp_path: Path) -> None:
    tokens = ["The", " cat", " sat"]
    with (
        fault_server(answer(kind, tokens, finished=False, cut=cut)) as s,
        pytest.raises(GenerationError) as info,
    ):
        chat(kind, s.base_url)
    t = info.value.trace
    assert [st.token for st in t.steps] == tokens
    assert t.text == "The cat sat" and not t.complete and t.error
    assert ("broke the connection part-way" if cut else "ended the stream") in t.error
    assert "kept the 3 tokens" in str(info.value)
    # Through the command line: exit 3, the partial trace written.
    out = tmp_path / "t.json"
    with fault_server(answer(kind, tokens, finished=False, cut=cut)) as s:
        code, _, errtext = cli(kind, s.base_url, "-o", str(out))
    assert code == 3, errtext
    saved = json.loads(out.read_text())
    assert saved["complete"] is False and saved["error"] and len(saved["steps"]) == 3
    assert KEY not in out.read_text()


@pytest.mark.parametrize("kind", KINDS)
def test_non_json_body(kind: str) -> None:
    with (
        fault_server(raw_body("<html>Bad gateway</html>", "text/html")) as s,
        pytest.raises(ServerError, match=r"not JSON .*Bad gateway"),
    ):
        chat(kind, s.base_url)


@pytest.mark.parametrize("kind", KINDS)
def test_truncated_body(kind: str) -> None:
    with (
        fault_server(raw_body('{"content": "Hi", "stop": tr')) as s,
        pytest.raises(ServerError, match="not JSON"),
    ):
        chat(kind, s.base_url)


@pytest.mark.parametrize("kind", KINDS)
def test_truncated_json_in_a_stream_keeps_the_tokens(kind: str) -> None:
    broken = 'data: {"content": "x", "sto\n\n' if kind == "llamacpp" else '{"model": "m", "me\n'
    with (
        fault_server(answer(kind, ["A", "B"], finished=False, extra=[broken])) as s,
        pytest.raises(GenerationError, match="not JSON") as info,
    ):
        chat(kind, s.base_url)
    assert info.value.trace.text == "AB"


@pytest.mark.parametrize("kind", KINDS)
def test_an_error_reported_in_the_stream_keeps_the_tokens(kind: str) -> None:
    error = ('data: {"error": {"code": 500, "message": "out of memory", "type": '
             '"server_error"}}\n\n' if kind == "llamacpp"
             else '{"error": "out of memory"}\n')
    with (
        fault_server(answer(kind, ["A", "B"], finished=False, extra=[error])) as s,
        pytest.raises(GenerationError, match="reported an error part-way: out of memory"),
    ):
        chat(kind, s.base_url)


@pytest.mark.parametrize("kind", KINDS)
def test_server_that_ignores_logprobs(kind: str) -> None:
    words = ["One", " two", " three", " four"]
    with (
        fault_server(answer(kind, words, with_probs=False)) as s,
        pytest.raises(ServerError, match=r"returned no logprobs: .* see docs/servers.md"),
    ):
        chat(kind, s.base_url)
    # A short answer without logprobs is caught at the end.
    with (
        fault_server(answer(kind, ["Hi"], with_probs=False)) as s,
        pytest.raises(ServerError, match="returned no logprobs"),
    ):
        chat(kind, s.base_url)
    with fault_server(answer(kind, ["Hi"], with_probs=False)) as s:
        code, _, errtext = cli(kind, s.base_url)
    assert code == 4 and "returned no logprobs" in errtext


def test_ollama_top_logprobs_above_its_cap() -> None:
    # Ollama's own answer (server/routes.go) to top_logprobs outside 0-20.
    refusal = status(400, {"error": "top_logprobs must be between 0 and 20"})
    with fault_server(refusal) as s:
        code, _, errtext = cli("ollama", s.base_url, "--alternatives", "30")
    assert code == 4
    assert "allows at most 20 alternatives per token (asked for 30)" in errtext
    assert s.requests[0]["top_logprobs"] == 30


def test_n_probs_above_a_cap_says_the_cap() -> None:
    """llama.cpp itself sets no cap on n_probs; a server that does (a proxy in front of it,
    a fork) refuses with its cap, and the message names it."""
    refusal = status(400, {"error": {"code": 400, "type": "invalid_request_error",
                                     "message": "n_probs must be at most 100"}})
    with fault_server(refusal) as s:
        code, _, errtext = cli("llamacpp", s.base_url, "--alternatives", "200")
    assert code == 4
    assert "allows at most 100 alternatives per token (asked for 200)" in errtext


@pytest.mark.parametrize("kind", KINDS)
def test_logprobs_only_for_part_of_the_text(kind: str) -> None:
    rest: dict[str, Any]
    if kind == "llamacpp":
        rest = {"index": 0, "content": "lo there", "stop": False, "tokens_predicted": 2}
        final = {"index": 0, "content": "", "stop": True, "stop_type": "eos"}
        behaviour = sse([*llamacpp_docs(["Hel"], finished=False), rest, final], done=False)
    else:
        rest = {"model": "m", "message": {"role": "assistant", "content": "lo there"},
                "done": False}
        final = {"model": "m", "message": {"role": "assistant", "content": ""}, "done": True,
                 "done_reason": "stop"}
        behaviour = ndjson([*ollama_docs(["Hel"], finished=False), rest, final])
    with (
        fault_server(behaviour) as s,
        pytest.raises(GenerationError, match="only the first 3 of the 11") as info,
    ):
        chat(kind, s.base_url)
    assert info.value.trace.text == "Hel"


def test_a_llamacpp_server_without_apply_template() -> None:
    with fault_server(status(404, "File Not Found")) as s:
        b = backend("llamacpp", s.base_url)
        with pytest.raises(ModelError, match="has no /apply-template endpoint"):
            b.stream(build_request("hi", chat=True)).run()
    assert s.paths == ["/apply-template"]


def test_the_keys_never_appear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    echo = {"error": {"code": 401, "message": f"Invalid API Key {KEY}",
                      "type": "authentication_error"}}
    with fault_server(status(401, echo)) as s, pytest.raises(ServerError) as info:
        chat("llamacpp", s.base_url)
    assert KEY not in str(info.value) and "***" in str(info.value)
    assert "check OPENAI_API_KEY" in str(info.value)
    with fault_server(status(401, echo)) as s:
        code, _out, errtext = cli("llamacpp", s.base_url)
    assert code == 4 and "refused the credentials" in errtext
    # Ollama's key comes from OLLAMA_API_KEY, and stays out of errors and traces.
    monkeypatch.setenv("OLLAMA_API_KEY", OLLAMA_KEY)
    with fault_server(status(403, {"error": f"bad key {OLLAMA_KEY}"})) as s, \
            pytest.raises(ServerError) as info:
        chat("ollama", s.base_url)
    assert OLLAMA_KEY not in str(info.value) and "check OLLAMA_API_KEY" in str(info.value)
    assert s.headers[0]["authorization"] == f"Bearer {OLLAMA_KEY}"
    # A trace from a keyed server records the URL, never the key (nor URL credentials).
    for kind in KINDS:
        with fault_server(answer(kind, ["ok"])) as s:
            url = s.base_url.replace("http://", f"http://user:{KEY}@")
            t = chat(kind, url)
        assert KEY not in t.to_json() and KEY not in t.to_html()
        assert OLLAMA_KEY not in t.to_json()
        assert "user" not in t.source["base_url"]
