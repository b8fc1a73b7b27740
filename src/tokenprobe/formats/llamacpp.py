"""llama.cpp server's native `/completion`: a whole response, or the list of its stream chunks.

Shapes read (ggml-org/llama.cpp, tools/server/README.md "POST /completion" and the code that
writes them, `completion_token_output::probs_vector_to_json` in tools/server/server-task.cpp):

Current shape (llama.cpp since December 2024, PR #10783)::

    {"content": "...", "stop": true, "model": "...", "stop_type": "eos" | "limit" | "word",
     "stopping_word": "", "generation_settings": {...}, "tokens_predicted": int,
     "completion_probabilities": [ITEM, ...]}
    ITEM = {"id": int, "token": "...", "bytes": [int, ...], "logprob": float,
            "top_logprobs": [{"id": int, "token": "...", "bytes": [...], "logprob": float}]}

  With `post_sampling_probs: true` each `logprob` is a `prob` (0..1) and `top_logprobs` is
  `top_probs`: the distribution after the sampling chain (top-k, top-p, min-p, temperature),
  so the trace's `logprobs_kind` is "processed"; otherwise the logprobs are the softmax of
  the raw logits, "raw". A zero probability (a token the samplers removed) is written as
  the float minimum -3.4e38: "not reported", never a number.

Older shape (before December 2024; README of examples/server, `probs_vector_to_json` and
`tokens_to_output_formatted_string` in examples/server/server.cpp)::

    {"content": "...", "stop": true, "stopped_eos": bool, "stopped_limit": bool,
     "stopped_word": bool, "completion_probabilities": [
        {"content": "<the token>", "probs": [{"tok_str": "...", "prob": float}, ...]}]}

  Probabilities after the sampling chain ("processed"); no token ids and no chosen-token
  probability of its own (it is read from `probs` when listed there); a lone byte of a
  partial character is spelled `byte: \\xe6`. With temperature 0 that server wrote 1.0
  for the first token and 0.0 for the others: under greedy sampling the processed
  distribution is indeed all on one token, and the zeros read as "not reported".

A stream (`stream: true`, server-sent events, one JSON object per `data:` line) sends one
chunk per token, `{"content": TEXT, "stop": false, "completion_probabilities": [ITEM]}`, and a
last chunk with `stop: true` and the summary fields but no probabilities. Several results (an
array of prompts, `n_cmpl`) carry an `index`; each index is one trace, its index kept in
`source.choice` (the name every importer gives it).

What the server's text hides, and how the steps get their true bytes: the server sends a
token's text only once it is safe to send. A token that ends in the middle of a UTF-8
character is not reported at all, and its bytes ride with the next token; a token that may
begin a stop word is sent with empty text, its bytes riding with a later one. The item's
`bytes` are what was sent, not the token's own piece; the token's own bytes are those of the
alternative with the same `id`. `Aligner` lays each token's own bytes over the text: a token
that was never reported becomes a step with its bytes and `logprob: null`, and the trace's
text is exactly the concatenation of its steps. Tokens of a stop word that the server cut
from its text keep their own bytes past the end of the text, as the local engine keeps them.

It leaves out the HTTP side (backends/llamacpp.py) and the OpenAI-compatible endpoints of the
same server (openai_chat.py, openai_completions.py).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from tokenprobe.errors import FormatError
from tokenprobe.formats._thinking import split_thinking
from tokenprobe.formats.trace_finish import new_trace, settle
from tokenprobe.formats.wire_tokens import Piece, candidate, entropy_bound, make_step, token_piece
from tokenprobe.formats.wire_values import (
    from_prob,
    logprob,
    need_dict,
    need_list,
    opt_int,
    opt_list,
    opt_str,
)
from tokenprobe.textbytes import token_label
from tokenprobe.trace import Step, Trace

NAME = "llamacpp"

_OLD_BYTE = re.compile(r"^byte: \\x([0-9a-fA-F]{1,2})$")


# ---------------------------------------------------------------------------------------
# One item of `completion_probabilities`


@dataclass
class Token:
    """A reported token: its step, its own bytes when known, and the bytes sent with it."""

    step: Step
    own: bytes | None
    sent: bytes


def read_item(item: Any, where: str) -> tuple[Token, str]:
    """The token of one `completion_probabilities` item and its kind (raw or processed)."""
    item = need_dict(item, where)
    if "probs" in item and "top_logprobs" not in item and "top_probs" not in item:
        return _old_item(item, where), "processed"
    processed = "prob" in item or "top_probs" in item
    value = from_prob if processed else logprob
    alts_key = "top_probs" if processed else "top_logprobs"
    token_id = opt_int(item.get("id"))
    top = []
    own: bytes | None = None
    for j, alt in enumerate(opt_list(item.get(alts_key), f"{where}.{alts_key}")):
        alt = need_dict(alt, f"{where}.{alts_key}[{j}]")
        piece = _piece(alt, f"{where}.{alts_key}[{j}]")
        alt_id = opt_int(alt.get("id"))
        top.append(candidate(piece, value(alt.get("prob" if processed else "logprob")), alt_id))
        if own is None and token_id is not None and alt_id == token_id:
            own = piece.data
    sent = _piece(item, where)
    step = make_step(Piece(sent.label, sent.data), value(item.get(
        "prob" if processed else "logprob")), token_id, top)
    return Token(step, own, sent.data), "processed" if processed else "raw"


def _piece(d: dict[str, Any], where: str) -> Piece:
    label = opt_str(d.get("token"), f"{where}.token") or ""
    raw = d.get("bytes")
    if raw is not None and not isinstance(raw, list):
        raise FormatError(f"{where}.bytes must be a JSON array, not {type(raw).__name__}")
    piece = token_piece(label, raw if raw is not None else None)
    # The label is cut to whole characters; without `bytes` its UTF-8 is all there is.
    return Piece(piece.label, piece.data)


def _old_item(item: dict[str, Any], where: str) -> Token:
    label = opt_str(item.get("content"), f"{where}.content") or ""
    own = _old_bytes(label)
    top = []
    chosen_lp: float | None = None
    for j, alt in enumerate(need_list(item.get("probs"), f"{where}.probs")):
        alt = need_dict(alt, f"{where}.probs[{j}]")
        text = opt_str(alt.get("tok_str"), f"{where}.probs[{j}].tok_str") or ""
        data = _old_bytes(text)
        lp = from_prob(alt.get("prob"))
        top.append(candidate(Piece(text, data), lp))
        if data == own and chosen_lp is None:
            chosen_lp = lp
    step = make_step(Piece(label, own), chosen_lp, None, top)
    return Token(step, own, own)


def _old_bytes(label: str) -> bytes:
    m = _OLD_BYTE.match(label)
    if m:
        return bytes([int(m.group(1), 16)])
    return token_piece(label).data


# ---------------------------------------------------------------------------------------
# Laying the tokens over the text


class Aligner:
    """Gives each reported token its own bytes, in order, so that they spell the text.

    Feed the tokens of each chunk with the text sent in it; get back the steps whose bytes
    are settled. A token whose own bytes have not all arrived in the text yet waits (its
    text was held back); a gap in the text before a token's bytes is the bytes of tokens
    the server never reported (a partial character), given to one step with logprob null.
    """

    def __init__(self) -> None:
        self.text = bytearray()  # every byte of text the server sent
        self.pos = 0  # how much of it released steps cover
        self.queue: list[Token] = []
        self.unreported = 0  # steps made for tokens the server did not report

    def add(self, tokens: list[Token], sent: bytes) -> list[Step]:
        self.text += sent
        self.queue += tokens
        return self._release(final=False)

    def finish(self) -> list[Step]:
        return self._release(final=True)

    def _release(self, final: bool) -> list[Step]:
        out: list[Step] = []
        while self.queue:
            tok = self.queue[0]
            rest = bytes(self.text[self.pos:])
            data = tok.own if tok.own is not None else tok.sent
            if rest.startswith(data):
                self._take(tok, data, out)
                continue
            if data.startswith(rest) and not final:
                break  # its bytes have not all been sent yet
            gap_at = self.text.find(data, self.pos) if data else -1
            if tok.own is not None and gap_at > self.pos and _cut_character(
                    bytes(self.text[self.pos:gap_at])):
                self._unreported(bytes(self.text[self.pos:gap_at]), out)
                continue
            if tok.own is not None and tok.sent and rest.startswith(tok.sent):
                # Its own piece is not what the text holds here: keep what was sent with it.
                self._take(tok, tok.sent, out)
                continue
            # Past the end of the text (a stop word the server cut), or a mismatch that the
            # check of the whole text reports.
            self._take(tok, data, out)
        return out

    def _take(self, tok: Token, data: bytes, out: list[Step]) -> None:
        self.queue.pop(0)
        step = tok.step
        if data != step.data:
            step.bytes = data
            step.token = token_label(data)
        self.pos += len(data)
        out.append(step)

    def _unreported(self, data: bytes, out: list[Step]) -> None:
        self.unreported += 1
        self.pos += len(data)
        out.append(Step(token=token_label(data), logprob=None, bytes=data))


def _cut_character(data: bytes) -> bool:
    """True when `data` ends in the middle of a UTF-8 character (bytes held back by the
    server until the next token completed the character)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.reason == "unexpected end of data"
    return False


# ---------------------------------------------------------------------------------------
# Whole answers


class Reader:
    """One answer's documents (stream chunks, or a whole response) -> steps, as they come.

    Shared by the importer and the live backend, so that both give the same trace.
    """

    def __init__(self, alternatives: int | None = None) -> None:
        self.aligner = Aligner()
        self.alternatives = alternatives
        self.kind: str | None = None
        self.items = 0  # reported tokens
        self.chunks_with_text = 0
        self.server_text: list[str] = []
        self.stopped = False  # a document with stop: true arrived
        self.finish: str | None = None
        self.model: str | None = None
        self.settings: dict[str, Any] = {}

    def feed(self, doc: Any, where: str) -> list[Step]:
        doc = need_dict(doc, where)
        text = opt_str(doc.get("content"), f"{where}.content") or ""
        if text:
            self.server_text.append(text)
            self.chunks_with_text += 1
        tokens = []
        for k, item in enumerate(opt_list(doc.get("completion_probabilities"),
                                          f"{where}.completion_probabilities")):
            tok, kind = read_item(item, f"{where}.completion_probabilities[{k}]")
            if self.kind is None:
                self.kind = kind
            elif kind != self.kind:
                raise FormatError(f"{where} mixes logprobs and post-sampling probs")
            tokens.append(tok)
        self.items += len(tokens)
        if doc.get("stop") is True:
            self.stopped = True
            self.finish = _stop_type(doc)
            if isinstance(doc.get("model"), str) and doc["model"]:
                self.model = doc["model"].replace("\\", "/").rsplit("/", 1)[-1]
            if isinstance(doc.get("generation_settings"), dict):
                self.settings = doc["generation_settings"]
        return self._trim(self.aligner.add(tokens, text.encode("utf-8")))

    def finish_steps(self) -> list[Step]:
        return self._trim(self.aligner.finish())

    def _trim(self, steps: list[Step]) -> list[Step]:
        # The backend asks for at least one alternative (n_probs 0 would drop the chosen
        # token's own logprob too); the user's count is applied here.
        n = self.alternatives
        if n is not None:
            for s in steps:
                if len(s.top) > n:
                    s.top = s.top[:n]
                    s.entropy = entropy_bound(s)
        return steps


def _stop_type(doc: dict[str, Any]) -> str | None:
    kind = doc.get("stop_type")
    if kind in ("eos", "word"):
        return "stop"
    if kind == "limit":
        return "length"
    if kind is None:
        if doc.get("stopped_eos") or doc.get("stopped_word"):
            return "stop"
        if doc.get("stopped_limit"):
            return "length"
    return None


# ---------------------------------------------------------------------------------------
# The importer


def matches(doc: Any) -> bool:
    if isinstance(doc, list):
        return bool(doc) and all(_is_doc(d) for d in doc)
    return _is_doc(doc)


def _is_doc(doc: Any) -> bool:
    if not isinstance(doc, dict) or "choices" in doc or "schema" in doc:
        return False
    if "completion_probabilities" in doc:
        return True
    return isinstance(doc.get("content"), str) and isinstance(doc.get("stop"), bool) and (
        "tokens_predicted" in doc or "stop_type" in doc or "stopped_eos" in doc
        or "id_slot" in doc or "slot_id" in doc or "generation_settings" in doc)


def parse(doc: Any, file: str | None = None) -> list[Trace]:
    """Traces (one per result index) from a /completion response or its stream chunks."""
    docs = doc if isinstance(doc, list) else [doc]
    if not docs:
        raise FormatError("the file holds an empty list, not a llama.cpp server response")
    groups: dict[int, list[tuple[dict[str, Any], str]]] = {}
    for n, d in enumerate(docs):
        where = f"chunk {n}" if isinstance(doc, list) else "response"
        d = need_dict(d, where)
        index = d.get("index", 0)
        if not isinstance(index, int) or isinstance(index, bool):
            raise FormatError(f"{where}.index must be an integer")
        groups.setdefault(index, []).append((d, where))
    return [_trace(groups[i], i, file, len(groups) > 1) for i in sorted(groups)]


def _trace(docs: list[tuple[dict[str, Any], str]], index: int, file: str | None,
           several: bool) -> Trace:
    reader = Reader()
    steps: list[Step] = []
    for d, where in docs:
        steps += reader.feed(d, where)
    steps += reader.finish_steps()
    text = "".join(reader.server_text)
    if text and not reader.items:
        raise FormatError("the response has text but no completion_probabilities: the "
                          "server did not return them; ask with n_probs: N")
    trace = new_trace(NAME, file, reader.model, reader.kind or "unknown")
    if several or index:
        trace.source["choice"] = index
    trace.steps = steps
    trace.finish_reason = reader.finish
    _request_from_settings(trace, reader.settings)
    if reader.aligner.unreported:
        trace.source["note"] = (f"{reader.aligner.unreported} token(s) the server did not "
                                "report (part of a character) have no logprob")
    pieces = [Piece(s.token, s.data) for s in steps]
    settle(trace, pieces, text)
    if not reader.stopped and len(docs) > 1:
        trace.complete = False
        trace.error = trace.error or "the stream ended before its last chunk (stop: true)"
    # /completion parses no reasoning (the chat endpoint's --reasoning-format does): a
    # thinking model's text opens with its think tag, split at the tags' tokens.
    return split_thinking(trace)


def _request_from_settings(trace: Trace, settings: dict[str, Any]) -> None:
    """The sampling settings the server reports it used (`generation_settings`)."""
    req = trace.request

    def num(key: str) -> float | None:
        # A setting that is not a finite number (NaN, Infinity, which the JSON reader
        # accepts) is not reported: the request then says nothing about it.
        v = settings.get(key)
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            return None
        return float(v) if math.isfinite(v) else None

    if num("temperature") is not None:
        req.temperature = max(num("temperature") or 0.0, 0.0)
    if num("top_p") is not None:
        req.top_p = num("top_p")
    top_k = opt_int(settings.get("top_k"))
    if top_k is not None:
        req.top_k = max(top_k, 0)
    seed = opt_int(settings.get("seed"))
    if seed is not None and 0 <= seed < 0xFFFFFFFF:
        req.seed = seed
    n_predict = opt_int(settings.get("n_predict"))
    if n_predict is not None and n_predict > 0:
        req.max_tokens = n_predict
    n_probs = opt_int(settings.get("n_probs"))
    if n_probs is not None:
        req.alternatives = n_probs
    stop = settings.get("stop")
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        req.stop = list(stop)
