"""A real vLLM in each --logprobs-mode: the trace says what its numbers are.

- raw_logprobs: raw (the default).
- processed_logprobs: the same numbers as raw for greedy requests (no temperature, no
  samplers), so nothing proves the mode: "processed" when declared; with top-k the masked
  alternatives (-9999) prove it. Scores are raw in every logprob mode (prompt logprobs skip
  the sampling processors).
- raw_logits, processed_logits: logits, found from the numbers (positive values) and kept
  in `logit`, never turned into probabilities; declared as log-probabilities, refused in
  one line.

The local llama.cpp engine is the independent reference: a logit difference between two
tokens equals their log-probability difference (the softmax's normaliser cancels).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from tests.helpers import run_cli
from tests.servers.vllm_server import MODES

from tokenprobe.backends import BackendOptions, get_backend
from tokenprobe.backends.llama import LlamaBackend
from tokenprobe.backends.openai import OpenAIBackend

pytestmark = pytest.mark.slow

TOKEN_TOL = 0.5  # nats: vLLM float32 against llama.cpp's Q4_K kernels (docs/servers.md)
PROMPT = "The capital of France is"


def backend(base: str, kind: str | None = None, stream: bool = True,
            **extra: Any) -> OpenAIBackend:
    b = get_backend("openai:gemma", BackendOptions(base_url=base, logprobs_kind=kind,
                                                   extra={"stream": stream},
                                                   extra_body=extra or None))
    assert isinstance(b, OpenAIBackend)
    return b


def greedy(alternatives: int = 5) -> Any:
    from tokenprobe.api import build_request

    return build_request(PROMPT, max_tokens=6, temperature=0.0, alternatives=alternatives)


@pytest.mark.parametrize("vllm_mode", MODES)
@pytest.mark.parametrize("stream", [True, False])
def test_greedy_generation_says_what_the_numbers_are(vllm_any: str, vllm_mode: str,
                                                     stream: bool,
                                                     llama: LlamaBackend) -> None:
    t = backend(vllm_any, stream=stream).stream(greedy()).run()
    local = llama.stream(greedy()).run()
    assert t.complete and t.text == local.text
    if vllm_mode.endswith("logits"):
        assert t.logprobs_kind == "logits" and "logits" in t.source["note"]
        for s, lo in zip(t.steps, local.steps):
            assert s.logprob is None and s.logit is not None and s.entropy is None
            assert all(c.logprob is None and c.logit is not None for c in s.top)
            logits = [c.logit for c in s.top]
            assert logits == sorted(logits, reverse=True)  # type: ignore[type-var]
            assert s.top[0].data == s.data and s.top[0].logit == s.logit  # greedy
            # Differences of logits are differences of log-probabilities.
            gap = s.top[0].logit - s.top[1].logit  # type: ignore[operator]
            want = lo.top[0].logprob - lo.top[1].logprob  # type: ignore[operator]
            assert abs(gap - want) < TOKEN_TOL
    else:
        # Greedy: processed = raw (no temperature, no samplers); nothing proves the mode.
        assert t.logprobs_kind == "raw" and "note" not in t.source
        for s, lo in zip(t.steps, local.steps):
            assert s.data == lo.data
            assert abs(s.logprob - lo.logprob) < TOKEN_TOL  # type: ignore[operator]


@pytest.mark.parametrize("vllm_mode", MODES)
def test_score_says_what_the_numbers_are(vllm_any: str, vllm_mode: str,
                                         llama: LlamaBackend) -> None:
    text = "The capital of France is Paris."
    declared = "processed" if vllm_mode == "processed_logprobs" else None
    t = backend(vllm_any, declared).score(text, alternatives=3)
    local = llama.score(text, alternatives=3)
    assert t.prompt_steps[0].special
    pairs = list(zip(t.prompt_steps[1:], local.prompt_steps[1:]))
    if vllm_mode.endswith("logits"):
        # Prompt scores are raw logits in both logit modes.
        assert t.logprobs_kind == "logits"
        for s, lo in pairs:
            assert s.logprob is None and s.logit is not None and s.vocab_rank is not None
            # logit(chosen) - logit(first listed) = logprob(chosen) - logprob(first).
            gap = s.logit - s.top[0].logit  # type: ignore[operator]
            want = lo.logprob - lo.top[0].logprob  # type: ignore[operator]
            assert abs(gap - want) < TOKEN_TOL
    else:
        # Prompt logprobs skip the samplers: raw, even from a processed server.
        assert t.logprobs_kind == "raw"
        if declared:
            assert "raw" in t.source["note"]
        for s, lo in pairs:
            assert abs(s.logprob - lo.logprob) < TOKEN_TOL  # type: ignore[operator]


def test_processed_declared(vllm_processed: str) -> None:
    t = backend(vllm_processed, "processed").stream(greedy()).run()
    assert t.logprobs_kind == "processed"


def test_processed_with_top_k_is_found_and_sums_to_one(vllm_processed: str) -> None:
    from tokenprobe.api import build_request

    req = build_request(PROMPT, max_tokens=4, temperature=1.0, top_k=3, seed=7,
                        alternatives=6)
    t = backend(vllm_processed, stream=False).stream(req).run()
    assert t.logprobs_kind == "processed" and "processed" in t.source["note"]
    for s in t.steps:
        kept = [c.logprob for c in s.top if c.logprob is not None]
        # Three tokens survive top-k; the other listed ones were masked (not reported),
        # and the survivors are the whole processed distribution.
        assert len(kept) == 3 and len(s.top) > 3
        assert math.isclose(math.fsum(math.exp(x) for x in kept), 1.0, abs_tol=1e-4)


def test_raw_with_top_k_is_not_processed(vllm_raw: str) -> None:
    from tokenprobe.api import build_request

    req = build_request(PROMPT, max_tokens=3, temperature=1.0, top_k=3, seed=7,
                        alternatives=6)
    t = backend(vllm_raw, stream=False).stream(req).run()
    assert t.logprobs_kind == "raw"
    assert all(c.logprob is not None for s in t.steps for c in s.top)


def test_logits_declared_as_logprobs_refused_in_one_line(vllm_raw_logits: str) -> None:
    r = run_cli(["generate", PROMPT, "-m", "openai:gemma", "--base-url", vllm_raw_logits,
                 "-t", "0", "--max-tokens", "3", "--logprobs-kind", "raw", "--no-save"])
    assert r.code == 4, r.stderr
    assert "not log-probabilities" in r.stderr and "--logprobs-kind logits" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_cli_logits_json(vllm_processed_logits: str) -> None:
    import json

    r = run_cli(["generate", PROMPT, "-m", "openai:gemma", "--base-url",
                 vllm_processed_logits, "-t", "0", "--max-tokens", "3", "--json",
                 "--logprobs-kind", "logits", "--no-save"])
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["logprobs_kind"] == "logits"
    assert all(s["logprob"] is None and isinstance(s["logit"], float) for s in doc["steps"])


def test_branch_keeps_the_parents_declared_kind(vllm_processed: str, tmp_path: Any) -> None:
    # A branch continues on the parent's server: its numbers are read as the parent's were
    # (processed), so the forced token's recorded value and the new ones agree in kind.
    import json

    parent = tmp_path / "parent.json"
    r = run_cli(["generate", PROMPT, "-m", "openai:gemma", "--base-url", vllm_processed,
                 "-t", "1", "--top-k", "3", "--seed", "7", "--max-tokens", "3", "-n", "5",
                 "--logprobs-kind", "processed", "-o", str(parent), "--no-save"])
    assert r.code == 0, r.stderr
    doc = json.loads(parent.read_text())
    assert doc["logprobs_kind"] == "processed"
    alt = next(c for c in doc["steps"][0]["top"]
               if c["logprob"] is not None and c["token"] != doc["steps"][0]["token"])
    r = run_cli(["branch", str(parent), "--at", "0", "--token", alt["token"], "--json",
                 "--no-save"])
    assert r.code == 0, r.stderr
    child = json.loads(r.stdout)
    assert child["logprobs_kind"] == "processed"
    assert child["steps"][0]["forced"] and child["steps"][0]["token"] == alt["token"]


def test_choose_takes_the_kind_and_refuses_logits_in_one_line(vllm_raw_logits: str) -> None:
    r = run_cli(["choose", PROMPT, "-o", " Paris", "-o", " Lyon", "-m", "openai:gemma",
                 "--base-url", vllm_raw_logits, "--logprobs-kind", "logits", "--no-save"])
    assert r.code == 2, r.stderr
    assert "reports logits" in r.stderr and "raw_logprobs" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = run_cli(["compare", "-p", PROMPT, "--answer", " Paris", "-m", "openai:gemma",
                 "--base-url", vllm_raw_logits, "--logprobs-kind", "bogus", "--no-save"])
    assert r.code == 2 and "--logprobs-kind must be" in r.stderr
