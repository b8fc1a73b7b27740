"""The `tokenize` command: how several tokenizers split the same text, side by side.

Each tokenizer's line gives the token count, bytes per token, how many characters are
spelled over several tokens and how many tokens are byte-fallback fragments; then the text
with every token on its own shade. A character split over tokens is shown once, as its
glyph, underlined and marked with the count of its tokens (the viewer's glyph grouping);
spaces, tabs and newlines are drawn visibly. `--json` prints the splits as data; `--html
FILE` writes the same as one self-contained page (no script at all, every piece of text
escaped, a Content-Security-Policy that loads nothing).

It leaves out the tokenizers themselves (tokenizers.py).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from tokenprobe.cli.app import (
    app,
    err,
    fail,
    out,
)
from tokenprobe.errors import TokenprobeError
from tokenprobe.textbytes import token_label
from tokenprobe.tokenizers import Split, split
from tokenprobe.trace import write_atomic

_SHADES = ("on grey23", "on grey39")
_VISIBLE = str.maketrans({" ": "·", "\t": "→", "\n": "↵\n"})


def render(s: Split) -> Text:
    """One tokenizer's split: a summary line, then the text token by token."""
    bpt = s.bytes_per_token
    frag = sum(s.byte_fallback)
    line = Text(f"{s.name}: ", style="bold")
    line.append(f"{len(s.pieces)} tokens, {s.n_bytes} bytes, "
                f"{bpt:.2f} bytes/token" if bpt is not None else "0 tokens")
    if s.vocab_size:
        line.append(f", vocabulary {s.vocab_size:,}")
    line.append(f"; {s.split_glyphs} characters over several tokens, "
                f"{frag} tokens holding part of a character (byte fallback)\n")
    for k, g in enumerate(s.groups):
        data = b"".join(s.pieces[i] for i in g)
        label = token_label(data).translate(_VISIBLE)
        style = _SHADES[k % 2]
        if len(g) > 1:
            line.append(label, style=f"{style} underline")
            line.append(f"×{len(g)}", style="dim")
        else:
            line.append(label or "∅", style=style)
    return line


_PAGE_CSS = """
body{font:15px/1.5 system-ui,sans-serif;margin:2em;color:#222;background:#fafaf7}
h1{font-size:1.3em} h2{font-size:1.05em;margin:1.4em 0 .2em}
.stats{color:#555;margin:0 0 .4em}
.text{white-space:pre-wrap;overflow-wrap:anywhere;font-family:ui-monospace,monospace}
.p{padding:1px 0;border-radius:2px} .s0{background:#dde6f2} .s1{background:#f2e4cc}
.g{text-decoration:underline} .n{color:#888;font-size:.75em;vertical-align:super}
@media (prefers-color-scheme:dark){body{color:#ddd;background:#1c1c1c}
.s0{background:#2d3a4d}.s1{background:#4a3d26}.stats{color:#aaa}}
"""


def render_html(splits: list[Split], text: str) -> str:
    """The splits as one self-contained page: every piece of text escaped, no script."""
    esc = html.escape
    parts = [
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">",
        f"<title>{esc(_short(text))} · tokenprobe tokenize</title><style>{_PAGE_CSS}</style>",
        "</head><body><h1>How tokenizers split the same text</h1>",
        f"<p class=\"stats\">{len(text.encode('utf-8')):,} bytes, {len(text):,} characters. "
        "Each token on its own shade; a character spelled over several tokens is shown once, "
        "underlined, with the count of its tokens; spaces, tabs and newlines drawn as "
        "\u00b7 \u2192 \u21b5.</p>",
    ]
    for s in splits:
        bpt = s.bytes_per_token
        stats = (f"{len(s.pieces):,} tokens, {s.n_bytes:,} bytes, {bpt:.2f} bytes/token"
                 if bpt is not None else "0 tokens")
        if s.vocab_size:
            stats += f", vocabulary {s.vocab_size:,}"
        stats += (f"; {s.split_glyphs} characters over several tokens, "
                  f"{sum(s.byte_fallback)} tokens holding part of a character (byte fallback)")
        parts.append(f"<h2>{esc(s.name)}</h2><p class=\"stats\">{esc(stats)}</p>"
                     "<div class=\"text\">")
        for k, g in enumerate(s.groups):
            data = b"".join(s.pieces[i] for i in g)
            label = token_label(data).translate(_VISIBLE) or "\u2205"
            ids = ", ".join(str(s.ids[i]) for i in g)
            cls = f"p s{k % 2}" + (" g" if len(g) > 1 else "")
            count = f"<span class=\"n\">\u00d7{len(g)}</span>" if len(g) > 1 else ""
            parts.append(f"<span class=\"{cls}\" title=\"{esc('id ' + ids)}\">"
                         f"{esc(label)}</span>{count}")
        parts.append("</div>")
    parts.append("</body></html>\n")
    return "".join(parts)


def _short(text: str, n: int = 50) -> str:
    text = text.strip().replace("\n", " ")
    return text if len(text) <= n else text[: n - 1] + "\u2026"


@app.command()
def tokenize(
    text: Annotated[str, typer.Argument(help="the text to split")],
    tokenizer: Annotated[list[str] | None, typer.Option(
        "--tokenizer", "-k", help="repeatable: embedded, PATH.gguf, hf:DIR, "
        "own:FILE.py:NAME, char, o200k, cl100k")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the splits as JSON")] = False,
    html_out: Annotated[Path | None, typer.Option(
        "--html", help="also write the splits as a self-contained HTML page")] = None,
) -> None:
    """Show how tokenizers split the same text: counts, bytes per token, byte fallback."""
    names = tokenizer or ["embedded"]
    try:
        splits = [split(n, text) for n in names]
    except TokenprobeError as e:
        fail(str(e), e.exit_code)
    if html_out is not None:
        try:
            write_atomic(html_out, render_html(splits, text))
        except OSError as e:
            fail(f"cannot write {html_out}: {e.strerror or e}")
        err.print(f"wrote {html_out}", markup=False)
    if as_json:
        out.print(json.dumps([s.to_dict() for s in splits], ensure_ascii=False),
                  markup=False, highlight=False, soft_wrap=True)
        return
    for s in splits:
        out.print(render(s))
    if len(splits) > 1:
        least = min(splits, key=lambda s: len(s.pieces))
        err.print(f"fewest tokens: {least.name} ({len(least.pieces)})", markup=False)
