"""The scripted model: a tiny deterministic network for the tests that check the command
line, the operations, the views, the history and the web app rather than an engine's
numbers. It goes through the own-model protocol (tokenprobe.own_model), so those tests
still run the real distribution math, sampling, scoring, traces and views; only the
network is a fixed table.

The logits of the next token are row `TABLE[last id]` (a seeded random table, float32):
no torch, a row in microseconds, and a test computes any expected number on its own as
numpy's log-softmax of that row in float64 (`expected_logprobs`). Some rows are shaped on
purpose: after "." the end token is nearly certain (a confident step and a `stop`
finish), after " " two letters are a near-tie, and byte tokens are unlikely everywhere.

The tokenizer: one token per character of `ALPHABET` (ASCII's printable characters,
newline, a few multi-byte ones such as é and 猫), any other character as its UTF-8 bytes
(one token per byte, as byte-fallback tokenizers do, so every text can be scored and a
character can span several tokens), a begin token put in front of every prompt and an end
token that stops generation.

From the command line: `-m own:tests/scripted_model.py:model` (tests/conftest.py gives the
absolute spec as the `scripted` fixture). It leaves out attention and the logit lens.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tokenprobe.own_model import OwnModel

ALPHABET: list[str] = [chr(c) for c in range(32, 127)] + ["\n", "é", "ü", "ñ", "猫", "吾",
                                                            "輩", "は", "。", "—"]
N_CHARS = len(ALPHABET)
BYTE0 = N_CHARS            # ids BYTE0 .. BYTE0 + 255: the single bytes 0x00 .. 0xff
BOS = BYTE0 + 256          # put in front of every prompt and scored text
EOS = BOS + 1              # ends a generation
VOCAB = EOS + 1
INDEX = {c: i for i, c in enumerate(ALPHABET)}

NEAR_TIE = ("t", "a")      # after a space: their logits differ by NEAR_TIE_GAP
NEAR_TIE_GAP = 0.01
CONFIDENT_AFTER = "."      # after it the end token has p = 0.98


def _table() -> np.ndarray:
    rng = np.random.default_rng(20240607)
    t = rng.normal(0.0, 2.0, (VOCAB, VOCAB))
    # After " ": two letters nearly tied, well above the rest.
    space = t[INDEX[" "]]
    top = float(space[:N_CHARS].max()) + 3.0
    space[INDEX[NEAR_TIE[0]]] = top
    space[INDEX[NEAR_TIE[1]]] = top - NEAR_TIE_GAP
    # Letters and spaces are likelier than other characters (text reads as words); bytes,
    # the begin and end tokens and "." are rare after any token: generated text stays in
    # the alphabet (valid UTF-8) and runs as long as asked unless a test gives or forces a
    # "." (so unseeded samples make as many steps as seeded ones).
    letters = [INDEX[c] for c in ALPHABET if c.isalpha() or c == " "]
    t[:, :N_CHARS] -= 3.0
    t[:, letters] += 3.0
    t[:, BYTE0:] -= 14.0
    t[:, INDEX[CONFIDENT_AFTER]] -= 8.0
    t[:, EOS] = -30.0
    # After ".": the end token at p = 0.98 (a confident step, then a `stop` finish).
    dot = t[INDEX[CONFIDENT_AFTER]]
    dot[EOS] = np.log(0.98 / 0.02) + np.logaddexp.reduce(np.delete(dot, EOS))
    return t.astype(np.float32)


TABLE = _table()


class ScriptedTokenizer:
    """A character per token over ALPHABET, other characters as their UTF-8 bytes."""

    vocab_size = VOCAB

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for c in text:
            i = INDEX.get(c)
            ids.extend([i] if i is not None else [BYTE0 + b for b in c.encode("utf-8")])
        return ids

    def token_bytes(self, token_id: int) -> bytes:
        if token_id < N_CHARS:
            return ALPHABET[token_id].encode("utf-8")
        if token_id < BOS:
            return bytes([token_id - BYTE0])
        raise KeyError(token_id)  # the begin and end tokens: shown by name, no bytes


def logits(ids: list[int], cache: int | None) -> tuple[np.ndarray, int]:
    """Row p, the logits of the token after ids[p], is TABLE[ids[p]]. It takes a cache so
    that after the prompt it is given the new id alone, not the whole context again; the
    table needs no earlier ids, so the cache holds nothing."""
    return TABLE[np.asarray(ids, dtype=np.intp)], 0


def expected_logprobs(prev: int) -> np.ndarray:
    """The model's log-probabilities after token `prev` at T = 1: log-softmax in float64 of
    the table's row, computed here apart from the library's own math."""
    row = TABLE[prev].astype(np.float64)
    return row - np.logaddexp.reduce(row)


def encode(text: str, bos: bool = True) -> list[int]:
    """`text`'s ids as the model sees them (with the begin token in front by default)."""
    return ([BOS] if bos else []) + ScriptedTokenizer().encode(text)


# `-m SPEC` on the command line, `model=SPEC` in Python (loaded once per process).
SPEC = f"own:{Path(__file__).resolve()}:model"

model = OwnModel(logits, ScriptedTokenizer(), name="scripted", vocab_size=VOCAB, bos=BOS,
                 eos=EOS)
