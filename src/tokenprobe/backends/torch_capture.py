"""Capturing attention and the logit lens while the logits engine runs (internals.py).

A forward asked to capture (`LogitsBackend.capturing`) leaves, beside the rows of logits it
returns, one `RowInside` per row: the attention weights of that position over the whole
context (layers, heads, positions; zeros where a window or a sliding layer hid a position,
since the model gave those no weight) and its hidden state before each layer (the first is
the embeddings). `Capture` turns a row's capture, the row itself and the chosen token into
the trace's compact records: the largest weights per layer and head, and the lens's top
tokens and the chosen token's rank per layer, the last layer being the row itself.

It leaves out running the model (hf.py, own_model.py) and the trace's storage (internals.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tokenprobe.errors import InputError
from tokenprobe.internals import KINDS, Internals, lens_of, top_attention


@dataclass
class RowInside:
    """What one position computed inside: `attention` (layers, heads, context) float32 over
    positions 0 .. context - 1, and `hidden` (layers, D), the state entering each layer."""

    attention: np.ndarray | None
    hidden: Any | None


def check_kinds(kinds: list[str]) -> list[str]:
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise InputError(f"cannot capture {bad[0]!r}: choose from {', '.join(KINDS)}")
    return list(dict.fromkeys(kinds))


def pad_front(att: np.ndarray, length: int) -> np.ndarray:
    """(…, n) weights over the last n of `length` positions, as (…, length)."""
    n = att.shape[-1]
    if n == length:
        return att
    out = np.zeros((*att.shape[:-1], length), dtype=np.float32)
    out[..., length - n:] = att
    return out


class Capture:
    """The `internals` block of one run, filled step by step."""

    def __init__(self, kinds: list[str], context: list[str],
                 lens: Callable[[Any], np.ndarray] | None,
                 label: Callable[[int], str]) -> None:
        self.kinds = kinds
        self.lens = lens
        self.label = label
        self.block: Internals | None = None
        self.context = context

    def record(self, index: int, inside: RowInside, chosen: int, row: np.ndarray) -> None:
        """Step `index`'s records from its position's capture and its row of logits."""
        att = lens = None
        layers = heads = 0
        if "attention" in self.kinds:
            if inside.attention is None:
                raise InputError("the model returned no attention weights")
            layers, heads = inside.attention.shape[:2]
            att = top_attention(inside.attention, 0)
        if "lens" in self.kinds:
            if inside.hidden is None or self.lens is None:
                raise InputError("the model returned no hidden states for the logit lens")
            per_layer = np.asarray(self.lens(inside.hidden), dtype=np.float32)
            rows = np.concatenate([per_layer, row[None, :]], axis=0)
            lens = lens_of(rows, chosen)
            layers = layers or per_layer.shape[0]
        if self.block is None:
            self.block = Internals(layers=layers, heads=heads, kinds=self.kinds,
                                   context=self.context)
        self.block.put(index, att, lens)
        if lens is not None:
            for i in {int(t) for t in lens.ids.ravel()} | {chosen}:
                if i not in self.block.labels:
                    self.block.labels[i] = self.label(i)

