"""Tokens as a stream delivers them, with their true bytes, released as soon as they are known.

A server's stream gives, per chunk, some text and the logprob entries of some tokens. Most
tokens carry their own bytes (a label, a `bytes` list, a byte spelling) and go out at once.
Some hide them (llama-cpp-python writes an empty string for a byte-fallback token, vLLM
U+FFFD): those wait, with the tokens after them, until the text received so far can be laid
over them (formats/wire_tokens.fit_to_text), which gives their bytes. At the end whatever waits
is fitted once more or released with the bytes its label shows.

It also keeps count of what the server said in text and in tokens, so that a backend can
tell a server that returns no logprobs, or logprobs for only part of its text.

It leaves out reading a chunk's format (formats/openai_chat.py and friends).
"""

from __future__ import annotations

from tokenprobe.formats.wire_tokens import Piece, fit_to_text, name_hidden_chosen
from tokenprobe.textbytes import token_label
from tokenprobe.trace import Step, is_chosen


class LiveFitter:
    """Feed (pieces, steps, text) per chunk; get back the steps that are ready."""

    def __init__(self, alternatives: int | None = None) -> None:
        self.alternatives = alternatives
        self.text: list[str] = []  # the server's text, all chunks
        self.tokens = 0  # logprob entries received
        self.chunks_with_text = 0
        self._pieces: list[Piece] = []
        self._steps: list[Step] = []
        self._pending_text: list[str] = []
        self.emitted = bytearray()  # the bytes of every step released

    @property
    def server_text(self) -> str:
        return "".join(self.text)

    def add(self, pieces: list[Piece], steps: list[Step], text: str) -> list[Step]:
        if text:
            self.text.append(text)
            self.chunks_with_text += 1
        self.tokens += len(steps)
        for s in steps:
            trim_top(s, self.alternatives)
        if not self._pieces and all(p.hidden is None for p in pieces):
            for s in steps:
                self.emitted += s.data
            return steps  # the usual case: nothing hidden, nothing waiting
        self._pieces += pieces
        self._steps += steps
        self._pending_text.append(text)
        return self._release(final=False)

    def finish(self, broken: bool = False) -> list[Step]:
        """Whatever still waits, fitted to the text if it can be, else as labelled.

        At the end of an answer the text is all there: a fit is the best reading. When the
        stream broke part-way (`broken`), the text that would show the hidden bytes never
        came: the tokens are kept all the same, with their fitted bytes only where the text
        received covers them exactly, else with the bytes their labels show."""
        return self._release(final=True, broken=broken)

    def _release(self, final: bool, broken: bool = False) -> list[Step]:
        if not self._pieces:
            return []
        text = "".join(self._pending_text)
        fitted = fit_to_text(self._pieces, text)
        exact = fitted is not None and len(b"".join(fitted)) == len(text.encode("utf-8"))
        if not exact and not final:
            return []
        if broken and not exact:
            fitted = None
        out = self._steps
        for step, piece, data in zip(out, self._pieces, fitted or [p.data for p in self._pieces]):
            if piece.hidden is None:
                continue
            if fitted is not None:
                step.bytes = data
                step.token = token_label(data)
                name_hidden_chosen(step)
        for s in out:
            self.emitted += s.data
        self._pieces, self._steps, self._pending_text = [], [], []
        return out


def trim_top(step: Step, alternatives: int | None) -> None:
    """Servers add the chosen token to a top-N list when it was not in it (N+1 entries);
    that entry would claim a rank it does not have, so a list longer than N loses it."""
    if alternatives is None or len(step.top) <= alternatives:
        return
    extra = [c for c in step.top[alternatives:] if c.logprob == step.logprob
             and is_chosen(step, c)]
    if extra:
        step.top = step.top[:alternatives]
