"""The hf: backend against the model's own logits: each step's logprob, entropy, top-N and
tail summary equal what torch's log_softmax in float64 gives over one full forward pass of
the same model (no cache), on a tiny GPT-2 built in the tests and on the embedded Gemma
loaded through transformers from its GGUF."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from tests.hf.reference import check_step, reference

import tokenprobe
from tokenprobe.errors import ModelError
from tokenprobe.ops.branch import branch


def test_tiny_generation_matches_log_softmax(tiny_hf) -> None:  # type: ignore[no-untyped-def]
    tr = tokenprobe.generate("The cat sat", model=tiny_hf, max_tokens=12, temperature=0.8,
                             seed=3, alternatives=5)
    assert tr.backend == "hf" and tr.complete and len(tr.steps) >= 1
    prompt = tiny_hf.prompt_tokens(tr.request)
    ids = prompt + [s.id for s in tr.steps]
    lp = reference(tiny_hf.hf, ids)
    for k, step in enumerate(tr.steps):
        check_step(step, lp[len(prompt) - 1 + k], 1e-4)
        # The sampled distribution at T = 0.8: softmax(logits / T), computed here.
        row = lp[len(prompt) - 1 + k] / 0.8
        row = row - np.logaddexp.reduce(row)
        assert step.sample_logprob == pytest.approx(row[step.id], abs=1e-4)
    assert tr.tail_temperatures is not None and 0.8 in tr.tail_temperatures
    again = tokenprobe.generate("The cat sat", model=tiny_hf, max_tokens=12, temperature=0.8,
                                seed=3, alternatives=5)
    assert [s.id for s in again.steps] == [s.id for s in tr.steps]
    assert tr.text == b"".join(s.data for s in tr.steps).decode("utf-8", "replace")


def test_tiny_score_and_bytes(tiny_hf) -> None:  # type: ignore[no-untyped-def]
    text = "吾輩は猫である。Café, naïve\tdog  end"
    tr = tokenprobe.score(text, model=tiny_hf, alternatives=3)
    assert tr.error is None  # the tokens' bytes spell the text exactly
    assert b"".join(s.data for s in tr.prompt_steps) == text.encode("utf-8")
    ids = [s.id for s in tr.prompt_steps]
    lp = reference(tiny_hf.hf, ids)
    assert tr.prompt_steps[0].logprob is None  # GPT-2 puts no <bos> in front
    for p, step in enumerate(tr.prompt_steps[1:]):
        check_step(step, lp[p], 1e-4)


def test_tiny_branch_and_fixed_answer(tiny_hf) -> None:  # type: ignore[no-untyped-def]
    parent = tokenprobe.generate("The dog", model=tiny_hf, max_tokens=6, temperature=0)
    child = branch(parent, 2, " cat", model=tiny_hf, max_tokens=6)
    assert child.steps[2].forced and child.steps[:2] == parent.steps[:2]
    assert child.parent is not None and child.parent["step"] == 2
    prompt = tiny_hf.prompt_tokens(child.request)
    lp = reference(tiny_hf.hf, prompt + [s.id for s in child.steps])
    for k, step in enumerate(child.steps[2:], start=2):
        check_step(step, lp[len(prompt) - 1 + k], 1e-4)
    fixed = tiny_hf.score_continuation(parent.request, " the mat")
    ids = tiny_hf.forced_ids(" the mat")
    lp = reference(tiny_hf.hf, prompt + ids)
    assert [s.id for s in fixed.steps] == ids and fixed.text == " the mat"
    for k, step in enumerate(fixed.steps):
        check_step(step, lp[len(prompt) - 1 + k], 1e-4)


def test_gemma_through_transformers_matches_log_softmax(gemma_hf) -> None:  # type: ignore[no-untyped-def]
    tr = tokenprobe.generate("The capital of France is", model=gemma_hf, max_tokens=6,
                             temperature=0, alternatives=10)
    assert tr.model == "gemma-3-270m-q4_k_m" and tr.source["engine"] == "transformers"
    assert tr.vocab_size == 262144
    prompt = gemma_hf.prompt_tokens(tr.request)
    assert prompt[0] == gemma_hf.bos
    lp = reference(gemma_hf.hf, prompt + [s.id for s in tr.steps])
    for k, step in enumerate(tr.steps):
        check_step(step, lp[len(prompt) - 1 + k], 2e-3)
        assert step.sample_logprob == 0.0 and step.id == step.top[0].id
    # Scoring: Japanese through byte-fallback pieces keeps the text's bytes exactly.
    text = "吾輩は猫である。名前はまだ無い。😺"
    sc = tokenprobe.score(text, model=gemma_hf)
    assert sc.error is None and sc.prompt_steps[0].special
    ref = reference(gemma_hf.hf, [s.id for s in sc.prompt_steps])
    for p, step in enumerate(sc.prompt_steps[1:]):
        check_step(step, ref[p], 2e-3)


def test_gemma_chat_uses_gemma_turns(gemma_hf) -> None:  # type: ignore[no-untyped-def]
    ids = gemma_hf.vocab.chat_ids([{"role": "user", "content": "Hi"}])
    toks = gemma_hf.tokenizer.convert_ids_to_tokens(ids)
    assert toks[:3] == ["<bos>", "<start_of_turn>", "user"]
    assert toks[-3:] == ["<start_of_turn>", "model", "\n"]
    assert gemma_hf.vocab.is_eog(gemma_hf.tokenizer.convert_tokens_to_ids("<end_of_turn>"))


def test_hub_name_is_refused_in_one_line(cli) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelError, match="never downloads models"):
        tokenprobe.generate("x", model="hf:gpt2")
    r = cli(["generate", "hi", "-m", "hf:openai-community/gpt2"])
    assert r.code != 0 and "Traceback" not in r.stderr
    assert "hf:/path/to/model-directory" in r.stderr


def test_without_torch_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from tokenprobe.backends.hf_files import import_torch

    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ModelError, match=r"pip install 'tokenprobe\[hf\]'"):
        import_torch()


def test_logprobs_are_natural_logs(tiny_hf) -> None:  # type: ignore[no-untyped-def]
    tr = tokenprobe.generate("The", model=tiny_hf, max_tokens=3, temperature=0,
                             alternatives=1000)
    for s in tr.steps:  # a full list sums to one
        assert math.fsum(math.exp(c.logprob) for c in s.top) == pytest.approx(1.0, abs=1e-5)
