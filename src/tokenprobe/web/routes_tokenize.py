"""The API's tokenizers side by side: how several tokenizers split the same text.

`GET /api/tokenizers` lists what the page may choose: the tokenizers of the local models
the server offers (the embedded Gemma's, a GGUF's, a transformers directory's, an own
model's), a character tokenizer, and OpenAI's o200k and cl100k where the package that
ships them is installed. `POST /api/tokenize` splits one text with the chosen ones, each
named by an id from that list (never a path: the page cannot make the server read a file
or run one), and answers each split as `tokenprobe tokenize --json` gives it plus the
glyph groups already labelled: each group's text (UTF-8 where valid, `\\xNN` elsewhere),
its token ids and whether it holds byte-fallback pieces. The page puts every label in the
document as text, never as markup.

It leaves out the tokenizers themselves (tokenizers.py) and the drawing
(web/static/tokenize.js).
"""

from __future__ import annotations

import importlib.util
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from tokenprobe.errors import InputError
from tokenprobe.textbytes import token_label
from tokenprobe.tokenizers import Split, split
from tokenprobe.web.registry import ModelEntry
from tokenprobe.web.schemas import Body
from tokenprobe.web.state import AppState, get_state

router = APIRouter(prefix="/api", tags=["data"])
State = Annotated[AppState, Depends(get_state)]

MAX_CHARS = 20_000  # characters of the text (config.BODY_LIMITS bounds its bytes)
MAX_TOKENIZERS = 8
MODEL = "model:"  # a tokenizer id naming a model entry: model:<its id>


class TokenizeIn(Body):
    """A text and the tokenizers (ids from GET /api/tokenizers) to split it with."""

    text: Annotated[str, Field(min_length=1, max_length=MAX_CHARS)]
    tokenizers: list[Annotated[str, Field(max_length=220)]] = Field(
        min_length=1, max_length=MAX_TOKENIZERS)


def _model_name(entry: ModelEntry) -> str | None:
    """The tokenizers.split name of a local model's tokenizer; None for a server's."""
    if not entry.local:
        return None
    if entry.spec is None:
        return "embedded"
    # tokenizers.split takes a local model's spec as it is: PREFIX:REST, or a GGUF path.
    if entry.spec.startswith(f"{entry.prefix}:") or entry.spec.lower().endswith(".gguf"):
        return entry.spec
    return None


def _offered(st: AppState) -> dict[str, tuple[str, str, str]]:
    """id -> (the name tokenizers.split takes, label, note), in the page's order."""
    out: dict[str, tuple[str, str, str]] = {}
    for e in st.registry.list():
        name = _model_name(e)
        if name is not None:
            out[MODEL + e.id] = (name, e.label, "the model's own tokenizer")
    out["char"] = ("char", "characters", "one token per character of the text")
    if importlib.util.find_spec("quicktok") is not None:
        out["o200k"] = ("o200k", "o200k_base", "OpenAI's, GPT-4o")
        out["cl100k"] = ("cl100k", "cl100k_base", "OpenAI's, GPT-4")
    return out


@router.get("/tokenizers")
async def tokenizers(st: State) -> dict[str, Any]:
    return {"tokenizers": [{"id": k, "label": label, "note": note}
                           for k, (_, label, note) in _offered(st).items()]}


def _groups(s: Split) -> list[dict[str, Any]]:
    out = []
    for g in s.groups:
        data = b"".join(s.pieces[i] for i in g)
        out.append({"text": token_label(data), "ids": [s.ids[i] for i in g],
                    "fallback": any(s.byte_fallback[i] for i in g)})
    return out


def _split_all(chosen: list[tuple[str, str]], text: str) -> list[dict[str, Any]]:
    answers = []
    for name, label in chosen:
        s = split(name, text)
        d = s.to_dict()
        del d["pieces"]  # the groups carry the text
        d.update(tokenizer=label, split_glyphs=s.split_glyphs,
                 fallback_tokens=sum(s.byte_fallback), display=_groups(s))
        answers.append(d)
    return answers


@router.post("/tokenize")
async def tokenize(body: TokenizeIn, st: State) -> dict[str, Any]:
    offered = _offered(st)
    chosen = []
    for k in dict.fromkeys(body.tokenizers):
        if k not in offered:
            raise InputError(f"unknown tokenizer {k!r}: choose one GET /api/tokenizers lists")
        chosen.append((offered[k][0], offered[k][1]))
    # Loading a vocabulary reads a file (a GGUF's, a directory's): not on the event loop.
    splits = await run_in_threadpool(_split_all, chosen, body.text)
    return {"chars": len(body.text), "bytes": len(body.text.encode("utf-8")),
            "splits": splits}
