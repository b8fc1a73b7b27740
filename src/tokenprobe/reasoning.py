"""A reasoning model's thinking, kept apart from its answer.

`Reasoning` is the trace's optional `reasoning` block: the thinking's text as the server
reported it, its tokens where the server gave logprobs for them (with the tokens that close
it: a `</think>` tag, whitespace the server dropped), and which parts of the answer had
logprobs. The trace's own `steps` and `text` stay the answer's, so every figure and view
that reads them is about the answer.

`split_point` says how many of a run of tokens belong to the thinking, given the thinking's
and the answer's texts (a whole response, or a stream chunk that carries both);
`PartRouter` routes a stream's chunks to one part or the other; `split_inline` splits a
trace whose text holds the thinking inline between think tags, and `InlineSplitter` splits a
live stream's tokens by the same rule as they come. `ThinkingSteps` is what a backend's step
generator yields for thinking tokens as they arrive (backends/base.TraceStream passes them
on to the consumers that ask for them).

It leaves out reading any server's shapes (formats/, backends/) and all arithmetic over the
numbers (metrics.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tokenprobe.textbytes import TextAssembler
from tokenprobe.trace import Step

# The tags that close a thinking block, as the models write them (DeepSeek-R1, Qwen3,
# QwQ: <think>; Granite and others: <thinking>; Magistral: [THINK]).
OPEN_TAGS = ("<think>", "<thinking>", "[THINK]")
CLOSE_TAGS = ("</think>", "</thinking>", "[/THINK]")

# Where the server put the thinking (the `source` field): documented in docs/servers.md.
SOURCES = ("reasoning_content", "reasoning", "thinking", "responses", "responses_summary",
           "think_tags")


@dataclass
class Reasoning:
    """The thinking of one answer: its text, its tokens and which parts had logprobs.

    `steps` are the thinking's tokens followed by those that close it; `text_steps`
    = (start, end) are the steps whose bytes spell `text` exactly (None when they do not:
    no tokens were reported, or the server trimmed the text). `logprobs_for` names the
    parts ("reasoning", "answer") the server reported logprobs for.
    """

    text: str = ""
    steps: list[Step] = field(default_factory=list)
    source: str = "reasoning_content"
    text_steps: tuple[int, int] | None = None
    logprobs_for: list[str] = field(default_factory=list)

    @property
    def steps_text(self) -> str:
        """The text the thinking's steps spell (tags and dropped whitespace included)."""
        assembler = TextAssembler()
        for s in self.steps:
            assembler.add(s.data)
        return assembler.finish()

    def rebuild_offsets(self) -> None:
        """Each step's offset: its character index in `steps_text`."""
        assembler = TextAssembler()
        for s in self.steps:
            s.offset = assembler.add(s.data)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "source": self.source,
            "logprobs_for": list(self.logprobs_for),
            "text_steps": list(self.text_steps) if self.text_steps is not None else None,
            "steps": [s.to_dict() for s in self.steps],
        }

    @classmethod
    def from_dict(cls, d: Any) -> Reasoning | None:
        if not isinstance(d, dict):
            return None
        span = d.get("text_steps")
        steps = [Step.from_dict(s) for s in d.get("steps") or [] if isinstance(s, dict)]
        text_steps = None
        if isinstance(span, list) and len(span) == 2 and all(isinstance(x, int) for x in span) \
                and 0 <= span[0] <= span[1] <= len(steps):
            text_steps = (span[0], span[1])
        return cls(text=str(d.get("text") or ""), steps=steps,
                   source=str(d.get("source") or "reasoning_content"), text_steps=text_steps,
                   logprobs_for=[str(p) for p in d.get("logprobs_for") or []
                                 if p in ("reasoning", "answer")])


def settle_reasoning(reasoning: Reasoning, answer_steps: list[Step]) -> None:
    """Offsets, the span of steps that spell the text, and which parts had logprobs."""
    reasoning.rebuild_offsets()
    reasoning.text_steps = text_span([s.data for s in reasoning.steps], reasoning.text)
    parts = []
    if any(s.logprob is not None or s.logit is not None for s in reasoning.steps):
        parts.append("reasoning")
    if any(s.logprob is not None or s.logit is not None for s in answer_steps):
        parts.append("answer")
    reasoning.logprobs_for = parts


def text_span(datas: list[bytes], text: str) -> tuple[int, int] | None:
    """(start, end): the first run of tokens whose bytes are exactly `text`'s, or None."""
    want = text.encode("utf-8")
    if not want:
        return None
    bounds = _bounds(datas)
    whole = b"".join(datas)
    index = {pos: k for k, pos in enumerate(bounds)}
    for i, pos in enumerate(bounds[:-1]):
        if whole.startswith(want, pos) and (pos + len(want)) in index:
            return i, index[pos + len(want)]
    return None


def _bounds(datas: list[bytes]) -> list[int]:
    out = [0]
    for d in datas:
        out.append(out[-1] + len(d))
    return out


def split_point(datas: list[bytes], answer: str) -> int | None:
    """How many leading tokens are the thinking's (and its closing tags'): the answer is the
    shortest run of trailing tokens whose bytes start with the answer's text (equal to it,
    or going on past a stop string the server cut). None when no run does."""
    want = answer.encode("utf-8")
    if not want:
        return len(datas)
    bounds = _bounds(datas)
    whole = b"".join(datas)
    for k in range(len(datas) - 1, -1, -1):
        if len(whole) - bounds[k] >= len(want) and whole.startswith(want, bounds[k]):
            return k
    return None


@dataclass
class Part:
    """What a chunk gave one part: its pieces (formats/wire_tokens.Piece), steps and text."""

    pieces: list[Any] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    text: str = ""


class PartRouter:
    """A stream's chunks into the thinking's tokens and the answer's.

    A chunk whose text is thinking gives its tokens to the thinking, one whose text is the
    answer to the answer. Tokens of a chunk with no text (a tag the server's parser
    swallowed, a character's first bytes) wait for the next chunk with text: thinking takes
    them; the answer takes those among them that spell the start of its text, and the rest
    (the closing tag) stay with the thinking. A chunk with both texts is split by
    `split_point`. Before any thinking arrived, every token is the answer's, as without a
    reasoning model.
    """

    def __init__(self) -> None:
        self.thinking_seen = False
        self.answer_seen = False
        self._pending = Part()

    def route(self, pieces: list[Any], steps: list[Step], thinking: str,
              answer: str) -> tuple[Part, Part]:
        if self.answer_seen:  # thinking text after the answer began has no tokens here
            return Part(text=thinking), Part(pieces, steps, answer)
        self.thinking_seen = self.thinking_seen or bool(thinking)
        held, self._pending = self._pending, Part()
        all_pieces, all_steps = held.pieces + pieces, held.steps + steps
        if not answer:
            if not thinking:  # no text: wait for the next chunk that has some
                self._pending = Part(all_pieces, all_steps)
                return Part(), Part()
            return Part(all_pieces, all_steps, thinking), Part()
        self.answer_seen = True
        if not self.thinking_seen:
            return Part(), Part(all_pieces, all_steps, answer)
        k = split_point([p.data for p in all_pieces], answer)
        if k is None:  # nothing spells the answer: the tokens go with the text they came in
            k = 0 if not thinking else len(all_pieces)
        return (Part(all_pieces[:k], all_steps[:k], thinking),
                Part(all_pieces[k:], all_steps[k:], answer))

    def flush(self) -> tuple[Part, Part]:
        """At the end: tokens still waiting go to the part that was being written."""
        held, self._pending = self._pending, Part()
        if self.thinking_seen and not self.answer_seen:
            return held, Part()
        return Part(), held


def split_inline(datas: list[bytes]) -> tuple[int, int, int] | None:
    """(open_end, close_start, close_end) token indices of a thinking block inline in the
    text: the text starts (after whitespace) with an opening tag whose tokens end at
    `open_end`, and the closing tag's tokens run from `close_start` to `close_end` (with
    the whitespace tokens after it). None when the text has no such block, or its tags do
    not fall on token boundaries. A text that is only an opened block has close_start =
    close_end = the number of tokens."""
    whole = b"".join(datas)
    bounds = _bounds(datas)
    at = set(bounds)
    lead = len(whole) - len(whole.lstrip())
    for open_tag, close_tag in zip(OPEN_TAGS, CLOSE_TAGS):
        o, c = open_tag.encode(), close_tag.encode()
        if not whole.startswith(o, lead) or (lead + len(o)) not in at:
            continue
        open_end = bounds.index(lead + len(o))
        pos = whole.find(c, lead + len(o))
        if pos < 0:
            return open_end, len(datas), len(datas)
        end = pos + len(c)
        if pos not in at or end not in at:
            return None
        close_start, close_end = bounds.index(pos), bounds.index(end)
        while close_end < len(datas) and datas[close_end] and not datas[close_end].strip():
            close_end += 1
        return open_end, close_start, close_end
    return None


# The note a trace split at inline think tags carries in `source["note"]`.
INLINE_NOTE = ("the thinking was inline between think tags: it is kept apart from the answer, "
               "split at the tags' tokens")


@dataclass
class ThinkingSteps:
    """Thinking tokens as they arrive in a stream (already in `Trace.reasoning`), for a
    consumer that shows them live. `reset`: the tokens shown as thinking so far were not
    (inline tags that do not fall on token boundaries): they follow as the answer's."""

    steps: list[Step]
    reset: bool = False


@dataclass
class Routed:
    """What one step (or the end of the stream) gave each part."""

    thinking: list[Step] = field(default_factory=list)
    answer: list[Step] = field(default_factory=list)
    undo: bool = False  # the steps given to the thinking so far are the answer's after all


class InlineSplitter:
    """A live stream's steps into the thinking and the answer by inline think tags, with the
    very result `split_inline` gives the whole list: steps are held while the text's start
    could still be an opening tag; after one (on token boundaries) they are the thinking's
    up to the closing tag's tokens and the whitespace tokens after it; the rest is the
    answer. A closing tag that does not fall on token boundaries undoes the split."""

    def __init__(self) -> None:
        self.state = "start"  # start | thinking | after | answer
        self.held: list[Step] = []
        self.thinking: list[Step] = []
        self.data = bytearray()
        self.bounds: list[int] = [0]
        self.close = b""
        self.open_end = 0
        self.close_start: int | None = None

    def add(self, step: Step) -> Routed:
        if self.state == "answer":
            return Routed(answer=[step])
        if self.state == "after":
            if step.data and not step.data.strip():
                self.thinking.append(step)
                return Routed(thinking=[step])
            self.state = "answer"
            return Routed(answer=[step])
        if self.state == "thinking":
            return self._think(step)
        self.held.append(step)
        return self._open()

    def _open(self) -> Routed:
        datas = [s.data for s in self.held]
        whole = b"".join(datas)
        rest = whole.lstrip()
        lead = len(whole) - len(rest)
        bounds = _bounds(datas)
        for open_tag, close_tag in zip(OPEN_TAGS, CLOSE_TAGS):
            o = open_tag.encode()
            if rest.startswith(o):
                if lead + len(o) not in bounds:
                    break  # a tag not on token boundaries: the text is all answer
                self.state, self.close = "thinking", close_tag.encode()
                self.open_end = bounds.index(lead + len(o))
                held, self.held = self.held, []
                self.thinking, self.data, self.bounds = [], bytearray(), [0]
                for s in held:
                    self._grow(s)
                return self._closed(Routed(thinking=held), lead + len(o))
            if not rest or o.startswith(rest):
                return Routed()  # it may still become an opening tag
        self.state = "answer"
        held, self.held = self.held, []
        return Routed(answer=held)

    def _grow(self, step: Step) -> None:
        self.thinking.append(step)
        self.data += step.data
        self.bounds.append(len(self.data))

    def _think(self, step: Step) -> Routed:
        before = len(self.data)
        self._grow(step)
        return self._closed(Routed(thinking=[step]),
                            max(self.bounds[self.open_end], before - len(self.close) + 1))

    def _closed(self, routed: Routed, search_from: int) -> Routed:
        """Whether the closing tag is now in the thinking's bytes, and on token bounds."""
        pos = bytes(self.data).find(self.close, search_from)
        if pos < 0:
            return routed
        end = pos + len(self.close)
        if pos not in self.bounds or end not in self.bounds:
            self.state = "answer"
            steps, self.thinking = self.thinking, []
            return Routed(answer=steps, undo=True)
        self.close_start = self.bounds.index(pos)
        self.state = "after"
        # Whitespace-only tokens already here after the tag close the thinking too; a
        # token after them is the answer's (split_inline's rule).
        k = self.bounds.index(end)
        while k < len(self.thinking) and self.thinking[k].data and \
                not self.thinking[k].data.strip():
            k += 1
        if k < len(self.thinking):
            self.state = "answer"
            rest = self.thinking[k:]
            self.thinking = self.thinking[:k]
            routed.thinking = [s for s in routed.thinking if not any(s is r for r in rest)]
            routed.answer = rest
        return routed

    def finish(self) -> Routed:
        """At the end: steps still held are the answer's (no opening tag was completed)."""
        held, self.held = self.held, []
        if self.state == "start":
            self.state = "answer"
        return Routed(answer=held)

    def reasoning(self) -> Reasoning | None:
        """The thinking's block (text between the tags, its steps), or None when the text
        had no thinking block."""
        if not self.thinking:
            return None
        end = self.close_start if self.close_start is not None else len(self.thinking)
        inside = TextAssembler()
        for s in self.thinking[self.open_end:end]:
            inside.add(s.data)
        return Reasoning(text=inside.finish(), steps=list(self.thinking), source="think_tags")
