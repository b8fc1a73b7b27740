"""The local engine on the real embedded model: exactness, determinism, scoring, bytes."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tokenprobe
from tokenprobe.backends.llama import LlamaBackend
from tokenprobe.distribution import TAIL_TEMPERATURES, step_at_temperature
from tokenprobe.textbytes import glyph_groups

PROMPT = "The capital of France is"


def test_greedy_takes_the_top_alternative_every_step(llama: LlamaBackend) -> None:
    t = tokenprobe.generate(PROMPT, temperature=0, max_tokens=20)
    assert len(t.steps) == 20 and t.complete and t.finish_reason == "length"
    for s in t.steps:
        assert s.id == s.top[0].id
        assert s.rank() == 1
        assert s.sample_logprob == 0.0
        assert s.entropy_exact and s.entropy is not None and s.entropy >= 0
        assert len(s.top) == 10
    assert t.text == b"".join(s.data for s in t.steps).decode()


def test_same_seed_same_trace(llama: LlamaBackend) -> None:
    a = tokenprobe.generate(PROMPT, temperature=0.9, top_p=0.95, max_tokens=24, seed=42)
    b = tokenprobe.generate(PROMPT, temperature=0.9, top_p=0.95, max_tokens=24, seed=42)
    c = tokenprobe.generate(PROMPT, temperature=0.9, top_p=0.95, max_tokens=24, seed=43)
    assert [s.id for s in a.steps] == [s.id for s in b.steps]
    assert [s.logprob for s in a.steps] == [s.logprob for s in b.steps]
    assert [s.id for s in a.steps] != [s.id for s in c.steps]


def test_logprobs_agree_with_llama_cpp_own_logits(llama: LlamaBackend) -> None:
    """An independent llama-cpp-python instance with logits_all gives the same numbers.

    It evaluates one position per micro-batch, as tokenprobe does (llama.cpp's batched
    kernels give slightly different logits; see backends/llama.py).
    """
    import llama_cpp

    t = tokenprobe.generate(PROMPT, temperature=0, max_tokens=12, alternatives=5)
    ref = llama_cpp.Llama(model_path=str(llama.path), n_ctx=256, logits_all=True,
                          n_ubatch=1, verbose=False, n_threads=llama.n_threads)
    try:
        prompt_ids = ref.tokenize(PROMPT.encode(), add_bos=True)
        ids = prompt_ids + [s.id for s in t.steps]
        ref.eval(ids)
        for k, step in enumerate(t.steps):
            row = ref.scores[len(prompt_ids) - 1 + k].astype(np.float64)
            lse = row.max() + math.log(np.exp(row - row.max()).sum())
            lp = row - lse
            assert step.logprob == pytest.approx(lp[step.id], abs=1e-3)
            for c in step.top:
                assert c.logprob == pytest.approx(lp[c.id], abs=1e-3)
            ent = float(-(np.exp(lp) * lp).sum())
            assert step.entropy == pytest.approx(ent, abs=1e-3)
    finally:
        ref.close()


def test_score_matches_generation(llama: LlamaBackend) -> None:
    """Greedy 20 tokens, then score prompt + text: the generated part matches within 1e-3."""
    t = tokenprobe.generate(PROMPT, temperature=0, max_tokens=20)
    s = tokenprobe.score(PROMPT + t.text)
    ids = [x.id for x in s.prompt_steps]
    prompt_ids = llama.tokenize(PROMPT, add_bos=True)
    assert ids == prompt_ids + [x.id for x in t.steps], "re-tokenisation changed the tokens"
    scored = s.prompt_steps[len(prompt_ids):]
    for g, sc in zip(t.steps, scored):
        assert sc.logprob == pytest.approx(g.logprob, abs=1e-3)
        assert sc.entropy == pytest.approx(g.entropy, abs=1e-3)
        assert [c.id for c in sc.top] == [c.id for c in g.top]
    assert s.prompt_steps[0].logprob is None  # <bos>: nothing before it


def test_score_byte_fallback_text_is_exact_and_grouped(llama: LlamaBackend) -> None:
    text = "吉野家の𠮷は"
    s = tokenprobe.score(text)
    data = [x.data for x in s.prompt_steps]
    assert b"".join(data).decode() == text
    assert s.error is None
    groups = [g for g in glyph_groups(data) if len(g) > 1]
    assert len(groups) == 1
    glyph = b"".join(data[i] for i in groups[0]).decode()
    assert glyph == "𠮷"
    for i in groups[0]:
        assert s.prompt_steps[i].logprob is not None
        assert "\ufffd" not in s.prompt_steps[i].token


def test_score_long_text_spans_chunks(llama: LlamaBackend) -> None:
    text = " ".join(f"word{i}" for i in range(120))
    s = tokenprobe.score(text, alternatives=3)
    assert len(s.prompt_steps) > 130  # more than two chunks of 64
    assert all(x.logprob is not None for x in s.prompt_steps[1:])
    assert all(len(x.top) == 3 for x in s.prompt_steps[1:])


def test_sampled_distribution_is_recorded_exactly(llama: LlamaBackend) -> None:
    """sample_logprob equals the re-normalised probability at the sampling temperature."""
    t = tokenprobe.generate(PROMPT, temperature=0.7, max_tokens=8, seed=3, alternatives=20)
    assert 0.7 in t.tail_temperatures or any(abs(x - 0.7) < 1e-9 for x in t.tail_temperatures)
    for s in t.steps:
        view = step_at_temperature(s, 0.7, t.tail_temperatures)
        assert view.accuracy == "exact"
        assert view.log_z is not None
        p = math.exp(s.logprob / 0.7 - view.log_z)
        assert math.exp(s.sample_logprob) == pytest.approx(p, rel=1e-3)


def test_temperature_view_matches_exact_logits(llama: LlamaBackend) -> None:
    """at_temperature on a real step: every top-10 probability within 0.005 of exact."""
    t = tokenprobe.generate(PROMPT, temperature=0, max_tokens=3)
    tokens = llama.tokenize(PROMPT, add_bos=True) + [s.id for s in t.steps]
    for k, step in enumerate(t.steps):
        llama._prefill(tokens[: len(tokens) - len(t.steps) + k])
        row = llama._row(-1).astype(np.float64)
        for temp in (0.3, 0.45, 0.7, 1.0, 1.1, 1.6, 2.0):
            exact = np.exp(row / temp - (row / temp).max())
            exact /= exact.sum()
            view = step_at_temperature(step, temp, list(TAIL_TEMPERATURES))
            for c in view.candidates:
                assert c.prob is not None
                assert abs(c.prob - exact[c.candidate.id]) < 0.005


def test_stop_string_ends_generation(llama: LlamaBackend) -> None:
    t = tokenprobe.generate("One, two, three,", temperature=0, max_tokens=40, stop=[","])
    assert t.finish_reason == "stop"
    assert t.text.endswith(",") and t.text.count(",") == 1


def test_chat_uses_gemma_turns_and_stops_at_end_of_turn(llama: LlamaBackend) -> None:
    from tokenprobe.api import build_request

    req = build_request("Hi", chat=True, system="Be brief.")
    ids = llama.prompt_tokens(req)
    labels = [llama.piece(i)[0] for i in ids]
    assert labels[:3] == ["<bos>", "<start_of_turn>", "user"]
    assert labels[-3:] == ["<start_of_turn>", "model", "\n"]
    assert llama.is_eog(ids[labels.index("<end_of_turn>")])


def test_prefix_cache_gives_identical_numbers(llama: LlamaBackend) -> None:
    a = tokenprobe.generate(PROMPT + " a city", temperature=0, max_tokens=5)
    tokenprobe.generate(PROMPT, temperature=0, max_tokens=5)  # shares the prefix
    b = tokenprobe.generate(PROMPT + " a city", temperature=0, max_tokens=5)
    assert [s.logprob for s in a.steps] == pytest.approx([s.logprob for s in b.steps], abs=1e-4)
