"""Your own model through the protocol: the example's character GPT trained here for a few
seconds, checked against log_softmax of the network's own logits (float64, one forward pass
over the very context the model was given), through generate, score, branch, a cache-style
function, a plain numpy function and the command line."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from tests.hf.reference import check_step, log_softmax64

import tokenprobe
from tokenprobe.errors import InputError
from tokenprobe.ops.branch import branch
from tokenprobe.own_model import CharTokenizer, OwnModel

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "char_gpt" / "char_gpt.py"
WINDOW = 24


@pytest.fixture(scope="session")
def example() -> dict[str, Any]:
    return runpy.run_path(str(EXAMPLE))


@pytest.fixture(scope="session")
def char_net(example: dict[str, Any]):  # type: ignore[no-untyped-def]
    """A tiny character GPT trained on the example's text for 40 steps (seconds)."""
    text = example["TEXT"][:4000]
    return example["train"](text=text, block=WINDOW, n_embd=32, n_layer=2, batch=8,
                            max_steps=40, log=False)


def expected(net, ids: list[int]) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The distribution after `ids` as the network gives it: its last WINDOW tokens."""
    with torch.no_grad():
        logits, _ = net(torch.tensor([ids[-WINDOW:]]))
    return log_softmax64(logits[0, -1])


def test_generation_equals_log_softmax_of_the_logits(char_net) -> None:  # type: ignore[no-untyped-def]
    net, tok = char_net
    model = OwnModel(net, tok, name="tiny", window=WINDOW)
    # A prompt longer than the window: the model sees its last WINDOW characters.
    prompt = "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。"
    assert len(prompt) > WINDOW
    tr = tokenprobe.generate(prompt, model=model, max_tokens=10, temperature=1.2, seed=7,
                             alternatives=8)
    assert tr.backend == "own" and tr.model == "tiny" and tr.vocab_size == tok.vocab_size
    ids = tok.encode(prompt)
    for step in tr.steps:
        lp = expected(net, ids)
        check_step(step, lp, 1e-4)
        hot = lp / 1.2 - np.logaddexp.reduce(lp / 1.2)
        assert step.sample_logprob == pytest.approx(hot[step.id], abs=1e-4)
        ids.append(step.id)  # type: ignore[arg-type]
    assert tr.text == "".join(tok.chars[s.id] for s in tr.steps)  # type: ignore[index]
    again = tokenprobe.generate(prompt, model=model, max_tokens=10, temperature=1.2, seed=7)
    assert again.text == tr.text


def test_score_and_branch(char_net) -> None:  # type: ignore[no-untyped-def]
    net, tok = char_net
    model = OwnModel(net, tok, name="tiny", window=WINDOW)
    text = "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも"
    sc = tokenprobe.score(text, model=model, alternatives=4)
    assert sc.error is None and sc.prompt_steps[0].logprob is None
    ids = tok.encode(text)
    for p, step in enumerate(sc.prompt_steps[1:], start=1):
        check_step(step, expected(net, ids[:p]), 1e-4)
    parent = tokenprobe.generate("吾輩は", model=model, max_tokens=5, temperature=0)
    child = branch(parent, 1, "猫", model=model, max_tokens=5)
    assert child.steps[1].forced and child.steps[1].token == "猫"
    ctx = tok.encode("吾輩は") + [s.id for s in child.steps[:2]]  # type: ignore[misc]
    check_step(child.steps[2], expected(net, ctx), 1e-4)


def test_cache_style_function_and_numpy(char_net) -> None:  # type: ignore[no-untyped-def]
    net, tok = char_net
    calls: list[int] = []

    def logits(ids: list[int], cache: list[int] | None) -> tuple[torch.Tensor, list[int]]:
        # The cache here is the context so far; a real one holds keys and values.
        context = (cache or []) + list(ids)
        calls.append(len(ids))
        with torch.no_grad():
            out, _ = net(torch.tensor([context[-WINDOW:]]))
        return out[0, -len(ids):] if len(ids) <= WINDOW else out[0, -1:], context

    cached = OwnModel(logits, tok, name="cached")
    plain = OwnModel(net, tok, name="plain", window=WINDOW)
    a = tokenprobe.generate("吾輩は", model=cached, max_tokens=6, temperature=0)
    b = tokenprobe.generate("吾輩は", model=plain, max_tokens=6, temperature=0)
    assert [s.id for s in a.steps] == [s.id for s in b.steps]
    assert calls[1:] == [1] * (len(calls) - 1)  # after the prompt, one new id per call
    for x, y in zip(a.steps, b.steps):
        assert x.logprob == pytest.approx(y.logprob, abs=1e-5)

    # A bigram table in numpy: no torch at all; rows sum to one after log_softmax.
    rng = np.random.default_rng(0)
    table = rng.normal(0, 2, (5, 5)).astype(np.float32)
    bigram = OwnModel(lambda ids: table[ids], CharTokenizer("abcde"), name="bigram", eos=4)
    tr = tokenprobe.generate("ab", model=bigram, max_tokens=20, temperature=1.0, seed=1)
    prev = 1
    for s in tr.steps:
        row = table[prev].astype(np.float64)
        assert s.logprob == pytest.approx(row[s.id] - np.logaddexp.reduce(row), abs=1e-6)
        prev = s.id  # type: ignore[assignment]
    assert tr.finish_reason == "length" or tr.steps[-1].id == 4
    if tr.steps[-1].id == 4:
        assert tr.steps[-1].data == b"" and tr.finish_reason == "stop"


def test_bad_input_is_one_line(char_net, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    net, tok = char_net
    model = OwnModel(net, tok, window=WINDOW)
    with pytest.raises(InputError, match="not in the model's vocabulary"):
        tokenprobe.generate("Ω", model=model)
    with pytest.raises(InputError, match="no chat format"):
        tokenprobe.generate("吾輩", model=model, chat=True)
    r = cli(["generate", "x", "-m", f"own:{tmp_path}/missing.py"])
    assert r.code != 0 and "Traceback" not in r.stderr and "no such Python file" in r.stderr


def test_command_line_steps(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "tiny_model.py"
    script.write_text(
        "import runpy\n"
        f"ex = runpy.run_path({str(EXAMPLE)!r})\n"
        "net, tok = ex['train'](text=ex['TEXT'][:2000], block=16, n_embd=16, n_layer=1,\n"
        "                       batch=4, max_steps=5, log=False)\n"
        "model = ex['as_own_model'](net, tok, name='tiny')\n", encoding="utf-8")
    r = cli(["generate", "吾輩は", "-m", f"own:{script}:model", "--steps", "-t", "1.2",
             "--seed", "1", "--max-tokens", "3", "-n", "3", "--no-save"])
    assert r.code == 0, r.stderr
    assert "step 0" in r.stdout and "T=1.2" in r.stdout


def test_a_module_runs_with_fewer_torch_threads_while_the_cores_are_busy(char_net) -> None:  # type: ignore[no-untyped-def]
    from tokenprobe.backends.llama_threads import ThreadCount

    net, tok = char_net
    seen: list[int] = []

    class Watched(torch.nn.Module):
        def forward(self, idx):  # type: ignore[no-untyped-def]
            seen.append(torch.get_num_threads())
            return net(idx)

    model = OwnModel(Watched(), tok, window=WINDOW)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        busy = {"others": ThreadCount.cores()}
        # The load as other processes' runnable threads: every core busy, then none.
        model._threads = ThreadCount(2, probe=lambda: busy["others"], clock=lambda: 1e9)
        tokenprobe.generate("吾輩", model=model, max_tokens=2, seed=1)
        assert seen and set(seen) == {1}
        model._threads = ThreadCount(2, probe=lambda: 0, clock=lambda: 1e9)
        seen.clear()
        tokenprobe.generate("吾輩", model=model, max_tokens=2, seed=1)
        # Never above the count torch had (the user's), whatever the machine has.
        assert set(seen) == {min(2, ThreadCount.cores())}
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_logits_of_any_torch_dtype_become_float32_rows(dtype: torch.dtype) -> None:
    from tokenprobe.backends.torch_model import as_rows

    x = torch.linspace(-3, 3, 2 * 3 * 5).reshape(1, 6, 5).to(dtype)
    rows = as_rows(x, 5)
    assert rows.dtype == np.float32 and rows.shape == (6, 5) and rows.flags.c_contiguous
    np.testing.assert_array_equal(rows, x.float().numpy()[0])
    assert as_rows(rows, 5) is rows  # already rows: passed through
    np.testing.assert_array_equal(as_rows(x[0, -1].double().numpy(), 5), rows[-1:])
