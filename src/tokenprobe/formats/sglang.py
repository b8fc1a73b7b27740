"""SGLang's native `/generate` response, with `return_logprob: true`.

Shape read (sgl-project/sglang docs/backend/native_api and sampling_params; the tuples are
built by tokenizer_manager.py `detokenize_logprob_tokens`)::

    {"text": "...", "output_ids": [...],
     "meta_info": {"id": "...", "finish_reason": {"type": "length", "length": 16}
                                               | {"type": "stop", "matched": 2} | null,
                   "prompt_tokens": 5, "completion_tokens": 16,
                   "input_token_logprobs":  [[null, 2, "<bos>"], [-5.1, 651, "The"], ...],
                   "output_token_logprobs": [[-0.51, 12345, " Paris"], ...],
                   "input_top_logprobs":  [null, [[lp, id, text], ...], ...],
                   "output_top_logprobs": [[[lp, id, text], ...], ...]}}

Each entry is [logprob, token id, text]; the text is null unless the request had
`return_text_in_logprobs: true`, and then each token is decoded on its own (a byte-fallback
piece is U+FFFD, fitted to the response text). Input logprobs (`logprob_start_len`) become
`prompt_steps`; the first has logprob null. A batch is a JSON list of such objects (one
trace each); a stream (SSE) repeats the object growing, each event holding everything so
far (or, with `--incremental-streaming-output`, only the new part): events with one
`meta_info.id` are joined into one trace. Which of the two a stream is, its tokens say: the
events are cumulative when each one's `output_token_logprobs` extends the one before.

Values: -inf is written as the float32 minimum (-3.4e38, `clamp(min=finfo.min)`) or
-999999999.0, both read as "not reported". SGLang's logprobs are taken after temperature
scaling (before top-k/top-p) unless the server runs with SGLANG_RETURN_ORIGINAL_LOGPROB, and
are the raw log-softmax for greedy requests; the response does not say which, so
`logprobs_kind` is "unknown" with a note.

It leaves out SGLang's OpenAI-compatible endpoints (read by openai_chat / openai_completions).
"""

from __future__ import annotations

import itertools
from typing import Any

from tokenprobe.errors import FormatError
from tokenprobe.formats.trace_finish import add_note, new_trace, set_finish, settle
from tokenprobe.formats.wire_tokens import Piece, candidate, make_step, token_piece
from tokenprobe.formats.wire_values import (
    clean_text,
    logprob,
    need_dict,
    need_list,
    opt_int,
    opt_list,
    opt_str,
)
from tokenprobe.trace import Candidate, Step, Trace

NAME = "sglang"
KIND = "unknown"
KIND_NOTE = ("SGLang reports logprobs after temperature scaling unless it runs with "
             "SGLANG_RETURN_ORIGINAL_LOGPROB (greedy requests: before); the file does not say")


def matches(doc: Any) -> bool:
    docs = doc if isinstance(doc, list) else [doc]
    return bool(docs) and all(
        isinstance(d, dict) and isinstance(d.get("meta_info"), dict) and "text" in d
        for d in docs)


def parse(doc: Any, file: str | None = None) -> list[Trace]:
    docs = doc if isinstance(doc, list) else [doc]
    groups: dict[Any, list[dict[str, Any]]] = {}
    for n, d in enumerate(docs):
        d = need_dict(d, f"item {n}")
        meta = need_dict(d.get("meta_info"), f"item {n}.meta_info")
        key = meta.get("id") if isinstance(meta.get("id"), str) else n
        groups.setdefault((key, opt_int(d.get("index"))), []).append(d)
    return [_trace(_join(items), file) for items in groups.values()]


def _join(items: list[dict[str, Any]]) -> dict[str, Any]:
    """One object from a stream's events: the last when each holds all so far, else joined.

    The tokens decide, not the text (incremental "ha", "ha", "ha" looks cumulative by its
    text): the events are cumulative only when each one's `output_token_logprobs` is
    longer than the one before and starts with it.
    """
    if len(items) == 1:
        return items[0]
    texts = [opt_str(d.get("text"), "text") or "" for d in items]
    tokens = [opt_list(d["meta_info"].get("output_token_logprobs"), "output_token_logprobs")
              for d in items]
    if all(len(b) > len(a) and b[:len(a)] == a for a, b in itertools.pairwise(tokens)):
        return items[-1]
    meta: dict[str, Any] = dict(items[-1]["meta_info"])
    for key in ("output_token_logprobs", "output_top_logprobs"):
        if all(d["meta_info"].get(key) is None for d in items):
            meta[key] = None  # not asked for: the reading says so
            continue
        meta[key] = [x for d in items for x in opt_list(d["meta_info"].get(key), key)]
    for key in ("input_token_logprobs", "input_top_logprobs"):
        meta[key] = next((d["meta_info"][key] for d in items if d["meta_info"].get(key)), None)
    return {"text": "".join(texts), "meta_info": meta}


def _entry(e: Any, where: str) -> tuple[float | None, int | None, Piece]:
    e = need_list(e, where)
    if len(e) < 3:
        raise FormatError(f"{where} must be [logprob, token id, text]")
    lp, tid, text = e[0], opt_int(e[1]), e[2]
    if text is None:
        raise FormatError(f"{where} has no token text: request with "
                          "return_text_in_logprobs: true")
    if not isinstance(text, str):
        raise FormatError(f"{where}: the token text must be a string")
    return logprob(lp), tid, token_piece(text)


def _steps(tokens: Any, tops: Any, where: str) -> tuple[list[Piece], list[Step]]:
    tokens = opt_list(tokens, f"{where}_token_logprobs")
    tops = opt_list(tops, f"{where}_top_logprobs")
    pieces: list[Piece] = []
    steps: list[Step] = []
    for k, e in enumerate(tokens):
        lp, tid, piece = _entry(e, f"{where}_token_logprobs[{k}]")
        top: list[Candidate] = []
        alts = tops[k] if k < len(tops) else None
        for j, a in enumerate(opt_list(alts, f"{where}_top_logprobs[{k}]")):
            alp, aid, apiece = _entry(a, f"{where}_top_logprobs[{k}][{j}]")
            top.append(candidate(apiece, alp, aid))
        pieces.append(piece)
        steps.append(make_step(piece, lp, tid, top))
    return pieces, steps


def _trace(d: dict[str, Any], file: str | None) -> Trace:
    meta = d["meta_info"]
    text = opt_str(d.get("text"), "text") or ""
    if text and meta.get("output_token_logprobs") is None:
        raise FormatError("the response has text but no output_token_logprobs: request "
                          "with return_logprob: true")
    trace = new_trace(NAME, file, meta.get("model") or d.get("model"), KIND)
    add_note(trace, KIND_NOTE)
    prompt_pieces, trace.prompt_steps = _steps(meta.get("input_token_logprobs"),
                                               meta.get("input_top_logprobs"), "input")
    if trace.prompt_steps:
        trace.prompt_steps[0].logprob = None
    pieces, trace.steps = _steps(meta.get("output_token_logprobs"),
                                 meta.get("output_top_logprobs"), "output")
    fin = meta.get("finish_reason")
    kind = fin.get("type") if isinstance(fin, dict) else fin
    msg = fin.get("message") if isinstance(fin, dict) else None
    if kind == "abort" and isinstance(msg, str) and msg:
        trace.error = f"the server aborted the answer: {clean_text(msg)[:200]}"
    set_finish(trace, kind)
    return settle(trace, pieces, text, prompt_pieces)
