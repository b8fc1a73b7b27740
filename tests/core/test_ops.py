"""Compare, branch, choose and sweep on the real embedded model."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import tokenprobe
from tokenprobe.backends.llama import LlamaBackend
from tokenprobe.distribution import TAIL_TEMPERATURES, entropy_at_temperature
from tokenprobe.errors import InputError
from tokenprobe.ops.branch import branch
from tokenprobe.ops.choose import choose
from tokenprobe.ops.compare import compare
from tokenprobe.ops.sweep import sweep

PROMPT = "The capital of France is"


def test_compare_on_fixed_answer_gives_same_tokens_and_matches_score(
        llama: LlamaBackend) -> None:
    answer = " Paris, a city on the Seine."
    c = compare([PROMPT, "The largest city in Germany is"], answer=answer)
    assert len(c.variants) == 2
    ids = [[s.id for s in v.traces[0].steps] for v in c.variants]
    assert ids[0] == ids[1]
    for v in c.variants:
        prompt = v.settings["prompt"]
        direct = tokenprobe.score(prompt + answer)
        n = len(llama.tokenize(prompt, add_bos=True))
        assert [s.id for s in direct.prompt_steps[n:]] == ids[0]
        for a, b in zip(v.traces[0].steps, direct.prompt_steps[n:]):
            assert a.logprob == pytest.approx(b.logprob, abs=1e-3)
    deltas = c.token_deltas()
    assert all(d == 0 for d in deltas[0])
    paris = deltas[1][0]
    assert paris is not None and paris < 0  # " Paris" is less likely after Germany


def test_compare_samples_and_stats(llama: LlamaBackend) -> None:
    c = compare([PROMPT], temperatures=[0.3, 1.2], samples=3, max_tokens=6)
    assert [v.label for v in c.variants] == ["T=0.3", "T=1.2"]
    for v in c.variants:
        assert len(v.traces) == 3
        mean, sd = v.stats()["mean_logprob"]  # type: ignore[misc]
        assert sd >= 0 and mean < 0
    # At T = 1.2 the three seeds draw different answers (so the spread is sampling noise).
    hot = c.variants[1]
    assert len({tuple(s.id for s in t.steps) for t in hot.traces}) >= 2
    assert hot.stats()["mean_logprob"][1] > 0  # type: ignore[index]
    assert [t.request.seed for t in c.variants[0].traces] == [0, 1, 2]


def test_compare_needs_two_variants() -> None:
    with pytest.raises(InputError, match="at least two variants"):
        compare([PROMPT])


def test_branch_reproduces_prefix_forces_token_and_continues(llama: LlamaBackend) -> None:
    parent = tokenprobe.generate(PROMPT, temperature=0.8, seed=5, max_tokens=12)
    i = 3
    alt = next(c for c in parent.steps[i].top if c.id != parent.steps[i].id)
    child = branch(parent, i, alt.token)
    assert [s.to_dict() for s in child.steps[:i]] == [s.to_dict() for s in parent.steps[:i]]
    forced = child.steps[i]
    assert forced.id == alt.id and forced.forced
    assert forced.logprob == pytest.approx(alt.logprob, abs=1e-6)
    assert forced.sample_logprob is None
    assert len(child.steps) == 12
    assert child.parent == {"id": parent.id, "step": i, "token": alt.token}
    again = branch(parent, i, alt.token)
    assert [s.id for s in again.steps] == [s.id for s in child.steps]


def test_branch_bad_input(llama: LlamaBackend) -> None:
    parent = tokenprobe.generate(PROMPT, temperature=0, max_tokens=4)
    with pytest.raises(InputError, match="outside the trace"):
        branch(parent, 9, " x")
    with pytest.raises(InputError, match="empty"):
        branch(parent, 1, "")


def test_choose(llama: LlamaBackend) -> None:
    ch = choose(PROMPT, [" Paris", " Berlin", " Paris, of course"])
    probs = {o.option: o.probability for o in ch.options}
    assert sum(probs.values()) == pytest.approx(1.0)
    assert probs[" Paris"] > probs[" Berlin"]
    # An option's total is the score of prompt + the option's tokens.
    opt = ch.options[1]
    direct = tokenprobe.score(PROMPT + opt.option)
    n = len(llama.tokenize(PROMPT, add_bos=True))
    assert opt.total_logprob == pytest.approx(
        math.fsum(s.logprob for s in direct.prompt_steps[n:]), abs=1e-3)
    # A shared prefix: " Paris, of course" contains " Paris"'s token with the same number.
    a, b = ch.options[0].trace.steps, ch.options[2].trace.steps
    assert a[0].id == b[0].id and a[0].logprob == pytest.approx(b[0].logprob, abs=1e-9)


@pytest.mark.parametrize(("options", "message"), [
    ([" a"], "at least two"), ([" a", ""], "empty"), ([" a", " a"], "twice")])
def test_choose_bad_options(options: list[str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        choose(PROMPT, options)


def test_choose_reports_progress_and_stops_when_it_raises(llama: LlamaBackend) -> None:
    options = [" Paris", " Lyon", " Berlin"]
    seen: list[tuple[int, int]] = []
    ch = choose(PROMPT, options, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 3), (2, 3), (3, 3)] and len(ch.options) == 3

    class Stop(Exception):
        pass

    calls: list[int] = []

    def stop(done: int, total: int) -> None:
        calls.append(done)
        raise Stop

    with pytest.raises(Stop):
        choose(PROMPT, options, progress=stop)
    assert calls == [1]  # stopped after the first option, not after all three


def test_sweep(llama: LlamaBackend) -> None:
    sw = sweep(PROMPT, [0.0, 0.5, 1.0, 1.5, 2.0], max_tokens=6)
    zero = sw.columns[0].sample
    assert all(s.rank() == 1 for s in zero.steps)  # T = 0 takes the argmax every step
    for k in range(len(sw.base.steps)):
        ents = [c.entropies[k] for c in sw.columns[1:]]
        assert all(a < b for a, b in itertools.pairwise(ents)), ents  # type: ignore[operator]


def test_entropy_at_temperature_matches_logits(llama: LlamaBackend) -> None:
    t = tokenprobe.generate(PROMPT, temperature=0, max_tokens=2)
    tokens = llama.tokenize(PROMPT, add_bos=True)
    llama._prefill(tokens)
    row = llama._row(-1).astype(np.float64)
    for temp in (0.4, 0.7, 1.0, 1.3, 1.9):
        x = row / temp
        p = np.exp(x - x.max())
        p /= p.sum()
        exact = float(-(p[p > 0] * np.log(p[p > 0])).sum())
        got = entropy_at_temperature(t.steps[0], temp, list(TAIL_TEMPERATURES))
        assert got == pytest.approx(exact, rel=5e-3)  # F' comes from the interpolant
