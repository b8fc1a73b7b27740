"""Byte labels, byte spellings, glyph grouping and offsets."""

from __future__ import annotations

from tokenprobe.textbytes import TextAssembler, glyph_groups, parse_byte_spelling, token_label


def test_label_never_hides_bytes() -> None:
    assert token_label(b"\xe6\x9b") == "\\xe6\\x9b"
    assert token_label("曇".encode()) == "曇"
    assert "\ufffd" not in token_label(b"\xff")


def test_byte_spellings() -> None:
    assert parse_byte_spelling("bytes:\\xe6\\x9b") == b"\xe6\x9b"
    assert parse_byte_spelling("\\xe6\\x9b") == b"\xe6\x9b"
    assert parse_byte_spelling("<0xE6>") == b"\xe6"
    assert parse_byte_spelling("hello") is None
    assert parse_byte_spelling("bytes:") is None


def test_four_fallback_bytes_make_one_glyph() -> None:
    pieces = [b"\xe3\x81\xae", b"\xf0", b"\xa0", b"\xae", b"\xb7", b"\xe3\x81\xaf"]
    assert [list(g) for g in glyph_groups(pieces)] == [[0], [1, 2, 3, 4], [5]]


def test_character_split_across_tokens() -> None:
    pieces = [b"a\xe6\x9b", b"\x87b"]  # 曇 = e6 9b 87
    assert [list(g) for g in glyph_groups(pieces)] == [[0, 1]]


def test_invalid_bytes_do_not_swallow_neighbours() -> None:
    pieces = [b"\xe6", b"x", b"\xff", b"y", b"\x87"]
    assert [list(g) for g in glyph_groups(pieces)] == [[0], [1], [2], [3], [4]]


def test_unfinished_character_at_end_is_its_own_group() -> None:
    assert [list(g) for g in glyph_groups([b"a", b"\xf0\xa0"])] == [[0], [1]]


def test_text_assembler_offsets() -> None:
    a = TextAssembler()
    offsets = [a.add(b) for b in [b"ab", b"\xe6\x9b", b"\x87", b"c"]]
    assert a.finish() == "ab曇c"
    assert offsets == [0, 2, 2, 3]


def test_text_assembler_cut_character_becomes_replacement() -> None:
    a = TextAssembler()
    a.add(b"x\xe6\x9b")
    assert a.text == "x"
    assert a.finish() == "x\ufffd"
