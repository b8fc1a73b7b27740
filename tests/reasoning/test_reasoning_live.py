"""A reasoning model's thinking live: the stream passes the thinking's tokens on as they
come (TraceStream.events), and a server that leaves the thinking inline in the text (no
reasoning parser) gets it split at the think tags' tokens as they stream, with the very
result the importers give the whole answer (reasoning.split_inline)."""

from __future__ import annotations

from collections.abc import Generator

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.reasoning.test_reasoning_server import MESSAGES

from tokenprobe.backends import Backend, BackendOptions
from tokenprobe.backends.openai import OpenAIBackend
from tokenprobe.reasoning import InlineSplitter, ThinkingSteps, split_inline
from tokenprobe.textbytes import token_label
from tokenprobe.trace import Request, Step, Trace

PIECES = ["<", "think", ">", "<think>", "</", "</think>", "</think>\n", "\n", " ", "\n\n",
          "a", "b c", "", "<thinking>", "</thinking>", "[THINK]", "[/THINK]", "<th", "ink>",
          "x</think>", "<think>y", "é"]


def _whole(datas: list[bytes]) -> tuple[list[int], list[int], str | None]:
    """(thinking indices, answer indices, thinking text) as split_inline gives them."""
    where = split_inline(datas)
    if where is None:
        return [], list(range(len(datas))), None
    open_end, close_start, close_end = where
    text = b"".join(datas[open_end:close_start]).decode("utf-8", "replace")
    return list(range(close_end)), list(range(close_end, len(datas))), text


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=12))
def test_live_split_is_the_whole_split(pieces: list[str]) -> None:
    datas = [p.encode() for p in pieces]
    steps = [Step(token=token_label(d), logprob=-1.0, bytes=d) for d in datas]
    index = {id(s): i for i, s in enumerate(steps)}
    splitter = InlineSplitter()
    thinking: list[int] = []
    answer: list[int] = []
    for s in steps:
        routed = splitter.add(s)
        if routed.undo:
            thinking = []
        thinking += [index[id(x)] for x in routed.thinking]
        answer += [index[id(x)] for x in routed.answer]
    answer += [index[id(x)] for x in splitter.finish().answer]
    want_t, want_a, text = _whole(datas)
    assert (thinking, answer) == (want_t, want_a)
    found = splitter.reasoning()
    assert (found.text if found is not None else None) == text


class Inline(Backend):
    """A server that leaves the thinking inline: its tokens as given."""

    name = "openai"
    model = "m"

    def __init__(self, datas: list[bytes]) -> None:
        self.datas = datas

    def inline_thinking(self, request: Request) -> bool:
        return True

    def generate_steps(self, request: Request, trace: Trace) -> Generator[Step, None, str | None]:
        for d in self.datas:
            yield Step(token=token_label(d), bytes=d, logprob=-0.5)
        return "stop"


def test_stream_splits_inline_tags_and_passes_the_thinking_on() -> None:
    datas = [b"<", b"think", b">", b"Let", b" me", b" see", b"</", b"think", b">", b"\n\n",
             b"Paris", b"."]
    stream = Inline(datas).stream(Request(mode="chat", messages=[{"role": "user",
                                                                   "content": "q"}]))
    events = list(stream.events())
    trace = stream.trace
    thought = [s for e in events if isinstance(e, ThinkingSteps) for s in e.steps]
    answer = [e for e in events if isinstance(e, Step)]
    assert [s.data for s in thought] == datas[:10]
    assert [s.data for s in answer] == datas[10:] and trace.text == "Paris."
    assert trace.reasoning is not None and trace.reasoning.text == "Let me see"
    assert trace.reasoning.source == "think_tags" and trace.reasoning.text_steps == (3, 6)
    assert [s.offset for s in trace.steps] == [0, 5]
    assert "inline between think tags" in trace.source["note"]
    # Iterating gives the answer's steps only, as before.
    plain = Inline(datas).stream(Request(mode="chat", messages=[{"role": "user",
                                                                 "content": "q"}]))
    assert [s.data for s in plain] == datas[10:]


def test_text_without_tags_streams_at_once() -> None:
    stream = Inline([b"Paris", b" <think>"]).stream(
        Request(mode="chat", messages=[{"role": "user", "content": "q"}]))
    events = stream.events()
    first = next(events)
    assert isinstance(first, Step) and first.data == b"Paris"  # nothing held back
    assert [e.data for e in events if isinstance(e, Step)] == [b" <think>"]
    assert stream.trace.reasoning is None and stream.trace.text == "Paris <think>"


def _backend(base: str, stream: bool) -> OpenAIBackend:
    backend = OpenAIBackend.from_spec("gemma", BackendOptions(
        base_url=f"{base}/v1", extra_body={"repeat_penalty": 1.0}))
    backend.use_stream = stream
    return backend


REQUEST = Request(mode="chat", messages=MESSAGES, temperature=0.0, max_tokens=24,
                  alternatives=3)


def test_parsed_thinking_is_passed_on_live(thinking_server: str) -> None:
    s = _backend(thinking_server, True).stream(REQUEST)
    events = list(s.events())
    trace = s.trace
    assert trace.reasoning is not None and trace.reasoning.source == "reasoning_content"
    shown = [x for e in events if isinstance(e, ThinkingSteps) for x in e.steps]
    assert shown and shown == trace.reasoning.steps
    # The thinking's batches come before the answer's first step.
    first = next(i for i, e in enumerate(events) if isinstance(e, Step))
    assert isinstance(events[0], ThinkingSteps) and first > 0
