"""Your own model in tokenprobe: a function from token ids to next-token logits and a
tokenizer, and tokenprobe does the rest (docs/own-model.md).

    model = OwnModel(logits, CharTokenizer(chars), name="char-gpt")
    tokenprobe.generate("吾輩は", model=model, temperature=0.3)

`logits(ids)` returns the logits for the positions of `ids` (shape (len(ids), V), or (V,)
for the last only): the whole context each time. With a cache, `logits(ids, cache)`
returns `(logits, cache)`: the first call gets the whole context and cache None, later
calls only the new ids and the cache returned last. A torch module that maps a (1, T)
tensor of ids to (1, T, V) logits (or `(logits, loss)`, as nanoGPT's does) can be given
as it is, with `window` its block size. The tokenizer needs `encode(text) -> ids` and
`token_bytes(id) -> bytes`; `vocab_size` where the logits do not say it.

From the command line and `tokenprobe serve`, `-m own:FILE.py:NAME` runs FILE.py and takes
NAME from it (an OwnModel, or a function that returns one). It leaves out the math and the
traces (backends/torch_model.py: the same engine as hf:) and every view.
"""

from __future__ import annotations

import inspect
import runpy
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from tokenprobe.backends.base import BackendOptions
from tokenprobe.backends.llama_threads import ThreadCount
from tokenprobe.backends.torch_capture import RowInside, pad_front
from tokenprobe.backends.torch_model import LogitsBackend, as_rows
from tokenprobe.errors import InputError, ModelError
from tokenprobe.textbytes import token_label


class Tokenizer(Protocol):
    """What tokenprobe needs of your tokenizer."""

    def encode(self, text: str) -> list[int]: ...

    def token_bytes(self, token_id: int) -> bytes: ...


class CharTokenizer:
    """A character vocabulary: token i is the i-th character of `chars` (duplicates are
    kept once, in order of first appearance)."""

    def __init__(self, chars: Iterable[str]) -> None:
        self.chars: list[str] = list(dict.fromkeys(chars))
        self.index = {c: i for i, c in enumerate(self.chars)}
        self.vocab_size = len(self.chars)

    def encode(self, text: str) -> list[int]:
        try:
            return [self.index[c] for c in text]
        except KeyError as e:
            raise InputError(f"the character {e.args[0]!r} is not in the model's vocabulary"
                             ) from None

    def token_bytes(self, token_id: int) -> bytes:
        return self.chars[token_id].encode("utf-8")


class _OwnVocab:
    """The engine's Vocab over a user's tokenizer."""

    def __init__(self, tokenizer: Tokenizer, n_vocab: int, bos: int | None,
                 eos: set[int], special: set[int]) -> None:
        self.tok = tokenizer
        self.n_vocab = n_vocab
        self.bos = bos
        self.eos = eos
        self.special = special | eos | ({bos} if bos is not None else set())

    def encode(self, text: str, add_bos: bool) -> list[int]:
        ids = [int(i) for i in self.tok.encode(text)]
        if any(not 0 <= i < self.n_vocab for i in ids):
            raise ModelError("the tokenizer gave an id outside the model's vocabulary")
        return [self.bos, *ids] if add_bos and self.bos is not None else ids

    def piece(self, token_id: int) -> tuple[str, bytes]:
        if token_id in self.special:
            return f"<special {token_id}>", b""
        try:
            data = bytes(self.tok.token_bytes(token_id))
        except (IndexError, KeyError):  # a logits row the tokenizer has no token for
            return f"<unused {token_id}>", b""
        return token_label(data), data

    def is_eog(self, token_id: int) -> bool:
        return token_id in self.eos

    def chat_ids(self, messages: list[dict[str, Any]]) -> list[int]:
        raise InputError("this model has no chat format: use completion mode (leave out --chat)")


def _keywords(fn: Callable[..., Any]) -> set[str]:
    """Which of the capture keywords (`attentions`, `hidden`) the function or module takes."""
    target = fn.forward if hasattr(fn, "parameters") and hasattr(fn, "forward") else fn
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return set()
    return {k for k in ("attentions", "hidden") if k in params}


def _call_style(fn: Callable[..., Any]) -> str:
    """"module" (a torch module), "cache" (takes ids and a cache) or "plain" (ids only)."""
    if hasattr(fn, "parameters") and hasattr(fn, "forward"):
        return "module"
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return "plain"
    return "cache" if len(params) >= 2 else "plain"


class OwnModel(LogitsBackend):
    """A model given as a logits function and a tokenizer (see the module's docstring).

    `window`: the most tokens the model takes at once (a block size); longer contexts are
    given as their last `window` tokens, one position at a time, so every row is the one
    the model computes for that position. `bos`: an id put in front of every prompt and
    scored text; `eos`: ids that end a generation.

    Attention and the logit lens (docs/own-model.md): a function or module that takes the
    keyword `attentions` is given a list to append each layer's weights to ((1, heads, T,
    T) or (heads, T, T)); one that takes `hidden` a list to append the state entering each
    layer to ((1, T, D) or (T, D)); `lens` maps such states (n, D) to logits (n, V) through
    the final norm and the unembedding.
    """

    name = "own"

    def __init__(self, logits: Callable[..., Any], tokenizer: Tokenizer, *,
                 name: str = "own-model", vocab_size: int | None = None,
                 window: int | None = None, bos: int | None = None,
                 eos: int | Sequence[int] | None = None,
                 special: Sequence[int] = (),
                 lens: Callable[[Any], Any] | None = None) -> None:
        n_vocab = vocab_size or getattr(tokenizer, "vocab_size", None)
        if n_vocab is None and hasattr(tokenizer, "__len__"):
            n_vocab = len(tokenizer)  # type: ignore[arg-type]
        if not n_vocab or n_vocab <= 0:
            raise ModelError("give the vocabulary size: OwnModel(..., vocab_size=V)")
        eos_ids = set() if eos is None else ({eos} if isinstance(eos, int) else set(eos))
        self.vocab = _OwnVocab(tokenizer, int(n_vocab), bos, eos_ids, set(special))
        self.model = name
        self.window = window
        self.n_ctx = None
        self._fn = logits
        self._style = _call_style(logits)
        self._keywords = _keywords(logits)
        self._lens = lens
        self._threads: ThreadCount | None = None  # a module's torch threads, set at its first call
        self._inference: Any = None
        self.forward = self._forward
        self._setup()

    @classmethod
    def from_spec(cls, rest: str, options: BackendOptions) -> OwnModel:
        """`own:FILE.py:NAME` (NAME defaults to `model`), or a model `serve` offers."""
        if rest in _registered:
            return _registered[rest]
        file, sep, attr = rest.rpartition(":")
        if not sep or not attr.isidentifier():
            file, attr = rest, "model"
        path = Path(file).expanduser()
        if not path.is_file():
            raise ModelError(f"own:{rest}: no such Python file (give own:FILE.py:NAME)")
        try:
            names = runpy.run_path(str(path), run_name="tokenprobe_own_model")
        except Exception as e:  # the user's file: any error, in one line
            raise ModelError(f"{path} failed: {type(e).__name__}: {e}") from None
        obj = names.get(attr)
        if obj is None:
            raise ModelError(f"{path} defines no {attr!r}")
        if not isinstance(obj, OwnModel) and callable(obj):
            obj = obj()
        if not isinstance(obj, OwnModel):
            raise ModelError(f"{path}: {attr} is not an OwnModel (nor a function making one)")
        obj.model = rest
        return obj

    def source(self) -> dict[str, Any]:
        return {"engine": "own", "window": self.window}

    def start_capture(self, kinds: tuple[str, ...]) -> None:
        if "attention" in kinds and "attentions" not in self._keywords:
            raise InputError(f"{self.model} returns no attention weights: give it an "
                             "`attentions` keyword to append them to (docs/own-model.md)")
        if "lens" in kinds and ("hidden" not in self._keywords or self._lens is None):
            raise InputError(f"{self.model} has no logit lens: give it a `hidden` keyword "
                             "and OwnModel(..., lens=final_norm_and_head) (docs/own-model.md)")
        super().start_capture(kinds)

    def lens_logits(self, hidden: Any) -> np.ndarray:
        assert self._lens is not None
        return _as_array(_no_grad(lambda: self._lens(hidden)))  # type: ignore[misc]

    def _call(self, ids: list[int], cache: Any, keep: dict[str, list[Any]] | None = None
              ) -> tuple[Any, Any]:
        kw: dict[str, Any] = keep or {}
        if self._style == "module":
            import torch

            # torch's threads, as for hf: models: at most the count torch had at the first
            # call (the user's), fewer while other processes keep cores busy. Its workers
            # spin between operations and lose whole time slices to a busy neighbour: on
            # two cores beside a running server, two threads made the example's network
            # 8x slower than one (benchmarks/bench_hf.py).
            if self._threads is None:
                self._threads = ThreadCount(torch.get_num_threads())
            if self._inference is None:
                # One context object, entered at every call (the engine's lock keeps the
                # calls apart): making it anew each time is a measurable part of a step.
                self._inference = torch.inference_mode()
            n = self._threads.current()
            if n != torch.get_num_threads():
                torch.set_num_threads(n)
            with self._inference:
                # Through numpy: a fifth of the time of torch.tensor on a list of ints.
                out = self._fn(torch.from_numpy(np.array([ids], dtype=np.int64)), **kw)
            if isinstance(out, tuple):  # (logits, loss) as nanoGPT-style models return
                out = out[0]
            return out, None
        if self._style == "cache":
            out = self._fn(ids, cache, **kw)
            if isinstance(out, tuple) and len(out) == 2:
                return out[0], out[1]
            return out, None
        return self._fn(ids, **kw), None

    def _forward(self, ids: list[int], cache: Any, all_rows: bool) -> tuple[np.ndarray, Any]:
        w = self.window
        keep = self._keep()
        if cache is not None or w is None or len(ids) <= w:
            out, cache = self._call(ids, cache, keep)
            rows = as_rows(out, self.n_vocab)
            if keep is not None:
                self.inside = self._inside(keep, rows.shape[0], len(ids))
            return rows, cache
        # Longer than the model's window: each position sees its last `w` tokens.
        if not all_rows:  # the next token's row only: one call, no stacking
            out = self._call(ids[len(ids) - w:], None, keep)[0]
            if keep is not None:
                self.inside = self._inside(keep, 1, len(ids))
            return as_rows(out, self.n_vocab)[-1:], None
        first = 0
        rows, inside = [], []
        for p in range(first, len(ids)):
            keep = self._keep()
            start = max(0, p + 1 - w)
            rows.append(as_rows(self._call(ids[start: p + 1], None, keep)[0],
                                self.n_vocab)[-1])
            if keep is not None:
                inside += self._inside(keep, 1, p + 1)
        if self.capturing:
            self.inside = inside
        return np.stack(rows), None

    def _keep(self) -> dict[str, list[Any]] | None:
        if not self.capturing:
            return None
        keep: dict[str, list[Any]] = {}
        if "attention" in self.capturing:
            keep["attentions"] = []
        if "lens" in self.capturing:
            keep["hidden"] = []
        return keep

    def _inside(self, keep: dict[str, list[Any]], n_rows: int, context: int
                ) -> list[RowInside]:
        """The last `n_rows` positions' captures, their attention spread over the
        `context` positions (a window's earlier positions get weight 0: unseen)."""
        att = hid = None
        if "attentions" in keep:
            layers = [_as_array(a) for a in keep["attentions"]]
            if not layers:
                raise ModelError(f"{self.model} appended no attention weights")
            layers = [a[0] if a.ndim == 4 else a for a in layers]
            att = np.stack([pad_front(a[:, -n_rows:], context) for a in layers])
        if "hidden" in keep:
            states = keep["hidden"]
            if len(states) < 1:
                raise ModelError(f"{self.model} appended no hidden states")
            n_layers = att.shape[0] if att is not None else len(states) - 1 or 1
            states = [s[0] if s.ndim == 3 else s for s in states[:n_layers]]
            hid = [[s[-n_rows + r] for s in states] for r in range(n_rows)]
        # Row r is position context - n_rows + r: the weights up to it (the later ones are
        # the causal mask's zeros).
        return [RowInside(attention=None if att is None
                          else att[:, :, r, : context - n_rows + r + 1],
                          hidden=None if hid is None else _stack(hid[r]))
                for r in range(n_rows)]


def _as_array(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def _stack(states: list[Any]) -> Any:
    if hasattr(states[0], "detach"):
        import torch

        return torch.stack(states)
    return np.stack(states)


def _no_grad(fn: Callable[[], Any]) -> Any:
    try:
        import torch
    except ImportError:
        return fn()
    with torch.inference_mode():
        return fn()


_registered: dict[str, OwnModel] = {}


def serve(*models: OwnModel, host: str = "127.0.0.1", port: int = 8000,
          **settings: Any) -> None:
    """`tokenprobe serve` offering these models (the first is the default) besides the
    embedded one; other keywords as the command's options (token, quiet, ...)."""
    from tokenprobe.cli.serve import serve as serve_command

    specs = []
    for m in models:
        _registered[m.model] = m
        specs.append(f"own:{m.model}")
    serve_command(host=host, port=port, model=specs, **settings)


def registered(name: str) -> OwnModel | None:
    """A model `serve` offers under `own:NAME`."""
    return _registered.get(name)
