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
    """

    name = "own"

    def __init__(self, logits: Callable[..., Any], tokenizer: Tokenizer, *,
                 name: str = "own-model", vocab_size: int | None = None,
                 window: int | None = None, bos: int | None = None,
                 eos: int | Sequence[int] | None = None,
                 special: Sequence[int] = ()) -> None:
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

    def _call(self, ids: list[int], cache: Any) -> tuple[Any, Any]:
        if self._style == "module":
            import torch

            with torch.inference_mode():
                out = self._fn(torch.tensor([ids], dtype=torch.long))
            if isinstance(out, tuple):  # (logits, loss) as nanoGPT-style models return
                out = out[0]
            return out, None
        if self._style == "cache":
            out = self._fn(ids, cache)
            if isinstance(out, tuple) and len(out) == 2:
                return out[0], out[1]
            return out, None
        return self._fn(ids), None

    def _forward(self, ids: list[int], cache: Any, all_rows: bool) -> tuple[np.ndarray, Any]:
        w = self.window
        if cache is not None or w is None or len(ids) <= w:
            out, cache = self._call(ids, cache)
            return as_rows(out, self.n_vocab), cache
        # Longer than the model's window: each position sees its last `w` tokens.
        first = 0 if all_rows else len(ids) - 1
        rows = [as_rows(self._call(ids[max(0, p + 1 - w): p + 1], None)[0],
                        self.n_vocab)[-1] for p in range(first, len(ids))]
        return np.stack(rows), None


_registered: dict[str, OwnModel] = {}


def serve(*models: OwnModel, host: str = "127.0.0.1", port: int = 8000,
          **settings: Any) -> None:
    """`tokenprobe serve` offering these models (the first is the default) besides the
    embedded one; other keywords as the command's options (token, quiet, ...)."""
    from tokenprobe.cli_serve import serve as serve_command

    specs = []
    for m in models:
        _registered[m.model] = m
        specs.append(f"own:{m.model}")
    serve_command(host=host, port=port, model=specs, **settings)


def registered(name: str) -> OwnModel | None:
    """A model `serve` offers under `own:NAME`."""
    return _registered.get(name)
