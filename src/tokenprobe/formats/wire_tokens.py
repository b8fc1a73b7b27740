"""Token bytes and steps for the importers: a token's bytes from what the wire shows, its
alternatives sorted and de-duplicated, and hidden bytes fitted to the response's text.

- `token_piece()`: a token's bytes from an explicit `bytes` list, a byte spelling
  (`bytes:\\xe6\\x9b`, `\\xe6\\x9b`, `<0xE6>`), or the label's UTF-8; a label that hides its
  bytes (an empty string, U+FFFD) is marked with a pattern that says what they may be, and
  `fit_to_text()` recovers them from the response's text;
- `make_step()` sorts and de-duplicates the alternatives and sets the entropy's lower bound
  over them; `drop_extra_chosen()` removes the chosen token a server appended to a full list.

It leaves out reading values (wire_values.py) and finishing a trace (trace_finish.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from tokenprobe.formats.wire_values import clean_text, need_dict, need_str, openai_logprob
from tokenprobe.textbytes import parse_byte_spelling, token_label
from tokenprobe.trace import Candidate, Step

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
