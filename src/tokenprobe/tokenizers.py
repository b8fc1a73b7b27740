"""Tokenizers available offline, by name, and how each splits a text.

Names (`tokenprobe tokenize --tokenizer NAME`):

- `embedded`: the embedded Gemma 3's (its GGUF, read by llama.cpp, vocabulary only)
- `PATH.gguf`: a GGUF model's own (llama.cpp, vocabulary only)
- `hf:DIR` or a directory: a transformers model's (its tokenizer files)
- `own:FILE.py:NAME`: an own model's (tokenprobe.own_model)
- `char`: one token per character (a character vocabulary made from the text itself)
- `o200k`, `cl100k`: OpenAI's o200k_base (GPT-4o) and cl100k_base (GPT-4), from the
  quicktok-v1 package, which ships both vocabularies in its wheel (tiktoken downloads its
  files at run time, so it cannot be used offline)

A split is the list of each token's exact bytes; `split.groups` are the glyph groups
(textbytes.glyph_groups): runs of tokens that only make whole characters together.
It leaves out display (cli/tokens.py).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tokenprobe.errors import InputError, ModelError
from tokenprobe.textbytes import glyph_groups

TIKTOKEN_NAMES = {"o200k": "o200k_base", "o200k_base": "o200k_base",
                  "cl100k": "cl100k_base", "cl100k_base": "cl100k_base"}


@dataclass
class Split:
    """How one tokenizer splits one text."""

    name: str
    pieces: list[bytes]
    ids: list[int]
    vocab_size: int | None = None
    byte_fallback: list[bool] = field(default_factory=list)  # a piece that is one raw byte

    @property
    def groups(self) -> list[range]:
        return glyph_groups(self.pieces)

    @property
    def n_bytes(self) -> int:
        return sum(len(p) for p in self.pieces)

    @property
    def bytes_per_token(self) -> float | None:
        return self.n_bytes / len(self.pieces) if self.pieces else None

    @property
    def split_glyphs(self) -> int:
        """Characters spelled over more than one token."""
        return sum(1 for g in self.groups if len(g) > 1)

    def to_dict(self) -> dict[str, object]:
        return {"tokenizer": self.name, "tokens": len(self.pieces), "bytes": self.n_bytes,
                "bytes_per_token": self.bytes_per_token, "vocab_size": self.vocab_size,
                "ids": self.ids, "pieces": [list(p) for p in self.pieces],
                "byte_fallback": self.byte_fallback,
                "groups": [[g.start, g.stop] for g in self.groups]}


def _partial(piece: bytes) -> bool:
    """True for a piece that is not whole UTF-8 by itself (a byte-fallback fragment)."""
    try:
        piece.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _make(name: str, ids: list[int], piece: Callable[[int], bytes],
          vocab_size: int | None) -> Split:
    pieces = [piece(i) for i in ids]
    return Split(name, pieces, ids, vocab_size, [_partial(p) for p in pieces])


def split(name: str, text: str) -> Split:
    """How the tokenizer `name` splits `text` (no <bos> or other added tokens)."""
    if not text:
        raise InputError("the text to tokenize is empty")
    key = name.strip()
    if key == "char":
        chars = list(dict.fromkeys(text))
        index = {c: i for i, c in enumerate(chars)}
        return _make("char", [index[c] for c in text], lambda i: chars[i].encode("utf-8"),
                     len(chars))
    if key.lower() in TIKTOKEN_NAMES:
        return _tiktoken(TIKTOKEN_NAMES[key.lower()], text)
    if key == "embedded" or key.lower().endswith(".gguf"):
        return _gguf(key, text)
    if key.startswith("own:"):
        from tokenprobe.backends import get_backend

        backend = get_backend(key)
        ids = backend.vocab.encode(text, add_bos=False)  # type: ignore[attr-defined]
        return _make(key, ids, lambda i: backend.piece(i)[1],  # type: ignore[attr-defined]
                     backend.vocab_size)
    if key.startswith("hf:") or Path(key).expanduser().is_dir():
        return _hf(key.removeprefix("hf:"), text)
    raise InputError(f"unknown tokenizer {name!r}: give embedded, PATH.gguf, hf:DIR, "
                     "own:FILE.py:NAME, char, o200k or cl100k")


def _tiktoken(encoding: str, text: str) -> Split:
    try:
        import quicktok
    except ImportError:
        raise ModelError(f"{encoding} needs the quicktok-v1 package (it ships the "
                         "vocabulary): pip install 'tokenprobe[tokenizers]'") from None
    enc = quicktok.get_encoding(encoding)
    ids = list(enc.encode_ordinary(text))
    return _make(encoding, ids, lambda i: bytes(enc.decode_single_token_bytes(i)),
                 int(enc.n_vocab))


def _gguf(key: str, text: str) -> Split:
    import llama_cpp

    from tokenprobe.backends.llama_files import check_gguf, embedded_model_path, quiet_stderr

    path = embedded_model_path() if key == "embedded" else Path(key).expanduser()
    check_gguf(path)
    try:
        with quiet_stderr():
            llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    except (ValueError, RuntimeError, OSError) as e:
        raise ModelError(f"cannot read the vocabulary of {path}: {e}") from None
    vocab = llm._model.vocab

    def piece(i: int) -> bytes:
        size = 64
        while True:
            buf = ctypes.create_string_buffer(size)
            n = llama_cpp.llama_token_to_piece(vocab, i, buf, size, 0, False)
            if n >= 0:
                return buf.raw[:n]
            size = -n

    try:
        ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        return _make("embedded" if key == "embedded" else path.name, ids, piece,
                     llm.n_vocab())
    finally:
        llm.close()


def _hf(rest: str, text: str) -> Split:
    from tokenprobe.backends.hf_files import import_torch, model_dir, resolve
    from tokenprobe.backends.hf_tokens import HFVocab

    _, transformers = import_torch()
    path, name = resolve(rest)
    where = model_dir(path)
    try:
        tok = transformers.AutoTokenizer.from_pretrained(str(where), local_files_only=True)
    except (OSError, ValueError) as e:
        raise ModelError(f"transformers cannot load the tokenizer of {path}: {e}") from None
    vocab = HFVocab(tok, len(tok))
    ids = vocab.encode(text, add_bos=False)
    return _make(f"hf:{Path(name).name}", ids, lambda i: vocab.piece(i)[1], len(tok))
