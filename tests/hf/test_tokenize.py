"""`tokenprobe tokenize`: each tokenizer's pieces spell the text's bytes exactly, the glyph
groups join a character's pieces, OpenAI's vocabularies give their published ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tokenprobe.errors import InputError
from tokenprobe.tokenizers import split

TEXT = "吾輩は猫である。Hello world 🐈\tnaïve\n"


@pytest.mark.parametrize("name", ["char", "o200k", "cl100k", "embedded"])
def test_pieces_spell_the_text(name: str) -> None:
    s = split(name, TEXT)
    assert b"".join(s.pieces) == TEXT.encode("utf-8")
    assert len(s.ids) == len(s.pieces) and s.n_bytes == len(TEXT.encode("utf-8"))
    for g in s.groups:  # every glyph group is whole UTF-8
        b"".join(s.pieces[i] for i in g).decode("utf-8")
    if name == "char":
        assert len(s.pieces) == len(TEXT) and s.split_glyphs == 0


def test_openai_vocabularies_give_their_ids() -> None:
    # Published ids (tiktoken's own documentation and test suite).
    assert split("cl100k", "hello world").ids == [15339, 1917]
    assert split("o200k", "Hello world").ids == [13225, 2375]
    cat = split("cl100k", "🐈")
    assert len(cat.pieces) > 1 and cat.groups == [range(0, len(cat.pieces))]
    assert all(cat.byte_fallback)


def test_hf_directory_tokenizer(tiny_gpt2_dir: Path) -> None:
    s = split(f"hf:{tiny_gpt2_dir}", TEXT)
    assert b"".join(s.pieces) == TEXT.encode("utf-8")


def test_command_line(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(["tokenize", TEXT, "-k", "char", "-k", "cl100k"])
    assert r.code == 0, r.stderr
    assert "char: 28 tokens" in r.stdout and "cl100k_base:" in r.stdout
    assert "🐈×" in r.stdout  # the cat's pieces shown as one glyph with their count
    r = cli(["tokenize", "<script>", "-k", "o200k", "--json"])
    doc = json.loads(r.stdout)
    assert b"".join(bytes(p) for p in doc[0]["pieces"]) == b"<script>"
    r = cli(["tokenize", "x", "-k", "nope"])
    assert r.code != 0 and "unknown tokenizer" in r.stderr and "Traceback" not in r.stderr
    with pytest.raises(InputError):
        split("char", "")


def test_html_page(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """--html: a self-contained page, no script, every piece of model text escaped."""
    from html.parser import HTMLParser

    evil = "<script>alert(1)</script> 吾輩は猫 &amp;"
    page = tmp_path / "split.html"
    r = cli(["tokenize", evil, "-k", "char", "-k", "o200k", "--html", str(page)])
    assert r.code == 0, r.stderr
    doc = page.read_text("utf-8")
    tags: list[str] = []
    texts: list[str] = []

    class Reader(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            tags.append(tag)

        def handle_data(self, data: str) -> None:
            texts.append(data)

    Reader().feed(doc)
    assert "script" not in tags and "img" not in tags
    assert "default-src 'none'" in doc
    shown = "".join(texts)
    # The char tokenizer's line spells the text back, spaces drawn as middle dots.
    assert evil.replace(" ", "\u00b7") in shown
    assert f"{len(evil)} tokens" in shown and "o200k" in shown
    r = cli(["tokenize", "x", "-k", "char", "--html", str(tmp_path / "no" / "dir" / "f")])
    assert r.code == 0  # its folder is made
