"""Shared parts of the importers: reading values, building steps, and fitting bytes to text.

Every importer turns a server's tokens into `Step`s the same way:

- a logprob goes through `logprob()`: sentinels (None, NaN, ±inf, ≤ -9999, the float32
  minimum -3.4e38) become None, never a number; a probability goes through `from_prob()`;
- a token's bytes come from `token_piece()`: an explicit `bytes` list, a byte spelling
  (`bytes:\\xe6\\x9b`, `\\xe6\\x9b`, `<0xE6>`), or the label's UTF-8; a label that hides its
  bytes (an empty string, U+FFFD, `token_id:N`) is marked unknown with a pattern that says
  what the bytes may be, and `fit_to_text()` recovers them from the response's text;
- `make_step()` sorts and de-duplicates the alternatives and sets the entropy's lower bound
  over them.

It leaves out anything specific to one wire format.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from tokenprobe.errors import FormatError
from tokenprobe.textbytes import TextAssembler, parse_byte_spelling, token_label
from tokenprobe.trace import Candidate, Request, Step, Trace, clean_logprob

REPLACEMENT = "\ufffd"
# The label given to an alternative whose bytes the server hid (an empty string or U+FFFD
# with no bytes): its bytes are unknown, and U+FFFD is what "unknown bytes" looks like.
UNKNOWN_LABEL = REPLACEMENT

# Patterns (over bytes) for tokens whose bytes the server hid. A token decoded on its own
# with errors="ignore" (llama-cpp-python) keeps only whole characters, so an empty label
# hides bytes that are all ≥ 0x80 (ASCII always decodes). U+FFFD (errors="replace", vLLM,
# SGLang) stands for one or more such bytes.
_HIDDEN = rb"[\x80-\xff]+?"
_HIDDEN_OR_NONE = rb"[\x80-\xff]*?"


def logprob(value: Any) -> float | None:
    """A reported logprob as nats, or None when it means "not reported" (see clean_logprob)."""
    # Fast path for the common case: a plain negative float above the sentinel floor.
    if type(value) is float and -9999.0 < value <= 0.0:
        return value
    return clean_logprob(value)


def openai_logprob(value: Any) -> float | None:
    """A logprob from an OpenAI-shaped response (chat, completions, Responses, vLLM).

    Besides the general sentinels, exactly -100.0 reads as "not reported" here. OpenAI
    documents only -9999.0, but its chat models have been seen to return many logprobs of
    exactly -100 (github.com/baoguangsheng/glimpse/issues/2): a clamp, whose true value is
    somewhere below. A computed float32 logprob that lands on -100.0 exactly is practically
    impossible (vLLM clamps -inf to -9999.0, not -100), so nothing real is lost.
    """
    if value == -100.0 and not isinstance(value, bool):
        return None
    return logprob(value)


def from_prob(value: Any) -> float | None:
    """A probability in [0, 1] as a logprob; 0, negative, > 1 or non-numbers give None.

    A probability of exactly 0 is what a server writes for a token its sampler removed (or
    one below float precision): nothing is known about its raw likelihood, so None.
    """
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    p = float(value)
    if not (0.0 < p <= 1.0 + 1e-6):  # also false for NaN
        return None
    return logprob(math.log(min(p, 1.0)))


def opt_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def documents(doc: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, document) for a whole response, or for each chunk of a list of them."""
    if not isinstance(doc, list):
        yield "response", need_dict(doc, "response")
        return
    for n, d in enumerate(doc):
        yield f"chunk {n}", need_dict(d, f"chunk {n}")


def choices(d: dict[str, Any], where: str) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """(index, where, choice) for each of an OpenAI-shaped document's choices; a choice
    without `index` is numbered by its place."""
    for k, ch in enumerate(opt_list(d.get("choices"), f"{where}.choices")):
        ch = need_dict(ch, f"{where}.choices[{k}]")
        index = ch.get("index", k)
        if isinstance(index, bool) or not isinstance(index, int):
            raise FormatError(f"{where}.choices[{k}].index must be an integer")
        yield index, f"{where}.choices[{k}]", ch


def need_dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FormatError(f"{where} must be a JSON object, not {_kind(value)}")
    return value


def need_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise FormatError(f"{where} must be a JSON array, not {_kind(value)}")
    return value


def opt_list(value: Any, where: str) -> list[Any]:
    """A list, or [] for null / missing."""
    return [] if value is None else need_list(value, where)


def need_str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise FormatError(f"{where} must be a string, not {_kind(value)}")
    return value


def opt_str(value: Any, where: str) -> str | None:
    return None if value is None else need_str(value, where)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__.replace("dict", "object")


# ---------------------------------------------------------------------------------------
# Token bytes


@dataclass
class Piece:
    """A token's bytes as far as the wire shows them, and a pattern when they are hidden."""

    label: str
    data: bytes
    hidden: bytes | None = None  # regex over bytes for the true bytes; None = data is true
    # Where the token starts in the text it is fitted to, in characters, when the server
    # says (legacy completions' `text_offset`): a hint that settles an ambiguous fit.
    at: int | None = None


# Reads a choice's logprob items (chat `content`, or a completions `logprobs` object) into
# pieces and steps; vllm.py passes its own, which knows token ids.
ItemsReader = Callable[[Any, str], tuple[list["Piece"], list[Step]]]


def token_piece(label: str, raw_bytes: Any = None) -> Piece:
    """Bytes of one token from its label and optional `bytes` list (the truth when given)."""
    try:
        enc = label.encode()
    except UnicodeEncodeError:  # a lone surrogate from a \ud8xx escape: not text
        label = clean_text(label)
        enc = label.encode()
    if type(raw_bytes) is list:
        data = _bytes_from_list(raw_bytes)
        # A server that encoded its own U+FFFD label (vLLM does) gives bytes that are no
        # better than the label; real bytes (OpenAI's) differ from the label's UTF-8.
        if (data is not None and not (REPLACEMENT in label and data == enc)
                and (data or not label)):
            return Piece(label, data)
    spelled = parse_byte_spelling(label) if "\\x" in label or label.startswith("<0x") else None
    if spelled is not None:
        return Piece(label, spelled)
    if not label:
        return Piece(label, b"", _HIDDEN)
    if REPLACEMENT in label:
        parts = [re.escape(p.encode()) for p in re.split(r"\ufffd+", label)]
        return Piece(label, enc, _HIDDEN.join(parts))
    return Piece(label, enc)


def _bytes_from_list(raw: list[Any]) -> bytes | None:
    try:
        return bytes(raw)  # ints 0-255 only: anything else raises
    except (TypeError, ValueError, OverflowError):
        return None


def clean_text(text: str) -> str:
    """`text` with lone surrogates (from JSON escapes like \\ud842 alone) as U+FFFD."""
    try:
        text.encode()
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def alt_candidate(label: str, raw: Any, lp: float | None, token_id: int | None = None
                  ) -> Candidate:
    """`candidate(token_piece(label, raw), lp, token_id)`, with a fast path for the usual
    alternative: a plain label whose bytes are its UTF-8 (or not given)."""
    if label and (raw is None or type(raw) is list) and REPLACEMENT not in label \
            and "\\x" not in label and not label.startswith("<0x"):
        try:
            enc = label.encode()
        except UnicodeEncodeError:
            enc = b""
        if enc and (raw is None or (len(raw) == len(enc) and _bytes_from_list(raw) == enc)):
            c = object.__new__(Candidate)
            c.__dict__.update(token=label, logprob=lp, id=token_id, bytes=enc)
            return c
    return candidate(token_piece(label, raw), lp, token_id)


def chat_alternatives(alts: list[Any], where: str) -> list[Candidate]:
    """Candidates from OpenAI-shaped `top_logprobs` items ({token, logprob, bytes}).

    This is the loop that runs most (tokens × alternatives), so the usual case (a dict with
    an ASCII label, a plain float, bytes equal to the label or absent) is handled inline;
    anything else goes through `alt_candidate` and the general checks.
    """
    out: list[Candidate] = []
    append = out.append
    new = object.__new__
    for alt in alts:
        if type(alt) is dict:
            label = alt.get("token")
            x = alt.get("logprob")
            raw = alt.get("bytes")
            if (type(label) is str and type(x) is float and -9999.0 < x < 0.0
                    and x != -100.0 and label.isascii() and label
                    and "\\x" not in label and not label.startswith("<0x")):
                enc = label.encode()
                if raw is None or (type(raw) is list and len(raw) == len(enc)
                                   and _bytes_from_list(raw) == enc):
                    c = new(Candidate)
                    c.__dict__.update(token=label, logprob=x, id=None, bytes=enc)
                    append(c)
                    continue
        j = len(out)
        alt = need_dict(alt, f"{where}[{j}]")
        label = need_str(alt.get("token"), f"{where}[{j}].token")
        append(alt_candidate(label, alt.get("bytes"), openai_logprob(alt.get("logprob"))))
    return out


def candidate(piece: Piece, lp: float | None, token_id: int | None = None) -> Candidate:
    """An alternative; hidden bytes stay unknown, labelled U+FFFD (no text to fit them to)."""
    if piece.hidden is not None:
        return Candidate(UNKNOWN_LABEL, lp, token_id, UNKNOWN_LABEL.encode())
    return _fast_candidate(piece.data, lp, token_id)


def _fast_candidate(data: bytes, lp: float | None, token_id: int | None) -> Candidate:
    # Candidates are made by the hundred thousand for a long response; filling the instance
    # dict directly skips the dataclass __init__ / __post_init__ round trip (a third of the
    # import time). The fields are exactly those of Candidate.
    c = object.__new__(Candidate)
    c.__dict__.update(token=token_label(data) if not data.isascii() else data.decode(),
                      logprob=lp, id=token_id, bytes=data)
    return c


def sort_top(cands: Iterable[Candidate]) -> list[Candidate]:
    """Sorted by logprob descending (unreported last), one entry per token.

    A token is the same when its id matches, or (without ids) its bytes and label match; of
    duplicates the one with the higher logprob is kept (servers repeat the chosen token).
    Tokens whose bytes are unknown (labelled U+FFFD, no id) are the same only with the same
    logprob too: two such entries with different numbers are two different tokens.
    """
    best: dict[Any, Candidate] = {}
    for c in cands:
        if c.id is not None:
            key: Any = c.id
        elif c.token == UNKNOWN_LABEL:
            key = (c.token, c.bytes, c.logprob)
        else:
            key = (c.token, c.bytes)
        old = best.get(key)
        if old is None or (c.logprob is not None
                           and (old.logprob is None or c.logprob > old.logprob)):
            best[key] = c
    values = list(best.values())
    if any(c.logprob is None for c in values):
        return sorted(values, key=_sort_key)
    return sorted(values, key=_LOGPROB, reverse=True)  # stable, as the key above


_LOGPROB = attrgetter("logprob")


def _sort_key(c: Candidate) -> float:
    return -c.logprob if c.logprob is not None else math.inf


def make_step(piece: Piece, lp: float | None, token_id: int | None,
              top: list[Candidate]) -> Step:
    """A step with its alternatives sorted and de-duplicated and the entropy's lower bound."""
    top = sort_top(top)
    step = Step(token=piece.label if piece.hidden is not None else token_label(piece.data),
                logprob=lp, id=token_id, bytes=piece.data, top=top)
    step.entropy = entropy_bound(step)
    return step


def entropy_bound(step: Step) -> float | None:
    """−Σ p log p over the listed tokens (and the chosen one if unlisted): a lower bound.

    Every unlisted token adds a non-negative term, so the sum over what is listed can only
    understate the entropy; `entropy_exact` stays False.
    """
    lps = [c.logprob for c in step.top if c.logprob is not None]
    if not lps:
        return None
    if step.logprob is not None and step.rank() is None:
        lps.append(step.logprob)
    h = -math.fsum(math.exp(x) * x for x in lps)
    return max(h, 0.0)


def drop_extra_chosen(steps: Sequence[Step], n: int | None = None) -> None:
    """Remove the chosen token where a server appended it to a top-N list as entry N+1.

    OpenAI's legacy completions, vLLM and llama-cpp-python always add the chosen token to
    `top_logprobs`, so a step whose chosen token was not in the top N lists N+1 entries.
    Kept, it would claim rank N+1. `n` is the number asked for, when known (a live request).
    Otherwise N is read from the lists that do not end with the chosen token: each is the
    top N itself, or shorter where a server that keys the list by decoded text collapsed
    several byte-fallback alternatives into one "" entry (llama-cpp-python, vLLM's legacy
    completions), so the longest of them is N. When every list ends with its chosen token,
    the shortest length stands for N. A list longer than N whose last entry is the chosen
    token loses that entry.
    """
    listed = [s for s in steps if s.top]
    if not listed:
        return
    if n is None:
        plain = [len(s.top) for s in listed if not _ends_with_chosen(s)]
        n = max(plain) if plain else min(len(s.top) for s in listed)
    for s in listed:
        if len(s.top) > n and _ends_with_chosen(s):
            s.top.pop()
            s.entropy = entropy_bound(s)


def _ends_with_chosen(s: Step) -> bool:
    """Whether the last alternative is the chosen token itself (same logprob, and the same
    id when both have one, else the same bytes, or both hiding their bytes)."""
    last = s.top[-1]
    if last.logprob != s.logprob:
        return False
    if last.id is not None and s.id is not None:
        return last.id == s.id
    return last.data == s.data or (last.token == UNKNOWN_LABEL and not s.data)


# ---------------------------------------------------------------------------------------
# Fitting hidden bytes to the response text


def fit_to_text(pieces: list[Piece], text: str) -> list[bytes] | None:
    """The true bytes of every token, using the response text for the hidden ones.

    Known pieces must appear in the text in order; each run of hidden pieces takes the bytes
    between its neighbours, split by the pieces' patterns (a byte-fallback token is at least
    one byte). Tokens past the end of the text (a stop word the server cut from the text)
    keep their own bytes. Returns None when the pieces cannot be laid over the text.
    """
    if all(p.hidden is None for p in pieces):
        return [p.data for p in pieces]
    data = text.encode("utf-8", "surrogatepass")
    out: list[bytes] = []
    pos, i, n = 0, 0, len(pieces)
    while i < n:
        p = pieces[i]
        if p.hidden is None:
            if data.startswith(p.data, pos):
                pos += len(p.data)
            elif pos < len(data):
                return None
            out.append(p.data)
            i += 1
            continue
        j = i
        while j < n and pieces[j].hidden is not None:
            j += 1
        run = pieces[i:j]
        hint = _byte_at(text, pieces[j].at) if j < n else None
        split = _split_run(run, data, pos, pieces[j].data if j < n else None, hint)
        if split is None:
            return None
        out.extend(split)
        pos += sum(len(b) for b in split)
        i = j
    return out


def _byte_at(text: str, at: int | None) -> int | None:
    if at is None or not 0 <= at <= len(text):
        return None
    return len(text[:at].encode("utf-8"))


def _split_run(run: list[Piece], data: bytes, pos: int, after: bytes | None,
               hint: int | None = None) -> list[bytes] | None:
    strict = re.compile(b"".join(b"(" + (p.hidden or b"") + b")" for p in run), re.DOTALL)
    loose = re.compile(
        b"".join(b"(" + (p.hidden or b"").replace(b"+?", b"*?") + b")" for p in run), re.DOTALL)
    ends: list[int] = []
    if after is None:
        ends = [len(data)]
    else:
        q = data.find(after, pos)
        while q != -1 and len(ends) < 16:
            ends.append(q)
            q = data.find(after, q + 1)
        if not ends and pos >= len(data):
            ends = [pos]  # past the end of the text: the hidden run is empty there
        if hint is not None and hint in ends:
            ends.remove(hint)
            ends.insert(0, hint)  # where the server says the next token starts
    for pattern in (strict, loose):
        for end in ends:
            m = pattern.fullmatch(data, pos, end)
            if m:
                return [g for g in m.groups()]
    return None


# ---------------------------------------------------------------------------------------
# Traces


def new_trace(fmt: str, file: str | None, model: Any, kind: str, mode: str = "completion",
              prompt: str | None = None) -> Trace:
    source: dict[str, Any] = {"format": fmt}
    if file:
        source["file"] = file
    return Trace(
        backend="import",
        model=clean_text(model) if isinstance(model, str) else "",
        request=Request(mode=mode, prompt=prompt, temperature=None, top_p=None, top_k=None,
                        max_tokens=None, alternatives=None),
        logprobs_kind=kind,
        source=source,
    )


_FINISH = {
    "stop": "stop", "eos": "stop", "word": "stop", "end_turn": "stop", "tool_calls": "stop",
    "function_call": "stop", "stop_sequence": "stop", "completed": "stop",
    "length": "length", "limit": "length", "max_tokens": "length", "max_output_tokens": "length",
    "incomplete": "length", "content_filter": "error", "safety": "error", "error": "error",
    "abort": "error", "recitation": "error", "blocklist": "error", "prohibited_content": "error",
    "spii": "error", "language": "error", "image_safety": "error",
    "malformed_function_call": "error", "unexpected_tool_call": "error",
}


_FILTERS = frozenset({"content_filter", "safety", "recitation", "blocklist",
                      "prohibited_content", "spii", "image_safety", "language"})


def finish_reason(value: Any) -> str | None:
    """A server's finish reason in the trace's words: stop, length, error, or None."""
    if not isinstance(value, str) or not value:
        return None
    return _FINISH.get(value.lower(), "stop" if value.lower().startswith("stop") else None)


def finish_error(value: Any, who: str = "the server") -> str:
    """Why an answer whose finish reason reads as "error" is incomplete, in one line."""
    name = clean_text(str(value))[:60]
    low = name.lower()
    if low in _FILTERS:
        return f"{who} stopped the answer with its content filter (finish reason {name})"
    if low == "abort":
        return f"{who} aborted the answer (finish reason {name})"
    return f"{who} stopped the answer with an error (finish reason {name})"


def set_finish(trace: Trace, value: Any) -> None:
    """The trace's finish reason from the server's, with the error it means when it is one
    (`settle` then marks the trace incomplete)."""
    trace.finish_reason = finish_reason(value)
    if trace.finish_reason == "error" and not trace.error:
        trace.error = finish_error(value)


def settle(trace: Trace, pieces: list[Piece], server_text: str | None,
           prompt_pieces: list[Piece] | None = None, echo: bool = False) -> Trace:
    """Give the steps their true bytes, rebuild `text` and offsets, and check the text.

    `pieces` belong to `trace.steps`, `prompt_pieces` to `trace.prompt_steps`. With `echo`
    the server's text holds the prompt and the completion (legacy completions), otherwise
    the completion only. The steps' bytes, decoded, are the trace's text. The server's text
    must equal it, or be a prefix of it (the server cut a stop word the tokens still hold).
    When the tokens cover only the start of the server's text the trace keeps what the
    tokens show and says so in `error`; any other difference means the file is not what it
    claims, and is refused. A trace whose finish reason is "error" (a content filter, an
    abort, an error the server reported) is incomplete, with the reason in `error`.
    """
    _settle(trace, pieces, server_text, prompt_pieces, echo)
    if trace.finish_reason == "error":
        trace.complete = False
        if not trace.error:
            trace.error = "the server stopped the answer with an error"
    return trace


def _settle(trace: Trace, pieces: list[Piece], server_text: str | None,
            prompt_pieces: list[Piece] | None, echo: bool) -> None:
    prompt_pieces = prompt_pieces or []
    if server_text is not None:
        server_text = clean_text(server_text)
    if echo:
        datas = _fit_or_labels(prompt_pieces + pieces, server_text)
    else:
        datas = [p.data for p in prompt_pieces] + _fit_or_labels(pieces, server_text)
    blank = 0
    for step, piece, data in zip(trace.prompt_steps + trace.steps, prompt_pieces + pieces, datas):
        if data != step.bytes:
            step.bytes = data
            step.token = token_label(data)
        if piece.hidden is not None:
            name_hidden_chosen(step)
            blank += not data
    guessed = _guessed_runs(prompt_pieces + pieces, datas)
    if guessed:
        add_note(trace, f"{guessed} run(s) of tokens hiding their bytes cover more bytes than "
                        "tokens: the run's bytes are exact, their split among its tokens is "
                        "a guess")
    if blank:
        add_note(trace, f"{blank} token(s) show no text: the server's text has no bytes for "
                        "them (byte pieces of a character the server dropped, or special "
                        "tokens)")
    if trace.prompt_steps:
        settle_prompt(trace)
    trace.rebuild_text()
    if server_text is None:
        return
    ours = (trace.request.prompt or "") + trace.text if echo else trace.text
    if ours == server_text or ours.startswith(server_text):
        return  # equal, or the tokens go on past a stop word the server cut: kept
    if server_text.startswith(ours):
        trace.complete = False
        cover = (f"the logprobs cover only the first {len(ours)} of "
                 f"{len(server_text)} characters of the response text")
        trace.error = f"{trace.error}; {cover}" if trace.error else cover
        return
    at = next((k for k, (a, b) in enumerate(zip(ours, server_text)) if a != b),
              min(len(ours), len(server_text)))
    raise FormatError(f"the tokens do not spell the response text (they differ at "
                      f"character {at})")


def _guessed_runs(pieces: list[Piece], datas: list[bytes]) -> int:
    """Runs of hidden tokens whose split the text does not fix (more bytes than tokens)."""
    count, i, n = 0, 0, len(pieces)
    while i < n:
        if pieces[i].hidden is None:
            i += 1
            continue
        j = i
        while j < n and pieces[j].hidden is not None:
            j += 1
        if j - i > 1 and sum(len(d) for d in datas[i:j]) > j - i:
            count += 1
        i = j
    return count


def add_note(trace: Trace, note: str) -> None:
    """A remark about how the file was read, kept in `source["note"]`."""
    old = trace.source.get("note")
    note = clean_text(note)
    trace.source["note"] = f"{old}; {note}" if old else note


def settle_prompt(trace: Trace) -> None:
    """Offsets of the prompt steps, and the prompt text they spell."""
    assembler = TextAssembler()
    for s in trace.prompt_steps:
        s.offset = assembler.add(s.data)
    trace.request.prompt = assembler.finish()


def _fit_or_labels(pieces: list[Piece], text: str | None) -> list[bytes]:
    if text is not None:
        fitted = fit_to_text(pieces, text)
        if fitted is not None:
            return fitted
    return [p.data for p in pieces]


def name_hidden_chosen(step: Step) -> None:
    """Give the chosen token's newly known bytes to its own entry among the alternatives."""
    # The chosen token also appears among the alternatives under the same hidden label; now
    # that its bytes are known, that alternative is the same token and gets them too.
    for c in step.top:
        if c.token == UNKNOWN_LABEL and c.logprob == step.logprob and (
                c.id is None or c.id == step.id):
            c.bytes = step.bytes
            c.token = step.token
            step.top = sort_top(step.top)
            return


def unknown_token_ids(label: str) -> bool:
    """vLLM's `return_tokens_as_token_ids` labels (`token_id:123`) carry no text at all."""
    return label.startswith("token_id:")
