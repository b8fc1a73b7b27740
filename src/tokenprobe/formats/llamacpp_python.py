"""llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`).

Shape read: OpenAI's chat completion and legacy completion (openai_chat.py,
openai_completions.py), as llama_cpp/llama.py `_create_completion` and
llama_chat_format.py `_convert_text_completion_logprobs_to_chat` write them (recorded
responses in tests/fixtures/llama-cpp-python/). Its dialect:

- Each token is decoded on its own with `errors="ignore"`, so a byte-fallback token (one
  byte of 𠮷) is an empty string, in `tokens`, in chat `token`, and as a key of
  `top_logprobs` (where several such alternatives collapse into one "" entry, so a list
  can be shorter than asked). Chat items carry `bytes: null`. The bytes are rebuilt from
  the response text; `text_offset` (characters of the text before each token, counting
  from the prompt's start without echo) says where each known token starts, which settles
  a fit that the text alone leaves open.
- `top_logprobs` always has the chosen token added (`top_logprob.update(...)`), at the end
  when it was not in the top N: N+1 entries, the extra one dropped
  (`wire_tokens.drop_extra_chosen`), in chat as in completions.
- With echo the BOS token is left out of the echoed tokens but counted in `usage`, and the
  first echoed token has logprob null.
- With `logprobs: 0` each list is the chosen token alone (the one added); when every list
  is just that, the lists are dropped, as they say nothing about rank (with `logprobs: 1`
  and greedy decoding the file looks the same, and then nothing true is lost but the
  claim that each token was the most likely).
- `id` is `cmpl-` or `chatcmpl-` and a UUID, `model` the GGUF path (or its alias): the
  traits by which it is told from other OpenAI-compatible servers.

The logprobs are raw: `Llama.logits_to_logprobs` of the model's scores, before any
sampling settings.

It leaves out the shapes' common reading (openai_chat.py, openai_completions.py).
"""

from __future__ import annotations

import re
from typing import Any

from tokenprobe.formats import openai_chat, openai_completions
from tokenprobe.formats.wire_tokens import Piece, drop_extra_chosen
from tokenprobe.trace import Step, Trace

NAME = "llama-cpp-python"
KIND = "raw"

_UUID_ID = re.compile(r"^(chat)?cmpl-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def matches(doc: Any) -> bool:
    if not (openai_chat.matches(doc) or openai_completions.matches(doc)):
        return False
    first = doc[0] if isinstance(doc, list) else doc
    if not isinstance(first, dict):
        return False
    model = first.get("model")
    return bool(_UUID_ID.match(str(first.get("id", "")))) or (
        isinstance(model, str) and model.lower().endswith(".gguf"))


def _chat_reader(items: Any, where: str) -> tuple[list[Piece], list[Step]]:
    pieces, steps = openai_chat.pieces_and_steps(items, where)
    drop_extra_chosen(steps)
    return pieces, steps


def parse(doc: Any, file: str | None = None) -> list[Trace]:
    if openai_chat.matches(doc):
        traces = openai_chat.parse(doc, file, NAME, reader=_chat_reader)
    else:
        traces = openai_completions.parse(doc, file, NAME)
    for t in traces:
        _drop_self_lists(t.steps)
    return traces


def _drop_self_lists(steps: list[Step]) -> None:
    """With `logprobs: 0` every list is the chosen token alone (added by the server), which
    would claim rank 1 for every token; when every list is just that, nothing was asked."""
    listed = [s for s in steps if s.top]
    if listed and all(len(s.top) == 1 and s.rank() == 1 and s.top[0].logprob == s.logprob
                      for s in listed):
        for s in listed:
            s.top = []
            s.entropy = None
