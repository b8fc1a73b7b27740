"""The native llamacpp backend against a real llama-server on the embedded model.

The local engine runs the same model through the same llama.cpp code (llama-cpp-python
vendors the sources the server is built from), so greedy tokens must be equal and logprobs
close; post-sampling probabilities are checked against the raw ones re-normalised by hand.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from tests.helpers import run_cli

from tokenprobe.api import build_request
from tokenprobe.backends import BackendOptions, get_backend
from tokenprobe.backends.llama import LlamaBackend
from tokenprobe.backends.llamacpp import LlamaCppBackend, server_root
from tokenprobe.errors import InputError, ModelError
from tokenprobe.ops.branch import branch
from tokenprobe.trace import Step, Trace

# Measured: within 3e-4 nats of the local engine (same kernels, another process).
CLOSE = 0.01


def native(url: str, **body: object) -> LlamaCppBackend:
    return LlamaCppBackend(url, extra_body=dict(body) or None)


def run(backend: LlamaCppBackend | LlamaBackend, prompt: str, **settings: object) -> Trace:
    return backend.stream(build_request(prompt, **settings)).run()  # type: ignore[arg-type]


def assert_close_steps(ours: list[Step], local: list[Step]) -> None:
    assert [s.id for s in ours] == [s.id for s in local]
    for a, b in zip(ours, local):
        assert a.data == b.data
        assert a.logprob is not None and b.logprob is not None
        assert abs(a.logprob - b.logprob) < CLOSE, (a.token, a.logprob, b.logprob)
        theirs = {c.id: c.logprob for c in b.top}
        shared = [c for c in a.top if c.id in theirs]
        assert len(shared) >= len(a.top) - 1  # a near-tie at the end of the list may swap
        for c in shared:
            assert abs(c.logprob - theirs[c.id]) < CLOSE  # type: ignore[operator]


def test_greedy_tokens_and_logprobs_match_the_local_engine(llamacpp_server: str,
                                                            llama: LlamaBackend) -> None:
    settings = {"max_tokens": 12, "temperature": 0.0, "alternatives": 5}
    t = run(native(llamacpp_server), "The capital of France is", **settings)
    local = run(llama, "The capital of France is", **settings)
    assert t.backend == "llamacpp" and t.logprobs_kind == "raw" and t.complete
    assert t.model == "gemma-3-270m-q4_k_m.gguf"
    assert t.source == {"base_url": llamacpp_server, "endpoint": "/completion"}
    assert t.text == local.text and t.finish_reason == "length"
    assert_close_steps(t.steps, local.steps)
    assert all(len(s.top) == 5 and s.sample_logprob == 0.0 for s in t.steps)
    assert all(s.top == sorted(s.top, key=lambda c: -c.logprob) for s in t.steps)  # type: ignore[arg-type,operator,return-value]


def test_alternatives_zero_still_gives_each_tokens_logprob(llamacpp_server: str) -> None:
    t = run(native(llamacpp_server), "The capital of France is", max_tokens=3,
            temperature=0.0, alternatives=0)
    assert all(s.top == [] and s.logprob is not None and s.logprob < 0 for s in t.steps)


def test_post_sampling_probs_are_the_processed_distribution(llamacpp_server: str) -> None:
    prompt, temp = "The capital of France is", 0.7
    raw = run(native(llamacpp_server), prompt, max_tokens=1, temperature=0.0, alternatives=5)
    t = run(native(llamacpp_server, post_sampling_probs=True), prompt, max_tokens=1,
            temperature=temp, top_k=5, seed=11, alternatives=10)
    assert t.logprobs_kind == "processed"
    step = t.steps[0]
    # top_k 5: the sampler keeps five tokens, and all five are listed with their
    # probabilities after temperature, which sum to one.
    assert len(step.top) == 5
    assert math.fsum(c.prob for c in step.top) == pytest.approx(1.0, abs=1e-4)  # type: ignore[misc]
    assert step.sample_logprob == step.logprob
    # The same five tokens as the raw top 5, re-normalised at T = 0.7 by hand.
    first = raw.steps[0].top
    z = math.fsum(math.exp(c.logprob / temp) for c in first)  # type: ignore[operator]
    expected = {c.id: c.logprob / temp - math.log(z) for c in first}  # type: ignore[operator]
    assert {c.id for c in step.top} == set(expected)
    for c in step.top:
        assert abs(c.logprob - expected[c.id]) < 2e-3  # type: ignore[operator]


def test_greedy_post_sampling_puts_all_mass_on_the_choice(llamacpp_server: str) -> None:
    t = run(native(llamacpp_server, post_sampling_probs=True), "The capital of France is",
            max_tokens=3, temperature=0.0)
    assert t.logprobs_kind == "processed"
    assert all(s.logprob == 0.0 and s.sample_logprob == 0.0 for s in t.steps)


def test_seeded_sampling_repeats(llamacpp_server: str) -> None:
    b = native(llamacpp_server)
    a = run(b, "Once upon a time", max_tokens=8, temperature=1.0, seed=7)
    c = run(b, "Once upon a time", max_tokens=8, temperature=1.0, seed=7)
    assert [s.id for s in a.steps] == [s.id for s in c.steps]
    assert all(s.sample_logprob is None for s in a.steps)  # not reported for raw sampling


def test_chat_uses_the_servers_template(llamacpp_server: str, llama: LlamaBackend) -> None:
    settings = {"chat": True, "system": "Be brief.", "max_tokens": 6, "temperature": 0.0,
                "alternatives": 3}
    t = run(native(llamacpp_server), "Say hi.", **settings)
    local = run(llama, "Say hi.", **settings)
    assert t.request.mode == "chat" and t.complete
    assert_close_steps(t.steps, local.steps)


def test_a_stop_word_keeps_the_tokens_that_made_it(llamacpp_server: str,
                                                   llama: LlamaBackend) -> None:
    settings = {"max_tokens": 12, "temperature": 0.0, "stop": [" capital of"]}
    t = run(native(llamacpp_server), "The capital of France is", **settings)
    local = run(llama, "The capital of France is", **settings)
    assert t.text == local.text == " the capital of"
    assert t.finish_reason == "stop"
    assert_close_steps(t.steps, local.steps)


def test_partial_characters(llamacpp_server: str, llama: LlamaBackend) -> None:
    """𩸽 is four byte tokens; the server reports only the last of each character and sends
    the four bytes with it. The trace keeps the bytes exactly: the unreported tokens are one
    step with logprob null, the reported one has its own byte and its own logprob."""
    prompt = "𩸽" * 8
    t = run(native(llamacpp_server), prompt, max_tokens=8, temperature=0.0, alternatives=2)
    local = run(llama, prompt, max_tokens=8, temperature=0.0, alternatives=2)
    assert t.text == "𩸽𩸽" and t.complete
    assert [s.data for s in t.steps] == [b"\xf0\xa9\xb8", b"\xbd"] * 2
    assert [s.logprob is None for s in t.steps] == [True, False] * 2
    assert "did not report" in t.source["note"]
    by_position = {}
    pos = 0
    for s in local.steps:
        by_position[pos] = s
        pos += len(s.data)
    pos = 0
    for s in t.steps:
        if s.logprob is not None:
            assert s.id == by_position[pos].id
            assert abs(s.logprob - by_position[pos].logprob) < CLOSE  # type: ignore[operator]
        pos += len(s.data)


def test_branch_resends_the_text(llamacpp_server: str, llama: LlamaBackend) -> None:
    parent = run(native(llamacpp_server), "The capital of France is", max_tokens=6,
                 temperature=0.0)
    child = branch(parent, 2, " city", options=BackendOptions(base_url=llamacpp_server))
    assert child.backend == "llamacpp" and child.complete
    assert child.parent == {"id": parent.id, "step": 2, "token": " city"}
    assert [s.token for s in child.steps[:3]] == [" the", " capital", " city"]
    assert child.steps[2].forced and child.steps[2].logprob == parent.steps[2].top[
        [c.token for c in parent.steps[2].top].index(" city")].logprob
    local = run(llama, "The capital of France is the capital city", max_tokens=3,
                temperature=0.0)
    assert child.text == " the capital city" + local.text


def test_scoring_is_refused_with_what_can(llamacpp_server: str) -> None:
    with pytest.raises(ModelError, match=r"cannot score a given text.*local engine"):
        native(llamacpp_server).score("Some text")


def test_model_spec_forms() -> None:
    b = get_backend("llamacpp:127.0.0.1:8999/v1")
    assert isinstance(b, LlamaCppBackend) and b.root == "http://127.0.0.1:8999"
    assert server_root("https://h.example/llama/v1/") == "https://h.example/llama"
    with pytest.raises(InputError, match="names no server"):
        get_backend("llamacpp:gemma")
    named = get_backend("llamacpp:gemma", BackendOptions(base_url="http://127.0.0.1:8999"))
    assert isinstance(named, LlamaCppBackend) and named.model == "gemma"


def test_command_line(llamacpp_server: str, tmp_path: Path) -> None:
    out = tmp_path / "t.json"
    r = run_cli(["generate", "The capital of France is", "-m", f"llamacpp:{llamacpp_server}",
                 "--max-tokens", "4", "--temperature", "0", "--no-save", "--json", "-o",
                 str(out), "--extra-body", '{"post_sampling_probs": true}'], timeout=120)
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["backend"] == "llamacpp" and doc["logprobs_kind"] == "processed"
    assert json.loads(out.read_text())["id"] == doc["id"]
    r = run_cli(["score", "Some text", "-m", f"llamacpp:{llamacpp_server}", "--no-save"])
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.code == 2 and len(lines) == 1 and "cannot score" in lines[0]
