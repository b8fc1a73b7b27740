"""The OpenAI-compatible backend against a real vLLM (its CPU build) serving the embedded
Gemma 3 270M (converted by scripts/build-vllm), in its default --logprobs-mode raw_logprobs.

The local llama.cpp engine on the same weights is the independent reference. The two run
different kernels at different precision (vLLM: the Q4_K weights dequantized to float32;
llama.cpp: Q4_K kernels on 8-bit quantized activations), so the numbers agree within a
measured tolerance, not exactly (docs/servers.md): on the texts below the per-token
difference was at most 0.23-0.28 nats, 0.04-0.12 on average; the tests allow 0.5 per token
and 0.2 on average. Within vLLM itself (a greedy generation scored again), the same token gets
the same number within 2e-3 nats (prefill and decode batches differ in float32 order).
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from tests.helpers import run_cli

from tokenprobe.backends import BackendOptions, get_backend
from tokenprobe.backends.llama import LlamaBackend
from tokenprobe.backends.openai import OpenAIBackend
from tokenprobe.backends.server_errors import ServerError
from tokenprobe.trace import Step, Trace

pytestmark = pytest.mark.slow

TOKEN_TOL = 0.5  # nats, one token, vLLM float32 vs llama.cpp Q4_K (measured max 0.28)
MEAN_TOL = 0.2  # nats, mean over a text (measured 0.04-0.12)
SELF_TOL = 2e-3  # nats, vLLM against itself (generation vs scoring)
TEXTS = ["The capital of France is Paris. It is known for the Eiffel Tower.",
         "def add(a, b):\n    return a + b\n",
         "Is 𠮷 Café! Über naïve façade — 東京タワー。"]


def backend(base: str, stream: bool = True, **options: Any) -> OpenAIBackend:
    opts = BackendOptions(base_url=base, extra={"stream": stream}, **options)
    b = get_backend("openai:gemma", opts)
    assert isinstance(b, OpenAIBackend)
    return b


def post(base: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(f"{base}/{path}", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as r:
        doc: dict[str, Any] = json.loads(r.read())
    return doc


def close_to_local(remote: list[Step], local: list[Step]) -> None:
    assert [s.data for s in remote] == [s.data for s in local]
    diffs = [abs(x.logprob - y.logprob) for x, y in zip(remote, local)  # type: ignore[operator]
             if x.logprob is not None and y.logprob is not None]
    assert diffs and max(diffs) < TOKEN_TOL, max(diffs)
    assert sum(diffs) / len(diffs) < MEAN_TOL


@pytest.mark.parametrize("text", TEXTS)
def test_score_sees_the_bos_and_matches_local(vllm_raw: str, llama: LlamaBackend,
                                              text: str) -> None:
    remote = backend(vllm_raw).score(text, alternatives=5)
    local = llama.score(text, alternatives=5)
    first = remote.prompt_steps[0]
    # vLLM echoes the <bos> it added: a special step with no bytes and no logprob.
    assert first.special and first.data == b"" and first.token == "<bos>"
    assert first.logprob is None and first.top == []
    assert b"".join(s.data for s in remote.prompt_steps).decode() == text
    assert remote.request.prompt == text
    assert remote.logprobs_kind == "raw" and "note" not in remote.source
    # The scores are those after <bos>, as the local engine computes them.
    assert local.prompt_steps[0].special
    close_to_local(remote.prompt_steps[1:], local.prompt_steps[1:])
    # Offsets count within the text (the <bos> takes no characters).
    assert [s.offset for s in remote.prompt_steps] == [s.offset for s in local.prompt_steps]
    # vLLM's prompt_logprobs came with the echo: ids, and the vocabulary rank of each token.
    for r, lo in zip(remote.prompt_steps[1:], local.prompt_steps[1:]):
        assert r.id == lo.id
        assert r.vocab_rank is not None and r.vocab_rank >= 1
        assert (r.vocab_rank == 1) == (r.rank() == 1)
        if r.rank() is None:  # outside the top 5: the server says where it stood
            assert r.vocab_rank > 5


def test_score_against_vllm_own_echo(vllm_raw: str) -> None:
    # The numbers are exactly what vLLM computed for the text as the model saw it.
    text = TEXTS[0]
    doc = post(vllm_raw, "completions", {"model": "gemma", "prompt": text, "echo": True,
                                         "max_tokens": 1, "logprobs": 2, "temperature": 0})
    lp = doc["choices"][0]["logprobs"]
    n = len(lp["tokens"]) - 1  # the one generated token is not part of the text
    t = backend(vllm_raw).score(text, alternatives=2)
    assert [s.logprob for s in t.prompt_steps] == lp["token_logprobs"][:n]
    # Without <bos> (add_special_tokens false) the same text scores very differently:
    # the first word alone drops by more than ten nats.
    bare = post(vllm_raw, "completions", {"model": "gemma", "prompt": text, "echo": True,
                                          "max_tokens": 1, "logprobs": 0, "temperature": 0,
                                          "add_special_tokens": False})
    assert bare["choices"][0]["logprobs"]["tokens"][0] != "<bos>"


def test_cli_score(vllm_raw: str) -> None:
    r = run_cli(["score", "The capital of France is Paris.", "-m", "openai:gemma",
                 "--base-url", vllm_raw, "--json", "--no-save"])
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["prompt_steps"][0]["special"] is True
    assert doc["prompt_steps"][0]["bytes"] == []
    assert doc["request"]["prompt"] == "The capital of France is Paris."
    assert all(isinstance(s.get("rank"), int) for s in doc["prompt_steps"][1:])


@pytest.mark.parametrize("chat", [False, True])
@pytest.mark.parametrize("stream", [True, False])
def test_greedy_generation_matches_local(vllm_raw: str, llama: LlamaBackend, chat: bool,
                                         stream: bool) -> None:
    from tokenprobe.api import build_request

    def req() -> Any:
        return build_request("Write one sentence about the sea.", chat=chat, max_tokens=16,
                             temperature=0.0, alternatives=5)

    remote = backend(vllm_raw, stream).stream(req()).run()
    local = llama.stream(req()).run()
    assert remote.complete and remote.logprobs_kind == "raw"
    assert remote.text == local.text
    close_to_local(remote.steps, local.steps)
    for x, y in zip(remote.steps, local.steps):  # the same first choice at every step
        assert x.top[0].data == y.top[0].data


def test_generation_and_scoring_agree_within_vllm(vllm_raw: str) -> None:
    from tokenprobe.api import build_request

    prompt = "The capital of France is"
    gen = backend(vllm_raw).stream(build_request(prompt, max_tokens=8, temperature=0.0,
                                                 alternatives=3)).run()
    scored = backend(vllm_raw).score(prompt + gen.text, alternatives=3)
    tail = scored.prompt_steps[-len(gen.steps):]
    assert [s.data for s in tail] == [s.data for s in gen.steps]
    for x, y in zip(tail, gen.steps):
        assert abs(x.logprob - y.logprob) < SELF_TOL  # type: ignore[operator]


def test_fixed_answer_and_choice_completion(vllm_raw: str, llama: LlamaBackend) -> None:
    from tokenprobe.api import build_request
    from tokenprobe.ops.choose import choose

    req = build_request("The capital of France is", max_tokens=4, temperature=0.0)
    remote = backend(vllm_raw).score_continuation(req, " Paris, of course.", 3)
    local = llama.score_continuation(req, " Paris, of course.", 3)
    assert remote.text == " Paris, of course." and all(s.forced for s in remote.steps)
    close_to_local(remote.steps, local.steps)
    got = choose("The capital of France is", [" Paris", " London", " Rome"],
                 model="openai:gemma", backend_options=BackendOptions(base_url=vllm_raw))
    best = max(got.options, key=lambda o: o.probability)
    assert best.option == " Paris"


def test_fixed_answer_in_chat_through_prompt_logprobs(vllm_raw: str,
                                                      llama: LlamaBackend) -> None:
    from tokenprobe.api import build_request

    req = build_request("Say hello in French.", chat=True, max_tokens=4, temperature=0.0)
    remote = backend(vllm_raw).score_continuation(req, "Bonjour 𠮷!", 3)
    local = llama.score_continuation(build_request("Say hello in French.", chat=True,
                                                   max_tokens=4, temperature=0.0),
                                     "Bonjour 𠮷!", 3)
    assert remote.text == "Bonjour 𠮷!" and remote.request.mode == "chat"
    close_to_local(remote.steps, local.steps)
    assert all(s.vocab_rank is not None for s in remote.steps)


def test_prompt_logprobs_keep_rank_and_the_token_outside_the_top(vllm_raw: str) -> None:
    from tokenprobe.api import build_request

    b = backend(vllm_raw, extra_body={"prompt_logprobs": 2})
    t = b.stream(build_request("The capital of France is", max_tokens=3, temperature=0.0,
                               alternatives=2)).run()
    steps = t.prompt_steps
    assert t.request.prompt is not None and "France" in (t.request.prompt or "")
    capital = next(s for s in steps if s.data == b" capital")
    # " capital" stood far outside the top 2: kept with its logprob and its rank.
    assert capital.logprob is not None and capital.vocab_rank is not None
    assert capital.vocab_rank > 2 and capital.rank() is None
    assert len(capital.top) == 2


def test_token_ids_in_chat(vllm_raw: str) -> None:
    from tokenprobe.api import build_request

    b = backend(vllm_raw, extra_body={"return_tokens_as_token_ids": True})
    plain = backend(vllm_raw)
    req = build_request("Say hi", chat=True, max_tokens=5, temperature=0.0, alternatives=3)
    with_ids = b.stream(req).run()
    without = plain.stream(build_request("Say hi", chat=True, max_tokens=5, temperature=0.0,
                                         alternatives=3)).run()
    assert with_ids.text == without.text
    assert all(s.id is not None for s in with_ids.steps)
    assert [s.logprob for s in with_ids.steps] == [s.logprob for s in without.steps]


@pytest.mark.parametrize("stream", [False, True])
def test_alternatives_above_the_cap_are_refused_with_the_server_message(
        vllm_raw: str, stream: bool) -> None:
    from tokenprobe.api import build_request

    with pytest.raises(ServerError) as e:
        backend(vllm_raw, stream).stream(build_request("Hi", max_tokens=2,
                                                       alternatives=21)).run()
    msg = str(e.value)
    assert "20" in msg and "\n" not in msg


def test_cli_cap_is_one_line(vllm_raw: str) -> None:
    r = run_cli(["generate", "Hi", "-m", "openai:gemma", "--base-url", vllm_raw, "-n", "25",
                 "--max-tokens", "2", "--no-save"])
    assert r.code == 4 and "20" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_imported_answer_is_the_live_trace(vllm_raw: str, tmp_path: Any) -> None:
    from tokenprobe.api import build_request
    from tokenprobe.formats import load_all

    body = {"model": "gemma", "prompt": "Is 𠮷 Café", "max_tokens": 6, "logprobs": 3,
            "temperature": 0.0}
    saved = tmp_path / "answer.json"
    saved.write_text(json.dumps(post(vllm_raw, "completions", body)))
    imported: Trace = load_all(saved)[0]
    live = backend(vllm_raw, False).stream(build_request("Is 𠮷 Café", max_tokens=6,
                                                         temperature=0.0,
                                                         alternatives=3)).run()
    assert imported.source["format"] == "vllm" and imported.text == live.text
    assert [s.logprob for s in imported.steps] == [s.logprob for s in live.steps]


def test_batch_score_against_vllm(vllm_raw: str, tmp_path: Any) -> None:
    import math

    texts = [TEXTS[0], TEXTS[2], "Water boils at 100 degrees."]
    src, out = tmp_path / "texts.jsonl", tmp_path / "scores.jsonl"
    src.write_text("".join(json.dumps({"id": f"t{i}", "text": t}) + "\n"
                           for i, t in enumerate(texts)))
    r = run_cli(["batch", str(src), "-o", str(out), "--score", "-n", "2", "-c", "3",
                 "-m", "openai:gemma", "--base-url", vllm_raw])
    assert r.code == 0, r.stderr
    docs = {d["source"]["batch_id"]: d for d in map(json.loads, out.read_text().splitlines())}
    for i, text in enumerate(texts):
        d = docs[f"t{i}"]
        assert d["prompt_steps"][0]["special"] is True
        alone = backend(vllm_raw).score(text, alternatives=2)
        lps = [s.logprob for s in alone.prompt_steps[1:]]
        assert [s["logprob"] for s in d["prompt_steps"][1:]] == lps
        assert d["source"]["score"]["tokens"] == len(lps)
        assert math.isclose(d["source"]["score"]["perplexity"],
                            math.exp(-math.fsum(lps) / len(lps)))  # type: ignore[arg-type]
