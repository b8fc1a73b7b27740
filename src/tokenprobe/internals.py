"""What a model computed inside, step by step, where its backend exposes it: the trace's
optional `internals` block (`Trace.internals`), asked for with `attention=True` and
`lens=True` (the CLI's `--attention` and `--lens`); a trace without it is unchanged.

- attention: for each step, the attention weights of the position that predicted the
  step's token over every earlier position, per layer and per head, plus their mean over
  the heads (computed in float32 over the full weights, before anything is dropped). Only
  the `attention_top` largest weights of each (layer, head) are kept, as float16 with
  their positions; a position not listed had a weight no larger than the smallest listed
  one, and all of those together hold 1 minus the listed sum.
- lens, the logit lens (nostalgebraist, 2020): each layer's hidden state at that position
  decoded through the model's final norm and unembedding into a distribution; per layer,
  the `lens_top` most likely tokens with their log-probabilities (float16) and the rank
  and log-probability of the token finally chosen. The last layer is the model's own output.

Positions count from the first token of the context: the steps' tokens come after the
`context` tokens (a generation's prompt; empty for a scored text, whose `prompt_steps` are
every position). Arrays travel as base64 of little-endian binary: positions and ids uint32,
weights and log-probabilities float16 (about three significant digits).

It leaves out computing any of it (backends/torch_capture.py) and drawing it
(views/static/viewer-lens.js).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ATTENTION_TOP = 16
LENS_TOP = 5
KINDS = ("attention", "lens")
LENS_METHOD = ("logit lens: each layer's hidden state through the model's final norm and "
               "unembedding")


def pack(a: np.ndarray, dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.dtype(dtype).newbyteorder("<"))
                            .tobytes()).decode("ascii")


def unpack(text: str, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    raw = np.frombuffer(base64.b64decode(text), dtype=np.dtype(dtype).newbyteorder("<"))
    return raw.astype(np.dtype(dtype).newbyteorder("=")).reshape(shape)


@dataclass
class StepAttention:
    """One step's attention: for each layer and each head (and, last, the heads' mean) the
    `k` largest weights, largest first, and their positions; shape (layers, heads + 1, k)."""

    positions: np.ndarray  # uint32
    weights: np.ndarray  # float16

    def to_dict(self) -> dict[str, Any]:
        return {"k": int(self.positions.shape[2]), "pos": pack(self.positions, "u4"),
                "w": pack(self.weights, "f2")}

    @classmethod
    def from_dict(cls, d: dict[str, Any], layers: int, heads: int) -> StepAttention:
        shape = (layers, heads + 1, int(d["k"]))
        return cls(unpack(d["pos"], "u4", shape), unpack(d["w"], "f2", shape))


@dataclass
class StepLens:
    """One step's logit lens, layers 0 (the embeddings) to L (the output): per layer the
    top token ids and log-probabilities (L + 1, k),
    and the finally chosen token's rank (1 = most likely) and log-probability (layers,)."""

    ids: np.ndarray  # uint32
    logprobs: np.ndarray  # float16
    chosen_rank: np.ndarray  # uint32
    chosen_logprob: np.ndarray  # float16

    def to_dict(self) -> dict[str, Any]:
        return {"k": int(self.ids.shape[1]), "ids": pack(self.ids, "u4"),
                "lp": pack(self.logprobs, "f2"), "rank": pack(self.chosen_rank, "u4"),
                "chosen_lp": pack(self.chosen_logprob, "f2")}

    @classmethod
    def from_dict(cls, d: dict[str, Any], layers: int) -> StepLens:
        k = int(d["k"])
        return cls(unpack(d["ids"], "u4", (layers, k)), unpack(d["lp"], "f2", (layers, k)),
                   unpack(d["rank"], "u4", (layers,)), unpack(d["chosen_lp"], "f2", (layers,)))


@dataclass
class Internals:
    """The trace's `internals` block (see the module docstring). `attention[i]` and
    `lens[i]` belong to step i of the trace's steps (a scored text: its `prompt_steps`);
    None where nothing was captured (a scored text's first token, a branch's replayed
    steps)."""

    layers: int
    heads: int
    kinds: list[str]
    context: list[str] = field(default_factory=list)  # labels of the tokens before the steps
    attention: list[StepAttention | None] = field(default_factory=list)
    lens: list[StepLens | None] = field(default_factory=list)
    labels: dict[int, str] = field(default_factory=dict)  # the lens's token ids -> labels

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"layers": self.layers, "heads": self.heads,
                             "kinds": list(self.kinds), "context": list(self.context)}
        if "attention" in self.kinds:
            d["attention"] = [None if a is None else a.to_dict() for a in self.attention]
        if "lens" in self.kinds:
            d["lens_method"] = LENS_METHOD
            d["lens"] = [None if x is None else x.to_dict() for x in self.lens]
            d["labels"] = {str(k): v for k, v in sorted(self.labels.items())}
        return d

    @classmethod
    def from_dict(cls, d: Any) -> Internals | None:
        if not isinstance(d, dict):
            return None
        layers, heads = int(d["layers"]), int(d["heads"])
        kinds = [k for k in d.get("kinds") or [] if k in KINDS]
        return cls(
            layers=layers, heads=heads, kinds=kinds,
            context=[str(c) for c in d.get("context") or []],
            attention=[None if a is None else StepAttention.from_dict(a, layers, heads)
                       for a in d.get("attention") or []],
            lens=[None if x is None else StepLens.from_dict(x, layers + 1)
                  for x in d.get("lens") or []],
            labels={int(k): str(v) for k, v in (d.get("labels") or {}).items()},
        )

    def put(self, index: int, attention: StepAttention | None, lens: StepLens | None) -> None:
        """Record step `index`'s captures (steps before it without any get None)."""
        for kind, lst, value in (("attention", self.attention, attention),
                                 ("lens", self.lens, lens)):
            if kind not in self.kinds:
                continue
            while len(lst) <= index:
                lst.append(None)
            lst[index] = value

    def size_bytes(self) -> int:
        """The block's size in the trace's JSON (UTF-8), to measure what it costs."""
        import json

        return len(json.dumps(self.to_dict(), ensure_ascii=False).encode("utf-8"))


def top_attention(rows: np.ndarray, start: int, k: int = ATTENTION_TOP) -> StepAttention:
    """The `k` largest weights of each (layer, head) row and of the heads' mean.

    `rows`: (layers, heads, n) float32, the weights over positions start .. start + n - 1."""
    rows = np.asarray(rows, dtype=np.float32)
    full = np.concatenate([rows, rows.mean(axis=1, keepdims=True)], axis=1)
    k = min(k, full.shape[2])
    part = np.argpartition(-full, k - 1, axis=2)[:, :, :k]
    vals = np.take_along_axis(full, part, axis=2)
    order = np.argsort(-vals, axis=2, kind="stable")
    idx = np.take_along_axis(part, order, axis=2)
    return StepAttention(positions=(idx + start).astype(np.uint32),
                         weights=np.take_along_axis(vals, order, axis=2).astype(np.float16))


def lens_of(logits: np.ndarray, chosen: int, k: int = LENS_TOP) -> StepLens:
    """The lens's figures from each layer's logits (layers, V), in float64."""
    x = np.asarray(logits, dtype=np.float64)
    m = x.max(axis=1, keepdims=True)
    lp = x - (m + np.log(np.exp(x - m).sum(axis=1, keepdims=True)))
    k = min(k, x.shape[1])
    part = np.argpartition(-lp, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(lp, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    ids = np.take_along_axis(part, order, axis=1)
    mine = lp[:, chosen]
    # Ties count in the chosen token's favour, as an argmax would have taken it.
    rank = (lp > mine[:, None]).sum(axis=1) + 1
    return StepLens(ids=ids.astype(np.uint32),
                    logprobs=np.take_along_axis(vals, order, axis=1).astype(np.float16),
                    chosen_rank=rank.astype(np.uint32), chosen_logprob=mine.astype(np.float16))
