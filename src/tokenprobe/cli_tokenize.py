"""The `tokenize` command: how several tokenizers split the same text, side by side.

Each tokenizer's line gives the token count, bytes per token, how many characters are
spelled over several tokens and how many tokens are byte-fallback fragments; then the text
with every token on its own shade. A character split over tokens is shown once, as its
glyph, underlined and marked with the count of its tokens (the viewer's glyph grouping);
spaces, tabs and newlines are drawn visibly. `--json` prints the splits as data.

It leaves out the tokenizers themselves (tokenizers.py).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.text import Text

from tokenprobe.cli import app, err, fail, out
from tokenprobe.errors import TokenprobeError
from tokenprobe.textbytes import token_label
from tokenprobe.tokenizers import Split, split

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


@app.command()
def tokenize(
    text: Annotated[str, typer.Argument(help="the text to split")],
    tokenizer: Annotated[list[str] | None, typer.Option(
        "--tokenizer", "-k", help="repeatable: embedded, PATH.gguf, hf:DIR, "
        "own:FILE.py:NAME, char, o200k, cl100k")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the splits as JSON")] = False,
) -> None:
    """Show how tokenizers split the same text: counts, bytes per token, byte fallback."""
    names = tokenizer or ["embedded"]
    try:
        splits = [split(n, text) for n in names]
    except TokenprobeError as e:
        fail(str(e), e.exit_code)
    if as_json:
        out.print(json.dumps([s.to_dict() for s in splits], ensure_ascii=False),
                  markup=False, highlight=False, soft_wrap=True)
        return
    for s in splits:
        out.print(render(s))
    if len(splits) > 1:
        least = min(splits, key=lambda s: len(s.pieces))
        err.print(f"fewest tokens: {least.name} ({len(least.pieces)})", markup=False)
