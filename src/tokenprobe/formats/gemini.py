"""Google Gemini `generateContent` (Gemini API and Vertex AI), with `responseLogprobs: true`.

Shape read (Gemini API reference, GenerateContentResponse / Candidate / LogprobsResult;
Vertex AI `LogprobsResult` proto; google-genai SDK types)::

    {"candidates": [{"index": 0,
                     "content": {"role": "model", "parts": [{"text": "..."}, ...]},
                     "finishReason": "STOP" | "MAX_TOKENS" | "SAFETY" | ...,
                     "avgLogprobs": -0.12,
                     "logprobsResult": {
                       "chosenCandidates": [{"token": "...", "tokenId": 1, "logProbability": -0.1}],
                       "topCandidates": [{"candidates": [{"token": "...", "tokenId": 2,
                                                          "logProbability": -0.1}, ...]}]}}],
     "modelVersion": "gemini-2.0-flash", "usageMetadata": {...}}

`chosenCandidates` has one entry per decoding step, `topCandidates` the `logprobs: N`
alternatives of the same step ("the chosen candidate may or may not be in
topCandidates"). A streamed answer (SSE with `alt=sse`, or the JSON array that the
non-SSE stream returns) is a list of such responses, each with the next piece of text and
its steps; they are joined per candidate index. The google-genai SDK's `model_dump()`
writes the same fields in snake_case (`logprobs_result`, `chosen_candidates`,
`log_probability`, `token_id`): both spellings are read.

Values: the JSON is protobuf's JSON mapping, which leaves out fields holding their default
value, so a missing `logProbability` is 0.0 (probability 1) and a missing `token` is "",
not "not reported". Parts marked `thought: true` are not in the text. Google does not
document whether the logprobs are taken before or after temperature, so `logprobs_kind` is
"unknown". A candidate with text and no `logprobsResult` is refused (ask with
`responseLogprobs: true`).

It leaves out Gemini's OpenAI-compatible endpoint (openai_chat.py reads it).
"""

from __future__ import annotations

from typing import Any

from tokenprobe.errors import FormatError
from tokenprobe.formats.trace_finish import add_note, new_trace, set_finish, settle
from tokenprobe.formats.wire_tokens import Piece, candidate, make_step, token_piece
from tokenprobe.formats.wire_values import documents, logprob, need_dict, opt_int, opt_list, opt_str
from tokenprobe.trace import Step, Trace

NAME = "gemini"
KIND = "unknown"


def _get(d: dict[str, Any], camel: str, snake: str) -> Any:
    return d[camel] if camel in d else d.get(snake)


def matches(doc: Any) -> bool:
    docs = doc if isinstance(doc, list) else [doc]
    return bool(docs) and all(_is_response(d) for d in docs)


def _is_response(d: Any) -> bool:
    if not isinstance(d, dict) or "choices" in d or "meta_info" in d:
        return False
    cands = d.get("candidates")
    if isinstance(cands, list):
        return all(isinstance(c, dict) and ("content" in c or "finishReason" in c
                                            or "finish_reason" in c) for c in cands)
    # A stream's last chunk may carry only usage metadata.
    return cands is None and ("usageMetadata" in d or "usage_metadata" in d) and (
        "modelVersion" in d or "model_version" in d)


class _Cand:
    def __init__(self) -> None:
        self.text: list[str] = []
        self.chosen: list[Any] = []
        self.top: list[Any] = []
        self.seen = False
        self.finish: Any = None


def parse(doc: Any, file: str | None = None) -> list[Trace]:
    model: Any = None
    gathered: dict[int, _Cand] = {}
    for where, d in documents(doc):
        model = model or _get(d, "modelVersion", "model_version")
        for k, c in enumerate(opt_list(d.get("candidates"), f"{where}.candidates")):
            c = need_dict(c, f"{where}.candidates[{k}]")
            index = opt_int(c.get("index"))
            g = gathered.setdefault(index if index is not None else k, _Cand())
            content = c.get("content")
            parts = need_dict(content, f"{where}.candidates[{k}].content").get("parts") \
                if content is not None else None
            for j, part in enumerate(opt_list(parts, f"{where}.candidates[{k}].parts")):
                part = need_dict(part, f"{where}.candidates[{k}].parts[{j}]")
                if part.get("thought") is True:
                    continue
                g.text.append(opt_str(part.get("text"), f"{where}.candidates[{k}].parts[{j}]"
                                                        ".text") or "")
            res = _get(c, "logprobsResult", "logprobs_result")
            if res is not None:
                res = need_dict(res, f"{where}.candidates[{k}].logprobsResult")
                g.seen = True
                chosen = opt_list(_get(res, "chosenCandidates", "chosen_candidates"),
                                  f"{where}.candidates[{k}].logprobsResult.chosenCandidates")
                top = opt_list(_get(res, "topCandidates", "top_candidates"),
                               f"{where}.candidates[{k}].logprobsResult.topCandidates")
                g.chosen += chosen
                # topCandidates runs alongside chosenCandidates; keep them aligned per chunk.
                g.top += (top + [None] * len(chosen))[:len(chosen)]
            fin = _get(c, "finishReason", "finish_reason")
            if fin is not None:
                g.finish = fin
    if not gathered:
        raise FormatError("the response has no candidates")
    return [_trace(gathered[i], i, model, file) for i in sorted(gathered)]


def _cand(c: Any, where: str) -> tuple[Piece, float | None, int | None]:
    c = need_dict(c, where)
    label = opt_str(c.get("token"), f"{where}.token") or ""
    lp_raw = _get(c, "logProbability", "log_probability")
    lp = 0.0 if lp_raw is None else logprob(lp_raw)  # omitted = protobuf default 0.0
    return token_piece(label), lp, opt_int(_get(c, "tokenId", "token_id"))


def _trace(g: _Cand, index: int, model: Any, file: str | None) -> Trace:
    trace = new_trace(NAME, file, model, KIND, mode="chat")
    trace.source["choice"] = index
    text = "".join(g.text)
    if text and not g.seen:
        raise FormatError(f"candidate {index} has text but no logprobsResult: ask with "
                          "responseLogprobs: true")
    pieces: list[Piece] = []
    steps: list[Step] = []
    for k, item in enumerate(g.chosen):
        piece, lp, tid = _cand(item, f"chosenCandidates[{k}]")
        top = []
        alts = g.top[k]
        if alts is not None:
            alts = need_dict(alts, f"topCandidates[{k}]")
            for j, a in enumerate(opt_list(alts.get("candidates"),
                                           f"topCandidates[{k}].candidates")):
                apiece, alp, aid = _cand(a, f"topCandidates[{k}].candidates[{j}]")
                top.append(candidate(apiece, alp, aid))
        pieces.append(piece)
        steps.append(make_step(piece, lp, tid, top))
    trace.steps = steps
    set_finish(trace, g.finish)
    if g.seen and not steps and text:
        add_note(trace, "the server returned an empty logprobsResult")
    return settle(trace, pieces, text)
