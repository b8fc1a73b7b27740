"""The independent reference for the hf and own-model tests: log_softmax in float64 of a
model's logits from one forward pass (torch), and a recorded step checked against it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tokenprobe.distribution import TAIL_TEMPERATURES
from tokenprobe.trace import Step


def reference(model, ids: list[int]) -> np.ndarray:  # type: ignore[no-untyped-def]
    """log_softmax in float64 of every position's logits, from one forward pass of a
    transformers model."""
    with torch.no_grad():
        return log_softmax64(model(torch.tensor([ids])).logits[0])


def log_softmax64(logits: torch.Tensor) -> np.ndarray:
    return torch.log_softmax(logits.detach().to(torch.float64), dim=-1).numpy()


def check_step(step: Step, lp: np.ndarray, tol: float) -> None:
    assert step.id is not None and step.logprob is not None
    assert step.logprob == pytest.approx(lp[step.id], abs=tol)
    p = np.exp(lp)
    assert step.entropy == pytest.approx(float(-(p * lp).sum()), abs=tol)
    assert step.entropy_exact
    n = len(step.top)
    want = np.argsort(-lp, kind="stable")[:n]
    # Ties aside, the same tokens in the same order with the same logprobs.
    assert [c.logprob for c in step.top] == pytest.approx(list(lp[want]), abs=tol)
    assert {c.id for c in step.top} == {int(i) for i in want} or \
        abs(lp[want[-1]] - np.sort(lp)[-n - 1]) < tol
    # Tail summary at T = 1: log Σ p over the tokens outside the list.
    outside = np.ones(lp.shape[0], bool)
    outside[[c.id for c in step.top]] = False
    assert step.tail_logsumexp is not None
    t1 = list(TAIL_TEMPERATURES).index(1.0)
    tail = float(np.log(p[outside].sum()))
    assert step.tail_logsumexp[t1] == pytest.approx(tail, abs=max(tol, 2e-5))
