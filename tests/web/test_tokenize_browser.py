"""The Tokenize page: `GET /api/tokenizers` and `POST /api/tokenize` against the library's
own splits (tokenizers.split), the refusals (a path or unknown id, an empty text), and the
page in a real browser against `tokenprobe serve`: three tokenizers side by side, the
counts, the glyph groups, markup in the text kept as text. The screenshot goes to
artifacts/web-tokenize.png."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.web.asgi import AsgiClient
from tests.web.pages import Page
from tests.web.serve import Served

from tokenprobe.textbytes import token_label
from tokenprobe.tokenizers import split

TEXT = "<script>window.hacked=1</script> 吾輩は猫である。naïve 🐈\tend\n"


async def test_tokenize_api_gives_the_library_splits(client: AsgiClient) -> None:
    listed = (await client.get("/api/tokenizers")).json()["tokenizers"]
    ids = [t["id"] for t in listed]
    assert ids == ["model:embedded", "char", "o200k", "cl100k"]
    r = await client.post("/api/tokenize", {"text": TEXT, "tokenizers": ids})
    assert r.status == 200, r.json()
    body = r.json()
    assert body["bytes"] == len(TEXT.encode("utf-8")) and body["chars"] == len(TEXT)
    for got, name in zip(body["splits"], ["embedded", "char", "o200k", "cl100k"], strict=True):
        ref = split(name, TEXT)
        assert got["ids"] == ref.ids and got["tokens"] == len(ref.pieces)
        assert got["fallback_tokens"] == sum(ref.byte_fallback)
        assert got["split_glyphs"] == ref.split_glyphs
        # Each group's label spells its tokens' bytes; together, the text.
        assert [g["text"] for g in got["display"]] == [
            token_label(b"".join(ref.pieces[i] for i in g)) for g in ref.groups]
        assert "".join(g["text"] for g in got["display"]) == TEXT
    (model,) = (await client.get("/api/models")).json()["models"]
    assert [s["tokenizer"] for s in body["splits"]] == [model["label"], "characters",
                                                        "o200k_base", "cl100k_base"]
    # The cat is several tokens in OpenAI's vocabularies (the first with the space before
    # it): one group, its pieces byte fallback.
    cat = [g for g in body["splits"][3]["display"] if g["text"] == " 🐈"]
    assert len(cat) == 1 and len(cat[0]["ids"]) > 1 and cat[0]["fallback"]

    for bad, why in ([{"text": TEXT, "tokenizers": ["/etc/passwd"]}, "unknown tokenizer"],
                     [{"text": TEXT, "tokenizers": ["own:x.py:model"]}, "unknown tokenizer"],
                     [{"text": "", "tokenizers": ["char"]}, "text"],
                     [{"text": TEXT, "tokenizers": []}, "tokenizers"]):
        r = await client.post("/api/tokenize", bad)
        assert r.status == 422 and why in r.json()["detail"], (bad, r.json())


def test_tokenize_page(open_page: Callable[..., Page], server: Served,
                       artifacts: Path) -> None:
    p = open_page("#/tokenize")
    page = p.page
    page.wait_for_selector("#tok-list input[value=o200k]")
    assert page.eval_on_selector_all("#tok-list input:checked", "xs => xs.map(x => x.value)") \
        == ["model:embedded", "char", "o200k"]
    page.fill("#tok-text", TEXT)
    page.click("#tok-go")
    page.wait_for_selector(".tok-split >> nth=2")
    titles = page.eval_on_selector_all(".tok-split .wa-card-title",
                                       "xs => xs.map(x => x.firstChild.textContent)")
    assert titles[1:] == ["characters", "o200k_base"]
    stats = page.eval_on_selector_all(".tok-stats", "xs => xs.map(x => x.textContent)")
    for s, name in zip(stats, ["embedded", "char", "o200k"], strict=True):
        ref = split(name, TEXT)
        assert s.startswith(f"{len(ref.pieces)} tokens, {ref.n_bytes} bytes, "
                            f"{ref.bytes_per_token:.2f} bytes/token")
        assert f"; {ref.split_glyphs} characters over several tokens" in s
    # The text is drawn as text: the markup is there to read, and nothing ran.
    o200k = page.locator(".tok-split").nth(2)
    shown = o200k.locator(".tok-text").evaluate(
        "t => Array.from(t.querySelectorAll('.tok-piece')).map(x => x.textContent).join('')")
    assert shown.startswith("<script>window.hacked=1</script>·吾輩")
    assert page.evaluate("window.hacked") is None
    assert page.locator("#tok-result script").count() == 0
    # The cat, several tokens in o200k, is one underlined glyph with its count.
    cat = o200k.locator(".tok-glyph", has_text="🐈")
    assert cat.count() == 1 and cat.text_content() == "·🐈"
    n = len(split("o200k", " 🐈").groups[0])
    assert n > 1 and cat.evaluate("x => x.nextSibling.textContent") == f"×{n}"
    assert "tok-fallback" in (cat.get_attribute("class") or "")
    counts = [len(split(n, TEXT).pieces) for n in ("embedded", "char", "o200k")]
    fewest = page.eval_on_selector_all(".tok-split",
                                       "xs => xs.map(x => !!x.querySelector('.wa-sub'))")
    assert fewest == [c == min(counts) for c in counts]
    page.screenshot(path=str(artifacts / "web-tokenize.png"), full_page=True)
    assert o200k.locator(".tok-s0").first.evaluate(
        "x => getComputedStyle(x).backgroundColor") == "rgb(221, 230, 242)"
    page.uncheck("#tok-list input[value='model:embedded']")
    page.uncheck("#tok-list input[value=char]")
    page.uncheck("#tok-list input[value=o200k]")
    page.click("#tok-go")
    page.wait_for_selector("#tok-status.wa-error")
    p.clean()

    # The dark scheme has its own pair of shades.
    dark = open_page("#/tokenize", scheme="dark")
    dark.page.wait_for_selector("#tok-list input[value=o200k]")
    dark.page.click("#tok-go")
    piece = dark.page.locator(".tok-split .tok-s0").first
    assert piece.evaluate("x => getComputedStyle(x).backgroundColor") == "rgb(45, 58, 77)"
    dark.page.screenshot(path=str(artifacts / "web-tokenize-dark.png"), full_page=True)
    dark.clean()
