"""Attention and the logit lens (the trace's `internals`), checked against the models' own
computation in one independent forward pass over the whole text: transformers' eager
attention and hidden states for hf: (a tiny GPT-2, and the embedded Gemma with its final
RMSNorm written out in float64), the example network's own lists for an own model;
the lens recomputed in float64 through the final norm and head; the JSON round trip, the
size, a trace without the block unchanged, and the one-line refusals."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import tokenprobe
from tokenprobe.errors import InputError
from tokenprobe.internals import ATTENTION_TOP, Internals
from tokenprobe.own_model import OwnModel
from tokenprobe.trace import Trace

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "char_gpt" / "char_gpt.py"
F16 = 2e-3  # float16 keeps about three significant digits


def full_pass(hf: Any, ids: list[int]) -> tuple[np.ndarray, list[np.ndarray]]:
    """(attention (layers, heads, T, T), hidden states entering each layer + the output
    logits) from one eager forward pass over `ids`, in a fresh copy of the settings."""
    before = hf.config._attn_implementation
    hf.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            out = hf(torch.tensor([ids]), output_attentions=True, output_hidden_states=True)
    finally:
        hf.set_attn_implementation(before)
    att = np.stack([a[0].double().numpy() for a in out.attentions])
    return att, [h[0] for h in out.hidden_states] + [out.logits[0]]


def log_softmax64(x: torch.Tensor) -> np.ndarray:
    return torch.log_softmax(x.detach().double(), dim=-1).numpy()


def check_attention(internals: Internals, index: int, att: np.ndarray, q: int) -> None:
    """Step `index`'s listed weights are query q's largest, with their exact values."""
    a = internals.attention[index]
    assert a is not None
    layers, heads = att.shape[:2]
    assert a.positions.shape[:2] == (layers, heads + 1)
    for li in range(layers):
        rows = np.concatenate([att[li, :, q], att[li, :, q].mean(axis=0, keepdims=True)])
        for h in range(heads + 1):
            pos = a.positions[li, h].astype(int)
            w = a.weights[li, h].astype(np.float64)
            assert w == pytest.approx(rows[h, pos], abs=F16)
            assert np.all(pos <= q)  # never a later position
            k = len(pos)
            assert k == min(ATTENTION_TOP, q + 1)
            # No position left out weighs more than the smallest one listed.
            rest = np.delete(rows[h, : q + 1], pos)
            assert rest.size == 0 or rest.max() <= w[-1] + F16


def check_lens(internals: Internals, index: int, lens_rows: list[np.ndarray],
               chosen: int) -> None:
    x = internals.lens[index]
    assert x is not None
    assert x.ids.shape[0] == len(lens_rows) == internals.layers + 1
    for li, lp in enumerate(lens_rows):
        order = np.argsort(-lp, kind="stable")
        assert x.logprobs[li].astype(np.float64) == pytest.approx(lp[order[: x.ids.shape[1]]],
                                                                  rel=F16, abs=F16)
        assert lp[x.ids[li].astype(int)] == pytest.approx(lp[order[: x.ids.shape[1]]],
                                                          abs=1e-4)
        assert int(x.chosen_rank[li]) == int((lp > lp[chosen]).sum()) + 1
        assert float(x.chosen_logprob[li]) == pytest.approx(lp[chosen], rel=F16, abs=F16)


def test_hf_generation_attention_and_lens(tiny_hf) -> None:  # type: ignore[no-untyped-def]
    hf = tiny_hf.hf
    tr = tokenprobe.generate("The quick brown fox", model=tiny_hf, max_tokens=6,
                             temperature=1.0, seed=3, attention=True, lens=True)
    internals = tr.internals
    assert internals is not None and internals.kinds == ["attention", "lens"]
    prompt = tiny_hf.prompt_tokens(tr.request)
    assert internals.context == [tiny_hf.piece(t)[0] for t in prompt]
    ids = prompt + [s.id for s in tr.steps]
    att, states = full_pass(hf, ids)
    assert (internals.layers, internals.heads) == att.shape[:2]
    norm, head = hf.transformer.ln_f, hf.lm_head
    for i, step in enumerate(tr.steps):
        q = len(prompt) + i - 1  # the position whose row chose step i
        check_attention(internals, i, att, q)
        with torch.no_grad():
            rows = [log_softmax64(head(norm(states[li][q]))) for li in range(internals.layers)]
        rows.append(log_softmax64(states[-1][q]))
        check_lens(internals, i, rows, step.id)  # type: ignore[arg-type]
        # The lens's last layer is the model's output: the step's own logprob.
        assert float(internals.lens[i].chosen_logprob[-1]) == pytest.approx(  # type: ignore[union-attr]
            step.logprob, rel=F16, abs=F16)
    back = Trace.from_dict(json.loads(tr.to_json()))
    assert back.internals is not None
    assert back.internals.to_dict() == internals.to_dict()


def test_hf_score_attention(tiny_hf) -> None:  # type: ignore[no-untyped-def]
    text = "The cat sat on the mat, and the dog watched the cat."
    sc = tokenprobe.score(text, model=tiny_hf, attention=True)
    internals = sc.internals
    assert internals is not None and internals.kinds == ["attention"]
    assert internals.context == [] and internals.lens == []
    assert internals.attention[0] is None  # the first token has no row before it
    ids = [s.id for s in sc.prompt_steps]
    att, _ = full_pass(tiny_hf.hf, ids)  # type: ignore[arg-type]
    for p in range(1, len(ids)):
        check_attention(internals, p, att, p - 1)
    assert "lens" not in sc.to_dict()["internals"]


def test_without_the_option_the_trace_is_unchanged(tiny_hf) -> None:  # type: ignore[no-untyped-def]
    plain = tokenprobe.generate("The quick", model=tiny_hf, max_tokens=5, seed=1)
    lensed = tokenprobe.generate("The quick", model=tiny_hf, max_tokens=5, seed=1, lens=True)
    d = plain.to_dict()
    assert "internals" not in d and "internals" not in d["request"]
    assert [s.to_dict() for s in plain.steps] == [s.to_dict() for s in lensed.steps]
    with_block = lensed.to_dict()
    assert with_block["request"]["internals"] == ["lens"]
    del with_block["internals"], with_block["request"]["internals"]
    for k in ("id", "created"):
        del d[k], with_block[k]
    assert json.dumps(d) == json.dumps(with_block)
    assert tiny_hf.hf.config._attn_implementation != "eager"  # put back after capturing



def rms_norm64(h: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """Gemma's final RMSNorm in float64, written out here (scale by 1 + weight)."""
    x = h.detach().double()
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * (1.0 + weight.double())


def test_gemma_attention_and_lens_match_an_eager_pass(gemma_hf) -> None:  # type: ignore[no-untyped-def]
    hf = gemma_hf.hf
    tr = tokenprobe.generate("The capital of France is", model=gemma_hf, max_tokens=3,
                             temperature=0, attention=True, lens=True)
    internals = tr.internals
    assert internals is not None and internals.kinds == ["attention", "lens"]
    prompt = gemma_hf.prompt_tokens(tr.request)
    att, states = full_pass(hf, prompt + [s.id for s in tr.steps])
    assert (internals.layers, internals.heads) == att.shape[:2] == (18, 4)
    cfg = hf.config
    cap = getattr(cfg, "final_logit_softcapping", None)
    head = hf.lm_head.weight.detach()
    for i, step in enumerate(tr.steps):
        q = len(prompt) + i - 1
        check_attention(internals, i, att, q)
        with torch.no_grad():
            normed = rms_norm64(torch.stack([states[li][q] for li in range(internals.layers)]),
                                hf.model.norm.weight, cfg.rms_norm_eps)
            logits = normed.float() @ head.T
            if cap:
                logits = torch.tanh(logits / cap) * cap
        rows = [log_softmax64(r) for r in logits]
        rows.append(log_softmax64(states[-1][q]))
        check_lens(internals, i, rows, step.id)  # type: ignore[arg-type]
        assert float(internals.lens[i].chosen_logprob[-1]) == pytest.approx(  # type: ignore[union-attr]
            step.logprob, rel=F16, abs=F16)
        # Greedy: the output layer ranks the chosen token first.
        assert int(internals.lens[i].chosen_rank[-1]) == 1  # type: ignore[union-attr]

@pytest.fixture(scope="module")
def char() -> tuple[Any, Any]:
    ex = runpy.run_path(str(EXAMPLE))
    net, tok = ex["train"](text=ex["TEXT"][:3000], block=16, n_embd=32, n_layer=2, batch=8,
                           max_steps=20, log=False)
    return ex, (net, tok)


def test_own_model_attention_and_lens_through_its_window(char) -> None:  # type: ignore[no-untyped-def]
    ex, (net, tok) = char
    model = ex["as_own_model"](net, tok, name="tiny")
    prompt = "吾輩は猫である。名前はまだ無い。どこで"
    assert len(prompt) > net.block  # the model sees its last `block` characters
    tr = tokenprobe.generate(prompt, model=model, max_tokens=4, seed=2, attention=True,
                             lens=True)
    internals = tr.internals
    assert internals is not None and internals.layers == 2 and internals.heads == 4
    ids = tok.encode(prompt) + [s.id for s in tr.steps]
    for i, step in enumerate(tr.steps):
        q = len(prompt) + i - 1
        start = max(0, q + 1 - net.block)
        atts: list[torch.Tensor] = []
        hidden: list[torch.Tensor] = []
        with torch.no_grad():
            logits, _ = net(torch.tensor([ids[start: q + 1]]), attentions=atts, hidden=hidden)
            rows = [log_softmax64(net.head(net.ln(h[0, -1]))) for h in hidden[:-1]]
        rows.append(log_softmax64(logits[0, -1]))
        full = np.zeros((2, 4, q + 1, q + 1))
        full[:, :, q, start:] = np.stack([a[0, :, -1].double().numpy() for a in atts])
        check_attention(internals, i, full, q)
        check_lens(internals, i, rows, step.id)  # type: ignore[arg-type]
    # Compact: each step's attention is (layers x (heads + 1) x 16) uint32 positions and
    # float16 weights, in base64, whatever the context's length.
    one = internals.to_dict()["attention"][-1]
    n = 2 * 5 * 16
    assert len(one["pos"]) + len(one["w"]) == 4 * -(-n * 4 // 3) + 4 * -(-n * 2 // 3)


def test_refusals_are_one_line(char, cli) -> None:  # type: ignore[no-untyped-def]
    _, (_, tok) = char
    bare = OwnModel(lambda ids: np.zeros((len(ids), tok.vocab_size), np.float32), tok)
    with pytest.raises(InputError, match="returns no attention weights"):
        tokenprobe.generate("吾輩", model=bare, attention=True, max_tokens=2)
    with pytest.raises(InputError, match="no logit lens"):
        tokenprobe.score("吾輩は", model=bare, lens=True)
    r = cli(["generate", "x", "--attention", "--max-tokens", "1", "--no-save"])
    assert r.code != 0 and "Traceback" not in r.stderr
    assert "--attention needs a model tokenprobe runs itself" in r.stderr
