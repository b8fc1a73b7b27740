"""A transformers tokenizer as the engine's vocabulary: text -> ids, id -> (label, bytes).

A token's bytes are read from its vocabulary string by the tokenizer's own decoding rule, so
that a character split over several tokens keeps its exact bytes: byte-level BPE (GPT-2,
Llama 3, Qwen: each byte spelled by one printable character), SentencePiece with byte
fallback (Gemma, Llama 2, and every GGUF vocabulary transformers converts: `▁` is a space,
`<0xE6>` one byte); any other scheme falls back to the tokenizer's decode of the token
alone. Control tokens have empty bytes and their name as label. End-of-generation tokens
are the tokenizer's and the generation config's EOS plus the chat formats' turn ends.

It leaves out loading (hf.py) and evaluating the model (torch_model.py).
"""

from __future__ import annotations

import re
from typing import Any

from tokenprobe.backends.chat_templates import GEMMA_FAMILIES, gemma_prompt
from tokenprobe.errors import InputError, ModelError
from tokenprobe.textbytes import token_label

_BYTE_PIECE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")
# Turn ends of common chat formats: a model stops after them even when its config names
# only the end-of-text token.
_TURN_ENDS = ("<end_of_turn>", "<|im_end|>", "<|eot_id|>", "<|end|>", "<|endoftext|>")


def byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet read backwards: the printable character -> its byte."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
          *range(ord("®"), ord("ÿ") + 1)]
    cs = list(bs)
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def decoding_scheme(tokenizer: Any) -> str:
    """"bytelevel", "sentencepiece" or "decode": how token strings become bytes."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    described = str(getattr(backend, "decoder", "")) if backend is not None else ""
    if "ByteLevel" in described:
        return "bytelevel"
    if "ByteFallback" in described or "▁" in described:
        return "sentencepiece"
    return "decode"


class HFVocab:
    """The engine's Vocab over a transformers tokenizer (and the model's config)."""

    def __init__(self, tokenizer: Any, n_vocab: int, model_type: str = "",
                 eos_ids: list[int] | None = None) -> None:
        self.tok = tokenizer
        self.n_vocab = n_vocab
        self.model_type = model_type
        self.scheme = decoding_scheme(tokenizer)
        self._bytes_of = byte_decoder() if self.scheme == "bytelevel" else {}
        self.special = set(tokenizer.all_special_ids)
        for i, added in getattr(tokenizer, "added_tokens_decoder", {}).items():
            if getattr(added, "special", False):
                self.special.add(int(i))
        with_special = tokenizer("a", add_special_tokens=True)["input_ids"]
        plain = tokenizer("a", add_special_tokens=False)["input_ids"]
        bos = tokenizer.bos_token_id
        # <bos> only where the tokenizer itself puts it in front of a text.
        self.bos: int | None = bos if bos is not None and with_special[:1] == [bos] \
            and plain[:1] != [bos] else None
        eog = {int(i) for i in (eos_ids or [])}
        if tokenizer.eos_token_id is not None:
            eog.add(int(tokenizer.eos_token_id))
        vocab = tokenizer.get_vocab()
        for name in _TURN_ENDS:
            if name in vocab:
                eog.add(int(vocab[name]))
        self.eog = eog
        self._n_tok = len(tokenizer)

    def encode(self, text: str, add_bos: bool) -> list[int]:
        ids = list(self.tok(text, add_special_tokens=False)["input_ids"])
        return [self.bos, *ids] if add_bos and self.bos is not None else ids

    def is_eog(self, token_id: int) -> bool:
        return token_id in self.eog

    def piece(self, token_id: int) -> tuple[str, bytes]:
        if token_id >= self._n_tok:  # a row the model has beyond the tokenizer's vocabulary
            return f"<unused {token_id}>", b""
        name = self.tok.convert_ids_to_tokens(token_id)
        if token_id in self.special or name is None:
            return str(name), b""
        data = self.token_bytes(token_id, name)
        return token_label(data) if data else str(name), data

    def token_bytes(self, token_id: int, name: str) -> bytes:
        if self.scheme == "bytelevel":
            try:
                return bytes(self._bytes_of[c] for c in name)
            except KeyError:  # an added token written as plain text
                return name.encode("utf-8")
        if self.scheme == "sentencepiece":
            m = _BYTE_PIECE.match(name)
            if m:
                return bytes([int(m.group(1), 16)])
            return name.replace("▁", " ").encode("utf-8")
        return str(self.tok.decode([token_id])).encode("utf-8")

    def chat_ids(self, messages: list[dict[str, Any]]) -> list[int]:
        """The prompt for `messages` by the tokenizer's chat template (Gemma's own turn
        format for a Gemma without one, as the local engine does)."""
        if getattr(self.tok, "chat_template", None):
            try:
                text = self.tok.apply_chat_template(messages, tokenize=False,
                                                    add_generation_prompt=True)
            except Exception as e:  # jinja's errors, the template's raise_exception
                raise InputError(f"the model's chat template refused the messages: {e}"
                                 ) from None
        elif self.model_type.split("_")[0] in GEMMA_FAMILIES:
            bos = self.tok.bos_token or ""
            text = gemma_prompt(messages, bos)
        else:
            raise ModelError("this model has no chat template and tokenprobe knows none for "
                             f"its family ({self.model_type or 'unknown'}); use completion "
                             "mode (leave out --chat)")
        return list(self.tok(str(text), add_special_tokens=False)["input_ids"])
