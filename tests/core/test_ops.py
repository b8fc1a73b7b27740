"""Compare, branch, choose and sweep on the scripted model (tests/scripted_model.py), their
numbers checked against numpy over its table."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.helpers import CliResult
from tests.inprocess import invoke
from tests.scripted_model import SPEC, TABLE, expected_logprobs
from tests.scripted_model import encode as scripted_ids
from tests.servers.faultserver import fault_server, status

import tokenprobe
from tokenprobe.backends import BackendOptions
from tokenprobe.backends import options_for_trace as trace_options
from tokenprobe.distribution import TAIL_TEMPERATURES, entropy_at_temperature
from tokenprobe.errors import InputError
from tokenprobe.ops.branch import branch
from tokenprobe.ops.choose import choose
from tokenprobe.ops.compare import Comparison, Variant, compare
from tokenprobe.ops.sweep import sweep
from tokenprobe.trace import Candidate, Request, Step, Trace

PROMPT = "The capital of France is"


def test_compare_on_fixed_answer_gives_same_tokens_and_matches_score() -> None:
    answer = " Paris, a city on the Seine."
    other = "The largest city in Germany:"  # ends in another token than PROMPT
    c = compare([PROMPT, other], answer=answer, models=[SPEC])
    assert len(c.variants) == 2
    ids = [[s.id for s in v.traces[0].steps] for v in c.variants]
    assert ids[0] == ids[1] == scripted_ids(answer, bos=False)
    for v in c.variants:
        prompt = v.settings["prompt"]
        direct = tokenprobe.score(prompt + answer, model=SPEC)
        n = len(scripted_ids(prompt))
        assert [s.id for s in direct.prompt_steps[n:]] == ids[0]
        for a, b in zip(v.traces[0].steps, direct.prompt_steps[n:]):
            assert a.logprob == pytest.approx(b.logprob, abs=1e-3)
    deltas = c.token_deltas()
    assert all(d == 0 for d in deltas[0])
    # Only the answer's first token follows a different token; its difference is the
    # table's, the rest are the same rows.
    first = scripted_ids(answer, bos=False)[0]
    want = (expected_logprobs(scripted_ids(other)[-1])[first]
            - expected_logprobs(scripted_ids(PROMPT)[-1])[first])
    assert deltas[1][0] == pytest.approx(want, abs=1e-4) and abs(want) > 0.1
    assert all(d == pytest.approx(0, abs=1e-6) for d in deltas[1][1:])


def _answer(pieces: list[tuple[str, float]]) -> Trace:
    steps = [Step(tok, lp, None, forced=True) for tok, lp in pieces]
    t = Trace(backend="openai", model="m", request=Request(prompt="Q"), steps=steps)
    t.rebuild_text()
    return t


def test_token_deltas_pair_only_the_same_tokens() -> None:
    """Two tokenizers split one answer differently: token k of one is not token k of the
    other, so no difference is made between them (the totals still compare)."""
    a = _answer([(" Par", -1.0), ("is", -0.5)])
    b = _answer([(" Paris", -2.0)])  # the same text, one token
    c = _answer([(" Par", -1.25), ("is", None)])  # type: ignore[list-item]
    d = _answer([(" Pa", -1.0), ("ris", -0.5)])  # as many tokens as a, other bytes
    comp = Comparison([Variant(f"v{i}", {}, [t]) for i, t in enumerate((a, b, c, d))],
                      answer=" Paris")
    assert [t.text for t in (a, b, c, d)] == [" Paris"] * 4
    assert comp.token_groups() == [0, 1, 0, 3]
    assert comp.token_deltas(0) == [[0.0, 0.0], None, [-0.25, None], None]
    assert comp.token_deltas(1) == [None, [0.0], None, None]
    assert comp.token_deltas(3) == [None, None, None, [0.0, 0.0]]
    assert comp.same_tokens(0, 2) and not comp.same_tokens(0, 1)
    assert not comp.same_tokens(0, 3)
    with pytest.raises(InputError, match="fixed answer"):
        Comparison(comp.variants).token_deltas()


def test_compare_samples_and_stats() -> None:
    c = compare([PROMPT], temperatures=[0.3, 1.2], samples=3, max_tokens=6, models=[SPEC])
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


def test_branch_reproduces_prefix_forces_token_and_continues() -> None:
    parent = tokenprobe.generate(PROMPT, temperature=0.8, seed=5, max_tokens=12, model=SPEC)
    i = 3
    alt = next(c for c in parent.steps[i].top if c.id != parent.steps[i].id)
    child = branch(parent, i, alt.token)
    assert [s.to_dict() for s in child.steps[:i]] == [s.to_dict() for s in parent.steps[:i]]
    forced = child.steps[i]
    assert forced.id == alt.id and forced.forced
    assert forced.logprob == pytest.approx(alt.logprob, abs=1e-6)
    assert forced.logprob == pytest.approx(
        expected_logprobs(parent.steps[i - 1].id)[alt.id], abs=1e-5)  # type: ignore[index]
    assert forced.sample_logprob is None
    assert len(child.steps) == 12
    assert child.parent == {"id": parent.id, "step": i, "token": alt.token}
    again = branch(parent, i, alt.token)
    assert [s.id for s in again.steps] == [s.id for s in child.steps]


def test_branch_bad_input() -> None:
    parent = tokenprobe.generate(PROMPT, temperature=0, max_tokens=4, model=SPEC)
    with pytest.raises(InputError, match="outside the trace"):
        branch(parent, 9, " x")
    with pytest.raises(InputError, match="empty"):
        branch(parent, 1, "")


def test_choose() -> None:
    options = [" Paris", " Berlin", " Paris, of course"]
    ch = choose(PROMPT, options, model=SPEC)
    probs = {o.option: o.probability for o in ch.options}
    assert sum(probs.values()) == pytest.approx(1.0)
    # Each option's total is the sum of the table's log-softmax along its tokens, and the
    # probabilities are the totals normalised over the options (numpy, float64).
    totals = []
    for option in options:
        ids = scripted_ids(PROMPT + option)
        n = len(scripted_ids(PROMPT))
        totals.append(math.fsum(expected_logprobs(ids[k - 1])[ids[k]]
                                for k in range(n, len(ids))))
    want = np.exp(np.array(totals) - np.logaddexp.reduce(totals))
    for o, total, p in zip(ch.options, totals, want):
        assert o.total_logprob == pytest.approx(total, abs=1e-3)
        assert o.probability == pytest.approx(p, rel=1e-3)
    # An option's total is the score of prompt + the option's tokens.
    opt = ch.options[1]
    direct = tokenprobe.score(PROMPT + opt.option, model=SPEC)
    n = len(scripted_ids(PROMPT))
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


def test_choose_reports_progress_and_stops_when_it_raises() -> None:
    options = [" Paris", " Lyon", " Berlin"]
    seen: list[tuple[int, int]] = []
    ch = choose(PROMPT, options, model=SPEC, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 3), (2, 3), (3, 3)] and len(ch.options) == 3

    class Stop(Exception):
        pass

    calls: list[int] = []

    def stop(done: int, total: int) -> None:
        calls.append(done)
        raise Stop

    with pytest.raises(Stop):
        choose(PROMPT, options, model=SPEC, progress=stop)
    assert calls == [1]  # stopped after the first option, not after all three


def test_sweep() -> None:
    sw = sweep(PROMPT, [0.0, 0.5, 1.0, 1.5, 2.0], max_tokens=6, model=SPEC)
    zero = sw.columns[0].sample
    assert all(s.rank() == 1 for s in zero.steps)  # T = 0 takes the argmax every step
    for k in range(len(sw.base.steps)):
        ents = [c.entropies[k] for c in sw.columns[1:]]
        assert all(a < b for a, b in itertools.pairwise(ents)), ents  # type: ignore[operator]


def _llamacpp_sweep(fixture: str, extra_body: dict[str, Any] | None = None) -> Any:
    """A sweep against a llama.cpp server replayed from a recorded stream (every request
    answered with it): a top-N list per step, no tail summary."""
    import httpx

    body = "".join(f"data: {json.dumps(d)}\n\n" for d in json.loads(
        (Path(__file__).parents[1] / "fixtures" / "llamacpp" / fixture).read_text()))
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body.encode()))
    return sweep("The capital of France is", [0.0, 0.5, 1.0, 1.5], model="llamacpp:127.0.0.1:8080",
                 max_tokens=4, backend_options=BackendOptions(
                     extra={"transport": transport, "max_retries": 0},
                     extra_body=extra_body or {}))


def test_sweep_on_a_server_gives_ranges() -> None:
    sw = _llamacpp_sweep("stream_raw.json")
    assert sw.base.tail_temperatures is None and sw.base.steps
    for col in sw.columns[1:]:
        assert all(e is None for e in col.entropies)  # not known without the tail summary
        for step, view in zip(sw.base.steps, col.views):
            assert view is not None and view.basis == "listed"
            if not view.candidates:
                continue
            lows = [c.low for c in view.candidates]
            highs = [c.high for c in view.candidates]
            if col.temperature == 1.0:  # the reported values
                assert lows == highs == [pytest.approx(c.prob) for c in step.top
                                         if c.logprob is not None]
            else:
                assert view.is_range and all(lo <= hi for lo, hi in zip(lows, highs))
                assert any(lo < hi for lo, hi in zip(lows, highs))
            if col.temperature < 1:  # sharpened: the top token only gains
                assert lows[0] >= math.exp(step.top[0].logprob) * (1 - 1e-12)  # type: ignore[operator]


def test_sweep_refuses_processed_logprobs() -> None:
    with pytest.raises(InputError, match="after its samplers"):
        _llamacpp_sweep("stream_post_sampling.json", {"post_sampling_probs": True})


def test_entropy_at_temperature_matches_logits() -> None:
    t = tokenprobe.generate(PROMPT, temperature=0, max_tokens=2, model=SPEC)
    row = TABLE[scripted_ids(PROMPT)[-1]].astype(np.float64)
    for temp in (0.4, 0.7, 1.0, 1.3, 1.9):
        x = row / temp
        p = np.exp(x - x.max())
        p /= p.sum()
        exact = float(-(p[p > 0] * np.log(p[p > 0])).sum())
        got = entropy_at_temperature(t.steps[0], temp, list(TAIL_TEMPERATURES))
        assert got == pytest.approx(exact, rel=5e-3)  # F' comes from the interpolant


# --- a branch reaches the server its trace names without the user's key -----------------

KEY = "sk-test-NEVERTOATRACEURL0123456789"


def _server_trace(backend: str, base_url: str, tmp_path: Path) -> Path:
    steps = [Step(" blue", -0.4, None, top=[Candidate(" blue", -0.4, None),
                                             Candidate(" red", -1.6, None)])]
    t = Trace(backend=backend, model="m", request=Request(prompt="The sky is", max_tokens=4),
              steps=steps, source={"base_url": base_url})
    t.rebuild_text()
    path = tmp_path / f"{backend}.json"
    t.save(path)
    return path


REFUSED = status(400, {"error": {"message": "no thanks"}})  # no retry, no tokens


@pytest.mark.parametrize("backend", ["llamacpp", "openai"])
def test_cli_branch_sends_no_key_to_a_url_from_a_trace(
        backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", "")

    def run(*args: str, base_url: str = "") -> CliResult:
        monkeypatch.setenv("OPENAI_BASE_URL", base_url)
        return invoke(args, tmp_path, monkeypatch)

    with fault_server(REFUSED, REFUSED, REFUSED) as fs:
        url = fs.base_url.removesuffix("/v1") if backend == "llamacpp" else fs.base_url
        path = _server_trace(backend, url, tmp_path)
        r = run("branch", str(path), "--at", "0", "--token", " red", "--no-save")
        assert r.code != 0 and "no thanks" in r.stderr, r.stderr
        assert f"note: sending no API key to {url}" in r.stderr
        assert fs.headers, "the branch reached no server"
        for h in fs.headers:
            # The OpenAI SDK always sends a placeholder; llama.cpp's client sends nothing.
            assert KEY not in json.dumps(h)
            if backend == "llamacpp":
                assert "authorization" not in h
        # The user's own server (OPENAI_BASE_URL) gets the user's key: the listener sees it.
        fs.headers.clear()
        r = run("branch", str(path), "--at", "0", "--token", " red", "--no-save",
                base_url=fs.base_url)
        assert "no API key" not in r.stderr
        assert fs.headers and fs.headers[0]["authorization"] == f"Bearer {KEY}"
        # And so does a server named on the command line, as for generate.
        fs.headers.clear()
        fs.script.append(REFUSED)
        r = run("branch", str(path), "--at", "0", "--token", " red", "--no-save",
                "--base-url", url)
        assert "no API key" not in r.stderr
        assert fs.headers and fs.headers[0]["authorization"] == f"Bearer {KEY}"


def test_trace_options_give_a_key_only_to_the_users_own_server(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OLLAMA_API_KEY", "ollama-key-0123456789")
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://10.0.0.5:8000/v1")
    elsewhere = tokenprobe.load(_server_trace("openai", "http://evil.example/v1", tmp_path))
    opts, note = trace_options(elsewhere)
    assert opts.api_key == "" and opts.base_url == "http://evil.example/v1"
    assert note is not None and "no API key" in note and KEY not in repr(opts)
    mine = tokenprobe.load(_server_trace("openai", "http://10.0.0.5:8000/v1/", tmp_path))
    assert trace_options(mine) == (BackendOptions(base_url="http://10.0.0.5:8000/v1",
                                                  api_key=KEY), None)
    # llama.cpp traces record the server's root; its OpenAI URL ends in /v1.
    root = tokenprobe.load(_server_trace("llamacpp", "http://10.0.0.5:8000", tmp_path))
    assert trace_options(root)[0].api_key == KEY
    monkeypatch.delenv("OPENAI_BASE_URL")
    openai_own = tokenprobe.load(_server_trace("openai", "https://api.openai.com/v1", tmp_path))
    assert trace_options(openai_own)[0].api_key == KEY  # where the key goes by default
    # Ollama reads its key by itself: another server is refused while that key is set.
    other = tokenprobe.load(_server_trace("ollama", "http://evil.example:11434", tmp_path))
    with pytest.raises(InputError, match="give --base-url"):
        trace_options(other)
    local = tokenprobe.load(_server_trace("ollama", "http://127.0.0.1:11434", tmp_path))
    assert trace_options(local)[0].api_key == "ollama-key-0123456789"
    monkeypatch.delenv("OLLAMA_API_KEY")
    assert trace_options(other)[0].api_key == ""
