"""Batch: concurrency against the real server, answers kept with their own prompts, resume
after an interruption, failures retried, bad input refused; answers cut part-way kept for
every backend, empty answers done, a failing run stopped cleanly."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.helpers import run_async, run_cli
from tests.servers.faultserver import chat_stream, chat_whole, fault_server, sse, status

from tokenprobe.backends import BackendOptions
from tokenprobe.backends.llama import LlamaBackend
from tokenprobe.backends.llamacpp import LlamaCppBackend
from tokenprobe.backends.openai import OpenAIBackend
from tokenprobe.errors import FormatError
from tokenprobe.ops.batch import Item, done_ids, read_prompts, run_batch

PROMPTS = ["The capital of France is", "One, two,", "Roses are red,", "Water boils at",
           "The first president of", "My favourite colour is"]


def write_prompts(path: Path, prompts: list[str]) -> None:
    path.write_text("".join(json.dumps({"id": f"p{i}", "prompt": p}) + "\n"
                            for i, p in enumerate(prompts)))


def read_out(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_batch_against_the_server(llama_server: str, tmp_path: Path) -> None:
    prompts, out = tmp_path / "p.jsonl", tmp_path / "out.jsonl"
    write_prompts(prompts, PROMPTS)
    r = run_cli(["batch", str(prompts), "-o", str(out), "-m", "openai:gemma", "--base-url",
                 llama_server, "-c", "4", "--max-tokens", "4", "-t", "0"])
    assert r.code == 0, r.stderr
    docs = read_out(out)
    assert sorted(d["source"]["batch_id"] for d in docs) == [f"p{i}" for i in range(6)]  # type: ignore[index]
    # Each answer belongs to its own prompt: the same greedy request alone gives the same.
    backend = OpenAIBackend.from_spec("gemma", BackendOptions(base_url=llama_server))
    from tokenprobe.api import build_request

    for d in docs:
        i = int(d["source"]["batch_id"][1:])  # type: ignore[index]
        assert d["request"]["prompt"] == PROMPTS[i]  # type: ignore[index]
        alone = backend.stream(build_request(PROMPTS[i], max_tokens=4, temperature=0.0)).run()
        assert d["text"] == alone.text and d["complete"] is True
    # A second run finds everything done and asks for nothing.
    r = run_cli(["batch", str(prompts), "-o", str(out), "-m", "openai:gemma", "--base-url",
                 llama_server, "--max-tokens", "4", "-t", "0"])
    assert r.code == 0 and "0 written" in r.stderr and "6 already done" in r.stderr
    assert len(read_out(out)) == 6


@pytest.mark.slow
def test_interrupted_batch_resumes(llama_server: str, tmp_path: Path) -> None:
    prompts, out = tmp_path / "p.jsonl", tmp_path / "out.jsonl"
    write_prompts(prompts, PROMPTS[:4])
    items = read_prompts(prompts, {"max_tokens": 3, "temperature": 0.0})
    backend = OpenAIBackend.from_spec("gemma", BackendOptions(base_url=llama_server))
    first = run_async(run_batch(backend, items[:2], out, 2))
    assert first.done == 2
    # A run killed in the middle of writing its third line.
    with open(out, "ab") as f:
        f.write(b'{"schema": "tokenprobe/trace@1", "steps": [{"tok')
    again = run_async(run_batch(backend, items, out, 2))
    assert (again.skipped, again.done, again.failed) == (2, 2, [])
    docs = read_out(out)  # every line whole
    assert sorted(d["source"]["batch_id"] for d in docs) == ["p0", "p1", "p2", "p3"]  # type: ignore[index]


def test_failures_are_reported_and_retried(tmp_path: Path) -> None:
    prompts, out = tmp_path / "p.jsonl", tmp_path / "out.jsonl"
    write_prompts(prompts, ["a", "b"])
    # The first prompt is answered; the second meets a 500 on every try (retried twice).
    boom = status(500, {"error": {"message": "boom"}})
    with fault_server(chat_whole(["x"]), boom, boom, boom) as s:
        r = run_cli(["batch", str(prompts), "-o", str(out), "-m", "openai:m", "--base-url",
                     s.base_url, "-c", "1", "--chat"], env={"OPENAI_API_KEY": ""})
    assert r.code == 3 and "failed p1" in r.stderr and "boom" in r.stderr
    assert [d["source"]["batch_id"] for d in read_out(out)] == ["p0"]  # type: ignore[index]
    with fault_server(chat_whole(["y"])) as s:
        r = run_cli(["batch", str(prompts), "-o", str(out), "-m", "openai:m", "--base-url",
                     s.base_url, "--chat"])
        assert len(s.requests) == 1 and s.requests[0]["messages"][-1]["content"] == "b"
        assert not s.requests[0].get("stream")  # a batch asks for whole answers
    assert r.code == 0, r.stderr
    assert [d["source"]["batch_id"] for d in read_out(out)] == ["p0", "p1"]  # type: ignore[index]


def test_broken_answer_is_kept_and_asked_again(tmp_path: Path) -> None:
    prompts, out = tmp_path / "p.jsonl", tmp_path / "out.jsonl"
    write_prompts(prompts, ["a"])
    # With --stream the tokens of a stream cut part-way are kept.
    with fault_server(sse(chat_stream(["x", "y"], finish=None), done=False)) as s:
        r = run_cli(["batch", str(prompts), "-o", str(out), "-m", "openai:m", "--base-url",
                     s.base_url, "--chat", "--stream"])
        assert s.requests[0]["stream"] is True
    assert r.code == 3 and "1 incomplete" in r.stderr
    (doc,) = read_out(out)
    assert doc["complete"] is False and doc["text"] == "xy"
    with fault_server(chat_whole(["x", "y", "z"])) as s:
        r = run_cli(["batch", str(prompts), "-o", str(out), "-m", "openai:m", "--base-url",
                     s.base_url, "--chat"])
    assert r.code == 0
    assert [d["complete"] for d in read_out(out)] == [False, True]


def test_local_engine_batch(llama: LlamaBackend, tmp_path: Path) -> None:
    prompts, out = tmp_path / "p.jsonl", tmp_path / "out.jsonl"
    write_prompts(prompts, PROMPTS[:3])
    items = read_prompts(prompts, {"max_tokens": 3, "temperature": 0.0, "alternatives": 2})
    res = run_async(run_batch(llama, items, out, 3))
    assert res.done == 3
    for d in read_out(out):
        i = int(d["source"]["batch_id"][1:])  # type: ignore[index]
        assert d["request"]["prompt"] == PROMPTS[i] and len(d["steps"]) == 3  # type: ignore[arg-type, index]


@pytest.mark.parametrize(("line", "message"), [
    ("{bad", "line 1 is not JSON"),
    ('{"id": "x"}', "line 1: needs a \"prompt\""),
    ('{"prompt": "a", "colour": 1}', "unknown fields: colour"),
    ('{"prompt": "a", "temperature": -1}', "--temperature must be >= 0"),
])
def test_bad_prompt_files(tmp_path: Path, line: str, message: str) -> None:
    p = tmp_path / "p.jsonl"
    p.write_text(line + "\n")
    with pytest.raises(FormatError, match=message):
        read_prompts(p, {})
    p.write_text('{"id": 1, "prompt": "a"}\n{"id": 1, "prompt": "b"}\n')
    with pytest.raises(FormatError, match="appears twice"):
        read_prompts(p, {})


@pytest.mark.slow
def test_answers_read_in_worker_processes(llama_server: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # Large batches read whole answers in worker processes: the same traces as in-loop.
    import tokenprobe.ops.batch as batch_mod

    prompts = tmp_path / "p.jsonl"
    write_prompts(prompts, PROMPTS[:4])
    items = read_prompts(prompts, {"max_tokens": 3, "temperature": 0.0, "alternatives": 3})
    backend = OpenAIBackend.from_spec("gemma", BackendOptions(base_url=llama_server))
    inline = run_async(run_batch(backend, items, tmp_path / "inline.jsonl", 2))
    monkeypatch.setattr(batch_mod, "POOL_MIN_PROMPTS", 1)
    assert batch_mod._reader_pool(backend, len(items), stream=False) is not None
    pooled = run_async(run_batch(backend, items, tmp_path / "pooled.jsonl", 2))
    assert (inline.done, pooled.done) == (4, 4)

    def by_id(path: Path) -> dict[str, dict[str, object]]:
        return {d["source"]["batch_id"]: d for d in read_out(path)}  # type: ignore[index]

    a, b = by_id(tmp_path / "inline.jsonl"), by_id(tmp_path / "pooled.jsonl")
    assert a.keys() == b.keys()
    for k in a:
        for field in ("text", "steps", "complete", "finish_reason", "request"):
            assert a[k][field] == b[k][field], (k, field)


# --- backends without an asynchronous path (the native servers here, through an httpx
# transport; the local engine goes the same way) --------------------------------------


def llamacpp_answer(words: list[str], finished: bool = True) -> bytes:
    docs: list[dict[str, Any]] = []
    for i, w in enumerate(words):
        item = {"id": i + 1, "token": w, "bytes": list(w.encode()), "logprob": -0.5,
                "top_logprobs": []}
        docs.append({"index": 0, "content": w, "stop": False,
                     "completion_probabilities": [item]})
    if finished:
        docs.append({"index": 0, "content": "", "stop": True, "stop_type": "eos"})
    return "".join(f"data: {json.dumps(d, ensure_ascii=False)}\n\n" for d in docs).encode()


class Body(httpx.SyncByteStream):
    def __init__(self, data: bytes, broken: bool) -> None:
        self.data, self.broken = data, broken

    def __iter__(self) -> Iterator[bytes]:
        yield self.data
        if self.broken:
            raise httpx.ReadError("connection reset by peer")


def llamacpp(answer: Callable[[str], httpx.Response]) -> LlamaCppBackend:
    """A native llama.cpp backend whose server answers each prompt with `answer(prompt)`."""
    def handle(request: httpx.Request) -> httpx.Response:
        return answer(json.loads(request.content)["prompt"])
    return LlamaCppBackend.from_spec("http://127.0.0.1:8080", BackendOptions(
        extra={"transport": httpx.MockTransport(handle), "max_retries": 0}))


def test_a_native_answer_cut_part_way_is_written_incomplete(tmp_path: Path) -> None:
    prompts, out = tmp_path / "p.jsonl", tmp_path / "out.jsonl"
    write_prompts(prompts, ["a"])
    b = llamacpp(lambda p: httpx.Response(200, stream=Body(llamacpp_answer(["x", "y"], False),
                                                           broken=True)))
    res = run_async(run_batch(b, read_prompts(prompts, {}), out))
    assert (res.done, res.incomplete, res.failed) == (1, 1, [])
    (doc,) = read_out(out)
    assert doc["complete"] is False and doc["text"] == "xy" and doc["error"]
    assert done_ids(out) == set()  # asked again next run


def test_a_complete_answer_without_tokens_is_done(tmp_path: Path) -> None:
    prompts, out = tmp_path / "p.jsonl", tmp_path / "out.jsonl"
    write_prompts(prompts, ["a"])
    b = llamacpp(lambda p: httpx.Response(200, content=llamacpp_answer([])))
    res = run_async(run_batch(b, read_prompts(prompts, {}), out))
    assert (res.done, res.failed) == (1, [])
    (doc,) = read_out(out)
    assert doc["complete"] is True and doc["steps"] == [] and doc["text"] == ""
    again = run_async(run_batch(b, read_prompts(prompts, {}), out))
    assert (again.skipped, again.done) == (1, 0)  # not asked again forever


def test_line_separators_in_prompts_and_answers(tmp_path: Path) -> None:
    prompts, out = tmp_path / "p.jsonl", tmp_path / "out.jsonl"
    prompts.write_text(json.dumps({"id": "s", "prompt": "one\u2028two\x85"},
                                  ensure_ascii=False) + "\r\n", encoding="utf-8")
    (item,) = read_prompts(prompts, {})
    assert item.request.prompt == "one\u2028two\x85"
    b = llamacpp(lambda p: httpx.Response(200, content=llamacpp_answer(["a\u2028", "b"])))
    run_async(run_batch(b, [item], out))
    assert "\u2028" in out.read_text(encoding="utf-8")  # written raw, as JSON allows
    assert done_ids(out) == {"s"}
    again = run_async(run_batch(b, [item], out))
    assert again.skipped == 1


def test_a_failure_of_any_kind_is_the_prompts_own(tmp_path: Path) -> None:
    prompts, out = tmp_path / "p.jsonl", tmp_path / "out.jsonl"
    write_prompts(prompts, ["good", "bad"])

    def answer(prompt: str) -> httpx.Response:
        if prompt == "bad":
            raise TypeError("a transport's own bug")
        return httpx.Response(200, content=llamacpp_answer(["ok"]))

    res = run_async(run_batch(llamacpp(answer), read_prompts(prompts, {}), out, 2))
    assert res.done == 1 and [i for i, _ in res.failed] == ["p1"]
    assert "TypeError" in res.failed[0][1]
    assert [d["source"]["batch_id"] for d in read_out(out)] == ["p0"]  # type: ignore[index]


def test_a_failing_run_stops_its_answers_before_closing(tmp_path: Path) -> None:
    """When the run fails (here its progress callback), the answers still running are
    cancelled and awaited before the output is closed: none is left to write into it."""
    prompts, out = tmp_path / "p.jsonl", tmp_path / "out.jsonl"
    write_prompts(prompts, ["fast", "slow"])
    release = threading.Event()

    def answer(prompt: str) -> httpx.Response:
        if prompt == "slow":
            release.wait(30)
        return httpx.Response(200, content=llamacpp_answer([prompt]))

    def progress(item: Item, error: str | None) -> None:
        raise RuntimeError("the progress bar broke")

    async def main() -> list[asyncio.Task[Any]]:
        try:
            with pytest.raises(RuntimeError, match="progress bar broke"):
                await run_batch(llamacpp(answer), read_prompts(prompts, {}), out, 2,
                                progress)
            return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        finally:
            release.set()  # the slow answer's thread ends; nothing may write it now

    left = run_async(main())  # returns once that thread has ended
    assert left == []
    assert [d["source"]["batch_id"] for d in read_out(out)] == ["p0"]  # type: ignore[index]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("chat", "no", "chat must be true or false"),
    ("seed", "x", "seed must be a whole number or null"),
    ("alternatives", 2.5, "alternatives must be a whole number"),
    ("max_tokens", 1.5, "max_tokens must be a whole number"),
    ("top_k", True, "top_k must be a whole number"),
    ("temperature", "hot", "temperature must be a number"),
    ("top_p", None, "top_p must be a number"),
    ("stop", ["a", 1], "stop must be a string or a list of strings"),
    ("system", 3, "system must be a string or null"),
])
def test_settings_are_checked_for_their_type(tmp_path: Path, field: str, value: Any,
                                             message: str) -> None:
    p = tmp_path / "p.jsonl"
    p.write_text(json.dumps({"id": "q", "prompt": "a", field: value}) + "\n")
    with pytest.raises(FormatError, match=rf"line 1: {message}") as info:
        read_prompts(p, {})
    assert "\n" not in str(info.value)


def test_settings_of_the_right_type(tmp_path: Path) -> None:
    p = tmp_path / "p.jsonl"
    good = json.dumps({"prompt": "a", "stop": "END", "chat": True, "seed": None,
                       "temperature": 1, "max_tokens": 3})
    p.write_text(good + "\n" + '{"prompt": "b", "temperature": NaN}\n')
    with pytest.raises(FormatError, match="line 2: temperature must be a number"):
        read_prompts(p, {})
    p.write_text(good + "\n")
    (item,) = read_prompts(p, {})
    r = item.request
    assert r.stop == ["END"] and r.mode == "chat" and r.seed is None
    assert r.temperature == 1.0 and r.max_tokens == 3
