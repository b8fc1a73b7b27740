"""The local engine on the real embedded model: exactness, determinism, scoring, bytes."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tokenprobe
from tokenprobe.backends.llama import CHUNK, GENERATE_SCORE_TOLERANCE, LlamaBackend
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


def _logprobs(row: np.ndarray) -> np.ndarray:
    x = row.astype(np.float64)
    return x - (x.max() + math.log(np.exp(x - x.max()).sum()))


def _independent(llama: LlamaBackend, logits_all: bool):  # type: ignore[no-untyped-def]
    """A second llama-cpp-python context on the same file, with the engine's batch sizes."""
    import llama_cpp

    return llama_cpp.Llama(model_path=str(llama.path), n_ctx=512, logits_all=logits_all,
                           n_batch=CHUNK, n_ubatch=CHUNK, verbose=False,
                           n_threads=llama.n_threads, n_threads_batch=llama.n_threads)


def test_logprobs_agree_with_llama_cpp_own_logits(llama: LlamaBackend) -> None:
    """An independent llama-cpp-python context evaluating as a generation does (the prompt
    in one batch, then each token alone) gives the same numbers."""
    import llama_cpp

    t = tokenprobe.generate(PROMPT, temperature=0, max_tokens=12, alternatives=5)
    ref = _independent(llama, logits_all=False)
    try:
        prompt_ids = ref.tokenize(PROMPT.encode(), add_bos=True)
        ref.eval(prompt_ids)
        for step in t.steps:
            lp = _logprobs(np.ctypeslib.as_array(
                llama_cpp.llama_get_logits_ith(ref.ctx, -1), shape=(llama.n_vocab,)))
            assert step.logprob == pytest.approx(lp[step.id], abs=1e-3)
            for c in step.top:
                assert c.logprob == pytest.approx(lp[c.id], abs=1e-3)
            ent = float(-(np.exp(lp) * lp).sum())
            assert step.entropy == pytest.approx(ent, abs=1e-3)
            ref.eval([step.id])
    finally:
        ref.close()


def test_score_agrees_with_llama_cpp_batched_logits(llama: LlamaBackend) -> None:
    """Scoring gives the numbers of llama.cpp's own batched evaluation with a row for
    every position (chunks of CHUNK from the start), across chunk boundaries."""
    text = " ".join(f"item{i}" for i in range(50)) + " — fin."
    s = tokenprobe.score(text, alternatives=3)
    ids = [x.id for x in s.prompt_steps]
    assert len(ids) > CHUNK + 10
    ref = _independent(llama, logits_all=True)
    try:
        ref.eval(ids)
        for k, step in enumerate(s.prompt_steps[1:]):
            lp = _logprobs(ref.scores[k])
            assert step.logprob == pytest.approx(lp[step.id], abs=1e-3)
            assert [c.id for c in step.top] == list(np.argsort(-lp, kind="stable")[:3])
    finally:
        ref.close()


def test_generated_and_scored_numbers_agree_within_tolerance(llama: LlamaBackend) -> None:
    """Generate, then score prompt + text: the same tokens, and each generated token's two
    logprobs within GENERATE_SCORE_TOLERANCE (generation evaluates a token alone, scoring
    in batches: llama.cpp's two kernel paths), their mean difference below 0.1 nats
    (measured 0.05 over 1,280 generated tokens)."""
    diffs = []
    for prompt, temperature in ((PROMPT, 0.0), ("東京の朝は、", 0.8), ("def f(x):\n", 0.0)):
        t = tokenprobe.generate(prompt, temperature=temperature, seed=1, max_tokens=32)
        s = tokenprobe.score(prompt + t.text)
        prompt_ids = llama.tokenize(prompt, add_bos=True)
        ids = [x.id for x in s.prompt_steps]
        assert ids == prompt_ids + [x.id for x in t.steps], "re-tokenisation changed tokens"
        for g, sc in zip(t.steps, s.prompt_steps[len(prompt_ids):]):
            assert sc.logprob == pytest.approx(g.logprob, abs=GENERATE_SCORE_TOLERANCE)
            assert sc.entropy == pytest.approx(g.entropy, abs=GENERATE_SCORE_TOLERANCE)
            diffs.append(abs(sc.logprob - g.logprob))  # type: ignore[operator]
    assert 0 < float(np.mean(diffs)) < 0.1
    assert s.prompt_steps[0].logprob is None  # <bos>: nothing before it


def test_fixed_answer_is_scored_as_prompt_plus_answer(llama: LlamaBackend) -> None:
    from tokenprobe.api import build_request

    answer = " Paris, on the Seine, since long before the kings."
    fixed = llama.score_continuation(build_request(PROMPT, max_tokens=4), answer, 5)
    s = tokenprobe.score(PROMPT + answer, alternatives=5)
    n = len(llama.tokenize(PROMPT, add_bos=True))
    assert [x.id for x in fixed.steps] == [x.id for x in s.prompt_steps[n:]]
    assert [x.logprob for x in fixed.steps] == [x.logprob for x in s.prompt_steps[n:]]
    assert all(x.forced and x.sample_logprob is None for x in fixed.steps)
    assert fixed.text == answer and fixed.complete


def test_numbers_do_not_depend_on_what_the_cache_held(llama: LlamaBackend) -> None:
    """The same request gives bit-identical numbers whatever ran before it: the cache keeps
    only positions computed as a fresh evaluation would compute them."""
    long_prompt = " ".join(f"step {i}," for i in range(40))  # more than one chunk

    def run() -> list[float | None]:
        t = tokenprobe.generate(long_prompt, temperature=0, max_tokens=6)
        return [x.logprob for x in t.steps]

    llama.reset_cache()
    fresh = run()
    assert run() == fresh  # the prompt and its last chunk from the cache
    tokenprobe.score(long_prompt + " step 40, step 41")  # the same prefix, scored
    assert run() == fresh
    tokenprobe.generate(long_prompt[:-30], temperature=0, max_tokens=30)  # generated tail
    assert run() == fresh


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
    n_prompt = len(llama.tokenize(PROMPT, add_bos=True))
    tokens = llama.tokenize(PROMPT, add_bos=True) + [s.id for s in t.steps]
    for k, step in enumerate(t.steps):
        # The prompt in a batch, the generated tokens one at a time, as generation did.
        llama._prefill(tokens[: n_prompt + k], batched=n_prompt)
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
    assert [s.logprob for s in a.steps] == [s.logprob for s in b.steps]


def test_thread_count_leaves_the_numbers_unchanged(llama: LlamaBackend) -> None:
    """The engine picks its thread count from the load; the count must not move a number."""
    text = "Threads split the work, not the arithmetic: " + "ab cd " * 40
    runs = []
    try:
        for n in (1, 2):
            llama.set_threads(n)
            llama.reset_cache()
            s = tokenprobe.score(text, alternatives=3)
            g = tokenprobe.generate(PROMPT, temperature=0, max_tokens=6)
            runs.append(([x.logprob for x in s.prompt_steps], [x.logprob for x in g.steps]))
    finally:
        llama.set_threads(None)
    assert runs[0] == runs[1]


def test_thread_count_follows_the_cores_others_leave_free() -> None:
    from tokenprobe.backends import llama_threads
    from tokenprobe.backends.llama_threads import ThreadCount

    cores = ThreadCount.cores()
    busy = [0]
    clock = [0.0]
    tc = ThreadCount(cores, probe=lambda: busy[0], clock=lambda: clock[0])
    assert tc.current() == cores
    busy[0] = 1
    assert tc.current() == cores  # looked again only after RECHECK seconds
    clock[0] += llama_threads.RECHECK
    assert tc.current() == max(1, cores - 1)
    busy[0] = 50
    clock[0] += llama_threads.RECHECK
    assert tc.current() == 1  # never fewer than one
    unknown = ThreadCount(cores, probe=lambda: None)
    assert unknown.current() == cores  # no /proc: every core counts as free
    fixed = ThreadCount(3, adapt=False, probe=lambda: 50)
    assert fixed.current() == 3  # a count the user gave is kept
    n = llama_threads.others_runnable()
    assert n is not None and n >= 0  # Linux: /proc is readable here
