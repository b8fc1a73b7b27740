"""Batch: concurrency against the real server, answers kept with their own prompts, resume
after an interruption, failures retried, bad input refused."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from tests.helpers import run_cli
from tests.servers.faultserver import chat_stream, chat_whole, fault_server, sse, status

from tokenprobe.backends import BackendOptions
from tokenprobe.backends.llama import LlamaBackend
from tokenprobe.backends.openai import OpenAIBackend
from tokenprobe.errors import FormatError
from tokenprobe.ops.batch import read_prompts, run_batch

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
    first = asyncio.run(run_batch(backend, items[:2], out, 2))
    assert first.done == 2
    # A run killed in the middle of writing its third line.
    with open(out, "ab") as f:
        f.write(b'{"schema": "tokenprobe/trace@1", "steps": [{"tok')
    again = asyncio.run(run_batch(backend, items, out, 2))
    assert (again.skipped, again.done, again.failed) == (2, 2, [])
    docs = read_out(out)  # every line whole
    assert sorted(d["source"]["batch_id"] for d in docs) == ["p0", "p1", "p2", "p3"]  # type: ignore[index]


def test_failures_are_reported_and_retried(tmp_path: Path) -> None:
    prompts, out = tmp_path / "p.jsonl", tmp_path / "out.jsonl"
    write_prompts(prompts, ["a", "b"])
    # The first prompt is answered; the second meets a 500 on every try (the SDK retries
    # twice).
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
    res = asyncio.run(run_batch(llama, items, out, 3))
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
    inline = asyncio.run(run_batch(backend, items, tmp_path / "inline.jsonl", 2))
    monkeypatch.setattr(batch_mod, "POOL_MIN_PROMPTS", 1)
    assert batch_mod._reader_pool(backend, len(items), stream=False) is not None
    pooled = asyncio.run(run_batch(backend, items, tmp_path / "pooled.jsonl", 2))
    assert (inline.done, pooled.done) == (4, 4)

    def by_id(path: Path) -> dict[str, dict[str, object]]:
        return {d["source"]["batch_id"]: d for d in read_out(path)}  # type: ignore[index]

    a, b = by_id(tmp_path / "inline.jsonl"), by_id(tmp_path / "pooled.jsonl")
    assert a.keys() == b.keys()
    for k in a:
        for field in ("text", "steps", "complete", "finish_reason", "request"):
            assert a[k][field] == b[k][field], (k, field)
