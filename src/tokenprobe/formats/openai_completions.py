"""OpenAI legacy completions (`/v1/completions`): a whole response or its stream chunks.

Shape read (OpenAI API reference, "The completion object", legacy; the same shape from
vLLM, llama-cpp-python and llama.cpp server's `/v1/completions`)::

    {"object": "text_completion", "model": "...",
     "choices": [{"index": 0, "text": "...", "finish_reason": "stop" | "length",
                  "logprobs": {"tokens": ["...", ...],
                               "token_logprobs": [-0.1 | null, ...],
                               "top_logprobs": [{"token": -0.1, ...} | null, ...] | null,
                               "text_offset": [int, ...]} | null}],
     "usage": {"prompt_tokens": int, "completion_tokens": int}}

- `echo: true` puts the prompt's tokens first, the first with logprob null, and the prompt
  in `text`; they become `prompt_steps`. The split comes from `usage` (completion_tokens
  first, as llama-cpp-python drops the BOS token from the echoed tokens but counts it in
  prompt_tokens).
- `logprobs: 0` gives each token's logprob and no alternatives (`top_logprobs` null, or
  lists of empty objects, depending on the server).
- `top_logprobs` maps token text to logprob, so a token can appear once only; the server
  always adds the chosen token, which makes N+1 entries when it was not among the top N
  (OpenAI: "there may be up to logprobs+1 elements"); that extra entry is dropped
  (`wire_tokens.drop_extra_chosen`, which takes N from the request when it is known, else from
  the lists that do not end with their chosen token).
- With echo, vLLM's first token is the control token its tokenizer added (`<bos>`, logprob
  null), which `text` leaves out while `text_offset` counts its characters. A first echoed
  token with a null logprob whose label is a control token's (`<bos>`, `<s>`,
  `<|begin_of_text|>`) and which the text does not start with is that token: a step marked
  `special` with empty bytes, and the offsets after it are moved back by its label's length
  (`engine_special`). Scores are then those of the text as the model saw it, after `<bos>`.
- `text_offset` counts characters from the start of the prompt (OpenAI, llama-cpp-python);
  the trace's offsets count from the start of its own text (docs/architecture.md) and are
  rebuilt from the bytes. `text_offset` is read for one thing: where a run of tokens
  hiding their bytes (llama-cpp-python's empty strings) is followed by a known token that
  the text holds more than once, its offset (made relative to the first token's) says
  which occurrence is that token's, so the hidden run takes the right bytes
  (`Piece.at`, `wire_tokens.fit_to_text`).

The logprobs are raw (softmax of the logits, before temperature).

Left out: chat completions (openai_chat.py); llama-cpp-python's empty-string tokens are read
here through the shared fitting to `text` (llamacpp_python.py only names the format).
"""

from __future__ import annotations

import re
from typing import Any

from tokenprobe.errors import FormatError
from tokenprobe.formats.trace_finish import new_trace, set_finish, settle
from tokenprobe.formats.wire_tokens import (
    ItemsReader,
    Piece,
    alt_candidate,
    drop_extra_chosen,
    make_step,
    token_piece,
    unknown_token_ids,
)
from tokenprobe.formats.wire_values import (
    choices,
    documents,
    need_dict,
    need_list,
    need_str,
    openai_logprob,
    opt_int,
    opt_list,
    opt_str,
)
from tokenprobe.trace import Step, Trace

NAME = "openai.completions"
KIND = "raw"
# A control token's label: <bos>, <s>, <|begin_of_text|>, <|endoftext|>, [CLS] …
_CONTROL = re.compile(r"<\|?[A-Za-z_][A-Za-z0-9_.:-]*\|?>|<s>|\[[A-Z]{2,}\]")

def pieces_and_steps(lp: Any, where: str) -> tuple[list[Piece], list[Step]]:
    lp = need_dict(lp, where)
    tokens = need_list(lp.get("tokens"), f"{where}.tokens")
    lps = opt_list(lp.get("token_logprobs"), f"{where}.token_logprobs")
    tops = opt_list(lp.get("top_logprobs"), f"{where}.top_logprobs")
    offsets = opt_list(lp.get("text_offset"), f"{where}.text_offset")
    base = offsets[0] if offsets and opt_int(offsets[0]) is not None else None
    pieces: list[Piece] = []
    steps: list[Step] = []
    for k, label in enumerate(tokens):
        label = need_str(label, f"{where}.tokens[{k}]")
        if unknown_token_ids(label):
            raise FormatError(f"{where}.tokens[{k}] is a token id only ({label}); tokenprobe "
                              "needs the token text (request without return_tokens_as_token_ids)")
        piece = token_piece(label)
        if base is not None and k < len(offsets) and opt_int(offsets[k]) is not None:
            # Character offsets from the start of the text being read (with echo the
            # first is 0; without, it is the prompt's length).
            piece.at = offsets[k] - base
        top = []
        alts = tops[k] if k < len(tops) else None
        if alts is not None:
            alts = need_dict(alts, f"{where}.top_logprobs[{k}]")
            top = [alt_candidate(t, None, openai_logprob(v)) for t, v in alts.items()]
        pieces.append(piece)
        steps.append(make_step(piece, openai_logprob(lps[k] if k < len(lps) else None), None,
                               top))
    drop_extra_chosen(steps)
    return pieces, steps


def matches(doc: Any) -> bool:
    if isinstance(doc, list):
        return bool(doc) and all(_is_completion(d) for d in doc)
    return _is_completion(doc)


def _is_completion(doc: Any) -> bool:
    if not isinstance(doc, dict):
        return False
    if doc.get("object") == "text_completion":
        return True
    choices = doc.get("choices")
    return (isinstance(choices, list) and bool(choices) and isinstance(choices[0], dict)
            and "text" in choices[0] and "message" not in choices[0])


def parse(doc: Any, file: str | None = None, fmt: str = NAME,
          reader: ItemsReader | None = None) -> list[Trace]:
    """Traces (one per choice) from a completion or the list of its stream chunks.

    `reader` turns a choice's logprobs object into pieces and steps (vllm.py passes its
    own, which knows token ids).
    """
    model, usage, gathered = gather(doc)
    return [build(gathered[i], i, model, usage, file, fmt, reader or pieces_and_steps)
            for i in sorted(gathered)]


def gather(doc: Any) -> tuple[Any, dict[str, Any], dict[int, dict[str, Any]]]:
    """(model, usage, choices by index) from a whole response or its stream chunks."""
    model: Any = None
    usage: dict[str, Any] = {}
    gathered: dict[int, dict[str, Any]] = {}
    for where, d in documents(doc):
        model = model or d.get("model")
        if isinstance(d.get("usage"), dict):
            usage = d["usage"]
        for index, at, ch in choices(d, where):
            g = gathered.setdefault(index, {"text": [], "lp": None, "finish": None,
                                            "seen": False, "raw": []})
            g["raw"].append(ch)
            g["text"].append(opt_str(ch.get("text"), f"{at}.text") or "")
            if ch.get("finish_reason") is not None:
                g["finish"] = ch["finish_reason"]
            if ch.get("logprobs") is not None:
                g["seen"] = True
                lp = need_dict(ch["logprobs"], f"{at}.logprobs")
                g["lp"] = _join(g["lp"], lp)
    if not gathered:
        raise FormatError("the response has no choices")
    return model, usage, gathered


def _join(acc: dict[str, Any] | None, lp: dict[str, Any]) -> dict[str, Any]:
    """Stream chunks each carry the logprobs of their own tokens: concatenate them."""
    if acc is None:
        acc = {"tokens": [], "token_logprobs": [], "top_logprobs": []}
    n = len(need_list(lp.get("tokens"), "logprobs.tokens"))
    acc["tokens"] += lp["tokens"]
    for key in ("token_logprobs", "top_logprobs", "text_offset"):
        values = opt_list(lp.get(key), f"logprobs.{key}")
        acc.setdefault(key, [])
        acc[key] += (values + [None] * n)[:n]
    return acc


def build(g: dict[str, Any], index: int, model: Any, usage: dict[str, Any],
          file: str | None, fmt: str, reader: ItemsReader) -> Trace:
    """One choice's trace; with echo, the prompt's tokens become `prompt_steps`."""
    trace = new_trace(fmt, file, model, KIND)
    trace.source["choice"] = index
    text = "".join(g["text"])
    set_finish(trace, g["finish"])
    if not g["seen"]:
        if text:
            raise FormatError(f"choice {index} has text but no logprobs (logprobs is null): "
                              "the server did not return them; ask with logprobs: N")
        return trace
    pieces, steps = reader(g["lp"], f"choices[{index}].logprobs")
    n_prompt = prompt_count(steps, usage, g["raw"])
    if n_prompt is None:
        trace.steps = steps
        return settle(trace, pieces, text)
    trace.prompt_steps, trace.steps = steps[:n_prompt], steps[n_prompt:]
    if trace.prompt_steps:
        trace.prompt_steps[0].logprob = None
        engine_special(pieces, trace.prompt_steps[0], text)
    return settle(trace, pieces[n_prompt:], text, pieces[:n_prompt], echo=True)


def is_control(label: str) -> bool:
    """Whether a token's label is spelled as a control token (`<bos>`, `<|eot_id|>`, `</s>`'s
    kin, `[INST]`)."""
    return bool(_CONTROL.fullmatch(label))


def engine_special(pieces: list[Piece], first: Step, text: str) -> bool:
    """Mark the first echoed token as the control token the engine added, when it is one.

    vLLM echoes the `<bos>` its tokenizer put before the prompt (logprob null) but leaves it
    out of `text`, and counts its label's characters in `text_offset`. Such a token has no
    bytes of the text: it becomes a `special` step with empty bytes (its label kept), and
    the later tokens' offset hints are moved back by the label's length. Returns whether it
    was one."""
    if not pieces or first.logprob is not None or first.special:
        return False
    label = pieces[0].label
    if not label or pieces[0].hidden is not None or not _CONTROL.fullmatch(label) \
            or text.startswith(label):
        return False
    pieces[0] = Piece(label, b"")
    first.bytes = b""
    first.token = label
    first.special = True
    first.top = []
    first.entropy = None
    for p in pieces[1:]:
        if p.at is not None:
            p.at -= len(label)
    return True


def prompt_count(steps: list[Step], usage: dict[str, Any], raw: list[Any]) -> int | None:
    """How many leading tokens are the echoed prompt, or None without echo: vLLM's
    `prompt_token_ids` (sent with a streamed echo), else the usage counts."""
    if not steps or steps[0].logprob is not None:
        return None  # without echo the first token is generated and has a logprob
    ids = next((c.get("prompt_token_ids") for c in raw if isinstance(c, dict)
                and isinstance(c.get("prompt_token_ids"), list)), None)
    if ids is not None and 0 < len(ids) <= len(steps):
        return len(ids)
    completion = opt_int(usage.get("completion_tokens"))
    if completion is not None and 0 <= completion <= len(steps):
        return len(steps) - completion
    prompt = opt_int(usage.get("prompt_tokens"))
    if prompt is not None and 0 < prompt <= len(steps):
        return prompt
    return None
