"""The rules that split tokens between the thinking and the answer (reasoning.py), on
hand-made token runs: each case says which tokens must land where."""

from __future__ import annotations

from tokenprobe.formats.wire_tokens import Piece
from tokenprobe.reasoning import PartRouter, split_inline, split_point, text_span
from tokenprobe.trace import Step


def run(*labels: str) -> tuple[list[Piece], list[Step]]:
    return ([Piece(x, x.encode()) for x in labels], [Step(x, -0.1) for x in labels])


def route_all(chunks: list[tuple[tuple[str, ...], str, str]]) -> tuple[list[str], list[str]]:
    router, thinking, answer = PartRouter(), [], []
    for labels, thought, said in chunks:
        t, a = router.route(*run(*labels), thought, said)
        thinking += [s.token for s in t.steps]
        answer += [s.token for s in a.steps]
    t, a = router.flush()
    return thinking + [s.token for s in t.steps], answer + [s.token for s in a.steps]


def test_a_plain_stream_is_all_answer() -> None:
    # A first chunk without text (a character's first bytes) waits, then joins the answer.
    assert route_all([(("\xe6",), "", ""), (("x", "y"), "", "xy")]) == ([], ["\xe6", "x", "y"])


def test_tokens_without_text_between_the_parts() -> None:
    thinking, answer = route_all([(("a",), "a", ""), (("</think>", "\n\n"), "", ""),
                                  (("b",), "", "b")])
    assert thinking == ["a", "</think>", "\n\n"] and answer == ["b"]


def test_a_character_split_at_the_start_of_the_answer_stays_with_the_answer() -> None:
    # "é" in two byte tokens: the first comes in a chunk without text, as the tag does.
    router = PartRouter()
    router.route(*run("a"), "a", "")
    router.route(*run("</think>"), "", "")
    first = ([Piece("\\xc3", b"\xc3")], [Step("\\xc3", -0.1, bytes=b"\xc3")])
    router.route(*first, "", "")
    second = ([Piece("\\xa9", b"\xa9")], [Step("\\xa9", -0.1, bytes=b"\xa9")])
    thinking, answer = router.route(*second, "", "\u00e9")
    assert [s.token for s in thinking.steps] == ["</think>"]
    assert [s.data for s in answer.steps] == [b"\xc3", b"\xa9"]


def test_thinking_cut_by_the_length_limit_has_no_answer() -> None:
    assert route_all([(("a",), "a", ""), (("b",), "b", "")]) == (["a", "b"], [])


def test_split_point_and_span() -> None:
    datas = [b"<think>", b"x", b"y", b"</think>", b"\n", b"ok", b"!"]
    assert split_point(datas, "ok!") == 5
    assert split_point(datas, "") == len(datas)
    assert split_point(datas, "nope") is None
    assert text_span(datas[:5], "xy") == (1, 3)
    assert text_span(datas[:5], "x y") is None


def test_split_inline_needs_the_tags_on_token_boundaries() -> None:
    assert split_inline([b"<", b"think", b">", b"a", b"</think>", b" ", b"b"]) == (3, 4, 6)
    assert split_inline([b"<thi", b"nk>a", b"</think>b"]) is None
    assert split_inline([b"a", b"<think>"]) is None  # must open the text
    assert split_inline([b"<think>", b"a"]) == (1, 2, 2)  # opened, never closed
