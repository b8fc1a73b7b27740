"""Token bytes -> display text, and grouping of byte fragments into glyphs.

A token is a sequence of bytes; its string form is only a label. Byte-fallback vocabularies
(Gemma, Llama) split a character such as 𠮷 (F0 A0 AE B7) over several tokens, none of which
is valid UTF-8 on its own. This module turns bytes into labels that never hide bytes behind
U+FFFD, parses the byte spellings that servers use (`bytes:\\xe6\\x9b`, `<0xE6>`), and finds
runs of consecutive tokens whose bytes only make characters together.

It leaves out how a view draws a group; see views/ for that.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence

_BYTE_TOKEN = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")
_ESCAPED_BYTES = re.compile(r"^(?:\\x[0-9A-Fa-f]{2})+$")


def token_label(data: bytes) -> str:
    """The readable label for a token's bytes: UTF-8 where valid, `\\xNN` escapes elsewhere."""
    return data.decode("utf-8", errors="backslashreplace")


def display_text(data: bytes) -> str:
    """Text to show for bytes that form one glyph group (same rule as a label)."""
    return token_label(data)


def parse_byte_spelling(label: str) -> bytes | None:
    """Bytes for the byte spellings servers write, or None if `label` is an ordinary string.

    Recognised: `bytes:\\xe6\\x9b` (OpenAI's convention for partial characters), a bare
    `\\xe6\\x9b` escape run, and SentencePiece byte tokens such as `<0xE6>`.
    """
    body = label[6:] if label.startswith("bytes:") else label
    if body and _ESCAPED_BYTES.match(body):
        return bytes(int(body[i + 2 : i + 4], 16) for i in range(0, len(body), 4))
    m = _BYTE_TOKEN.match(label)
    if m:
        return bytes([int(m.group(1), 16)])
    return None


def _lead_need(byte: int) -> int:
    """How many continuation bytes a UTF-8 lead byte announces (0 for ASCII and invalid)."""
    if 0xC2 <= byte <= 0xDF:
        return 1
    if 0xE0 <= byte <= 0xEF:
        return 2
    if 0xF0 <= byte <= 0xF4:
        return 3
    return 0


def glyph_groups(pieces: Sequence[bytes]) -> list[range]:
    """Split token indices into runs whose joined bytes end on a character boundary.

    Every index belongs to exactly one range, in order. A run longer than one token means
    its tokens only make whole characters together (a byte-fallback character, or a
    character split across tokens). Invalid bytes never extend a run: a run closes as soon
    as the bytes cannot continue the pending character.
    """
    groups: list[range] = []
    start = 0
    need = 0
    for i, piece in enumerate(pieces):
        if need and piece and not (0x80 <= piece[0] <= 0xBF):
            # The pending character was never finished: close its run before this token.
            groups.append(range(start, i))
            start, need = i, 0
        for byte in piece:
            if need and 0x80 <= byte <= 0xBF:
                need -= 1
            else:
                need = _lead_need(byte)
        if need == 0:
            groups.append(range(start, i + 1))
            start = i + 1
    if start < len(pieces):
        groups.append(range(start, len(pieces)))
    return groups


class TextAssembler:
    """Builds a text from token bytes as they arrive, with each token's character offset.

    The offset of a token is the index, in the decoded text, of the character that holds
    its first byte; a token that continues a split character gets that character's index.
    The text is the bytes decoded as UTF-8 with U+FFFD only where the bytes are invalid.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        # The text so far, grown a piece at a time: a stream reads it after every token.
        # Joining a list of every piece at each read took 270 ms over 10,000 tokens; growing
        # the string (a copy while the trace holds the old one) takes 15 ms.
        self._text = ""

    def add(self, data: bytes) -> int:
        offset = len(self._text)
        piece = self._decoder.decode(data)
        if piece:
            self._text += piece
        return offset

    @property
    def text(self) -> str:
        """The text so far; a character still waiting for bytes is not included."""
        return self._text

    def finish(self) -> str:
        """The whole text; an unfinished character at the end becomes U+FFFD."""
        self._text += self._decoder.decode(b"", final=True)
        return self._text
