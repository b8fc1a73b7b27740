"""vLLM's OpenAI-compatible responses, with its extras: `prompt_logprobs` and token ids.

Shape read: OpenAI's chat completion and legacy completion (openai_chat.py,
openai_completions.py), as vLLM writes them (vllm/entrypoints/openai/protocol.py,
serving_chat.py, serving_completion.py), plus:

- `prompt_logprobs` (request field `prompt_logprobs: N`): on the chat response's top level,
  on each completion choice. A list with one entry per prompt token: `null` for the first
  (nothing predicts it), then `{"<token id>": {"logprob": -1.2, "rank": 3,
  "decoded_token": " Paris"}, ...}`. The dict holds the prompt token itself and the top N;
  vLLM inserts the prompt token first (vllm/v1/engine/logprobs.py `_make_logprob_dict`), so
  the first key is the token at that position (or `prompt_token_ids[i]` when the response
  carries them, `return_token_ids: true`). It is listed among the alternatives only when
  the ranks listed run 1..m without a gap (the true top m); outside the top N it is not.
  -inf is clamped to -9999.0 by vLLM (read as "not reported"). The first position gets a
  step with `logprob: null`; its token is known only from `prompt_token_ids` (and then its
  bytes only if the same id appears elsewhere with text), else it is an empty step.
- `return_tokens_as_token_ids: true`: labels `token_id:123` instead of text. In chat, vLLM
  still sends the chosen token's decoded text as `bytes` (UTF-8 with U+FFFD for partial
  characters), but an alternative's `bytes` are those of the label. Read honestly: ids are
  kept; a token's bytes come from wherever the same response shows that id with its text
  (a chosen token's `bytes`, a `decoded_token` in `prompt_logprobs`); an alternative still
  unknown is labelled U+FFFD with its id. A chosen token whose text nothing in the file
  shows (legacy completions give labels only) makes the file refused, naming the flag:
  splitting a text among unknown tokens would be a guess.
- chat `top_logprobs` come in vLLM's dict order, the chosen token first, cut to N: when the
  chosen token is outside the top N the list is [chosen, top 1 .. top N-1], the same as
  when it is exactly N-th. That last place is ambiguous, so a chosen token listed first and
  strictly below every other entry of a full list is left out of `top` (its rank reads as
  "not listed" rather than a possibly false N).

Values: logprobs are raw (vLLM's default `--logprobs-mode raw_logprobs`: softmax of the
logits before temperature, penalties, top-k/top-p); a server run with `processed_logprobs`
cannot be told from the file. Detected by vLLM's own fields (`prompt_logprobs`,
`stop_reason`, `token_id:` labels) on an OpenAI shape.

It leaves out the OpenAI shapes' common reading (openai_chat.py, openai_completions.py).
"""

from __future__ import annotations

import re
from typing import Any

from tokenprobe.errors import FormatError
from tokenprobe.formats import openai_chat, openai_completions
from tokenprobe.formats.trace_finish import add_note, settle_prompt
from tokenprobe.formats.vllm_values import ValueJudge, raw_value
from tokenprobe.formats.wire_tokens import (
    REPLACEMENT,
    UNKNOWN_LABEL,
    Piece,
    alt_candidate,
    candidate,
    drop_extra_chosen,
    entropy_bound,
    make_step,
    sort_top,
    token_piece,
)
from tokenprobe.formats.wire_values import (
    need_dict,
    need_list,
    need_str,
    opt_int,
    opt_list,
)
from tokenprobe.textbytes import token_label
from tokenprobe.trace import Candidate, Step, Trace, is_chosen

NAME = "vllm"
KIND = "raw"
ID_PREFIX = "token_id:"
FLAG_HINT = ("request without return_tokens_as_token_ids, or with logprobs in chat, where "
             "vLLM still sends each chosen token's text")


def matches(doc: Any) -> bool:
    if not (openai_chat.matches(doc) or openai_completions.matches(doc)):
        return False
    docs = doc if isinstance(doc, list) else [doc]
    return any(_has_trait(d) for d in docs[:4])


def _has_trait(d: Any) -> bool:
    if not isinstance(d, dict):
        return False
    if "prompt_logprobs" in d:
        return True
    choices = d.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return False
    ch = choices[0]
    if "stop_reason" in ch or "prompt_logprobs" in ch:
        return True
    lp = ch.get("logprobs")
    if isinstance(lp, dict):
        content, tokens = lp.get("content"), lp.get("tokens")
        if isinstance(content, list) and content and isinstance(content[0], dict):
            return str(content[0].get("token", "")).startswith(ID_PREFIX)
        if isinstance(tokens, list) and tokens:
            return str(tokens[0]).startswith(ID_PREFIX)
    return False


# A token id as vLLM writes it: ASCII digits (str.isdigit also takes "²" and other digits
# int() refuses), and few enough of them for any vocabulary.
_ID = re.compile(r"[0-9]{1,18}")


def parse_id(text: str) -> int | None:
    """`text` as a token id, or None when it is not one."""
    return int(text) if _ID.fullmatch(text) else None


def token_id(label: str) -> int | None:
    """The id in a `token_id:N` label, or None for a text label."""
    if label.startswith(ID_PREFIX):
        return parse_id(label[len(ID_PREFIX):])
    return None


class Reader:
    """Reads vLLM's logprob items, keeping ids and learning each id's bytes as it goes.

    `vocab` maps a token id to bytes the response showed for it; `unknown` lists the chosen
    pieces whose bytes nothing has shown yet.
    """

    def __init__(self, alternatives: int | None = None, kind: str | None = None) -> None:
        self.vocab: dict[int, bytes] = {}
        self.alternatives = alternatives  # N asked for, when known (live requests)
        self.pending: list[Step] = []  # steps with alternatives whose bytes were unknown
        # The numbers are read as sent and settled as log-probabilities or logits: the kind
        # declared, or the one they prove (vllm_values.py).
        self.judge = ValueJudge(kind)

    # --- chat ---------------------------------------------------------------------

    def chat_items(self, items: Any, where: str) -> tuple[list[Piece], list[Step]]:
        pieces: list[Piece] = []
        steps: list[Step] = []
        items = need_list(items, where)
        full = self.alternatives or max(
            (len(it.get("top_logprobs") or []) for it in items if isinstance(it, dict)
             and isinstance(it.get("top_logprobs"), list)), default=0)
        for k, item in enumerate(items):
            item = need_dict(item, f"{where}[{k}]")
            label = need_str(item.get("token"), f"{where}[{k}].token")
            tid = token_id(label)
            piece = self._chosen_piece(label, tid, item.get("bytes"))
            alts = opt_list(item.get("top_logprobs"), f"{where}[{k}].top_logprobs")
            top: list[Candidate] = []
            for j, alt in enumerate(alts):
                alt = need_dict(alt, f"{where}[{k}].top_logprobs[{j}]")
                alabel = need_str(alt.get("token"), f"{where}[{k}].top_logprobs[{j}].token")
                top.append(self._alternative(alabel, alt.get("bytes"),
                                             raw_value(alt.get("logprob"))))
            lp = raw_value(item.get("logprob"))
            step = make_step(piece, lp, tid, top)
            if top and len(alts) == full and _listed_first_and_last(step, top):
                step.top = [c for c in step.top if not is_chosen(step, c)]
                step.entropy = entropy_bound(step)
            pieces.append(piece)
            steps.append(step)
        self._check_known(pieces, steps, where)
        self.judge.settle(steps, where)
        return pieces, steps

    def _chosen_piece(self, label: str, tid: int | None, raw: Any) -> Piece:
        if tid is None:
            return token_piece(label, raw)
        if isinstance(raw, list) and raw != list(label.encode()):
            try:
                text = bytes(raw).decode("utf-8", errors="replace")
            except (TypeError, ValueError):
                text = None
            if text is not None:
                piece = token_piece(text)
                piece.label = label
                if piece.hidden is None and REPLACEMENT not in text:
                    self.vocab.setdefault(tid, piece.data)
                return piece
        if tid in self.vocab:
            return Piece(label, self.vocab[tid])
        return Piece(label, b"", b"(?s:.*?)")  # unknown: checked by _check_known

    def _alternative(self, label: str, raw: Any, lp: float | None) -> Candidate:
        tid = token_id(label)
        if tid is None:
            return alt_candidate(label, raw, lp)  # the usual case, with a fast path
        if tid in self.vocab:
            return candidate(Piece(label, self.vocab[tid]), lp, tid)
        return Candidate(UNKNOWN_LABEL, lp, tid, UNKNOWN_LABEL.encode())

    # --- legacy completions ---------------------------------------------------------

    def completion_logprobs(self, lp: Any, where: str) -> tuple[list[Piece], list[Step]]:
        lp = need_dict(lp, where)
        tokens = need_list(lp.get("tokens"), f"{where}.tokens")
        lps = opt_list(lp.get("token_logprobs"), f"{where}.token_logprobs")
        tops = opt_list(lp.get("top_logprobs"), f"{where}.top_logprobs")
        pieces: list[Piece] = []
        steps: list[Step] = []
        for k, label in enumerate(tokens):
            label = need_str(label, f"{where}.tokens[{k}]")
            tid = token_id(label)
            if tid is None:
                piece = token_piece(label)
            elif tid in self.vocab:
                piece = Piece(label, self.vocab[tid])
            else:
                piece = Piece(label, b"", b"(?s:.*?)")
            alts = tops[k] if k < len(tops) else None
            top = []
            if alts is not None:
                alts = need_dict(alts, f"{where}.top_logprobs[{k}]")
                top = [self._alternative(t, None, raw_value(v)) for t, v in alts.items()]
            pieces.append(piece)
            steps.append(make_step(piece, raw_value(lps[k] if k < len(lps) else None),
                                   tid, top))
        drop_extra_chosen(steps, self.alternatives)
        self._check_known(pieces, steps, where)
        self.judge.settle(steps, where)
        completing_tokens(pieces)
        return pieces, steps

    # --- prompt_logprobs --------------------------------------------------------------

    def learn_prompt(self, entries: Any, where: str) -> None:
        """Take every id -> decoded text pair the prompt logprobs show into `vocab`."""
        for entry in opt_list(entries, where):
            if not isinstance(entry, dict):
                continue
            for key, val in entry.items():
                tid = parse_id(key)
                if (tid is not None and isinstance(val, dict)
                        and isinstance(val.get("decoded_token"), str)
                        and REPLACEMENT not in val["decoded_token"]
                        and token_id(val["decoded_token"]) is None):
                    self.vocab.setdefault(tid, val["decoded_token"].encode())

    def prompt_steps(self, entries: Any, prompt_ids: Any, where: str) -> list[Step]:
        entries = need_list(entries, where)
        ids = [opt_int(x) for x in prompt_ids] if isinstance(prompt_ids, list) else []
        steps: list[Step] = []
        for k, entry in enumerate(entries):
            known_id = ids[k] if k < len(ids) else None
            if entry is None:
                data = self.vocab.get(known_id, b"") if known_id is not None else b""
                steps.append(Step(token=token_label(data), logprob=None, id=known_id,
                                  bytes=data))
                continue
            entry = need_dict(entry, f"{where}[{k}]")
            if not entry:
                raise FormatError(f"{where}[{k}] is empty")
            cands: list[tuple[int, float | None, int | None, Piece]] = []
            for key, val in entry.items():
                parsed = parse_id(key)
                if parsed is None:
                    raise FormatError(f"{where}[{k}] has a key that is not a token id "
                                      f"({key[:20]!r})")
                tid = parsed
                val = need_dict(val, f"{where}[{k}][{key[:20]}]")
                decoded = val.get("decoded_token")
                if isinstance(decoded, str) and token_id(decoded) is None:
                    piece = token_piece(decoded)
                elif tid in self.vocab:
                    piece = Piece(str(decoded), self.vocab[tid])
                else:
                    raise FormatError(f"{where}[{k}] gives token {tid} without its text "
                                      f"({FLAG_HINT})")
                cands.append((tid, raw_value(val.get("logprob")), opt_int(val.get("rank")),
                              piece))
            chosen_id = known_id if known_id is not None else cands[0][0]
            chosen = next((c for c in cands if c[0] == chosen_id), None)
            if chosen is None:
                raise FormatError(f"{where}[{k}] does not hold the prompt token {chosen_id}")
            ranks = sorted(r for _, _, r, _ in cands if r is not None)
            contiguous = ranks == list(range(1, len(cands) + 1))
            top = [candidate(p, lp, tid) for tid, lp, _, p in cands
                   if tid != chosen_id or contiguous]
            step = make_step(chosen[3], chosen[1], chosen_id, top)
            rank = chosen[2]
            step.vocab_rank = rank if rank is not None and rank > 0 else None
            steps.append(step)
        self.judge.settle(steps, where)
        return steps

    # --- after the fit ----------------------------------------------------------------

    def _check_known(self, pieces: list[Piece], steps: list[Step], where: str) -> None:
        missing = [k for k, p in enumerate(pieces) if p.hidden == b"(?s:.*?)"]
        if missing:
            raise FormatError(f"{where}[{missing[0]}] is a token id only "
                              f"({pieces[missing[0]].label}) and the file shows its text "
                              f"nowhere: {len(missing)} such tokens; {FLAG_HINT}")
        self.pending += [s for s in steps if any(c.token == UNKNOWN_LABEL and c.id is not None
                                                 for c in s.top)]

    def fill_alternatives(self, steps: list[Step]) -> None:
        """Alternatives known by id only get the bytes the chosen tokens revealed."""
        for s in steps:
            if s.id is not None and REPLACEMENT.encode() not in s.data:
                self.vocab.setdefault(s.id, s.data)
        for s in self.pending:
            changed = False
            for c in s.top:
                if c.token == UNKNOWN_LABEL and c.id is not None and c.id in self.vocab:
                    c.bytes = self.vocab[c.id]
                    c.token = token_label(c.bytes)
                    changed = True
            if changed:
                s.top = sort_top(s.top)
        self.pending = []


def completing_tokens(pieces: list[Piece]) -> None:
    """A token that completes a character carries the whole character in vLLM's text.

    vLLM's detokenizer writes "" for a byte-fallback token that ends inside a character and
    gives the whole character to the token that completes it ("", "", "", "𠮷" for the four
    byte tokens of 𠮷). Fitted as they are, the empty ones would get no bytes and the last
    all four. The completing token's own bytes are the character's last bytes and the rest
    of its label, so it is fitted with the empty ones before it (at least one byte each),
    which gives each byte token its byte."""
    for k in range(1, len(pieces)):
        p = pieces[k]
        if (p.hidden is None and p.label and not p.label[0].isascii()
                and pieces[k - 1].hidden is not None and pieces[k - 1].label == ""):
            first = p.label[0].encode()
            rest = re.escape(p.label[1:].encode())
            pieces[k] = Piece(p.label, p.data,
                              b"[\x80-\xbf]{1,%d}" % len(first) + rest, p.at)


def _listed_first_and_last(step: Step, top: list[Candidate]) -> bool:
    """vLLM's order puts the chosen token first; strictly lowest there means ambiguous."""
    if step.logprob is None or len(top) < 2 or not is_chosen(step, top[0]):
        return False
    others = [c.logprob for c in top[1:] if c.logprob is not None]
    return bool(others) and all(x > step.logprob for x in others)


def parse(doc: Any, file: str | None = None) -> list[Trace]:
    reader = Reader()
    traces = _parse(doc, file, reader)
    for t in traces:  # what the numbers are: raw unless they prove to be logits
        t.logprobs_kind = reader.judge.kind or KIND
        if reader.judge.note:
            add_note(t, reader.judge.note)
    return traces


def _parse(doc: Any, file: str | None, reader: Reader) -> list[Trace]:
    docs = doc if isinstance(doc, list) else [doc]
    if openai_chat.matches(doc):
        prompt_lp, prompt_ids = None, None
        for d in docs:
            if isinstance(d, dict) and d.get("prompt_logprobs") is not None:
                prompt_lp, prompt_ids = d["prompt_logprobs"], d.get("prompt_token_ids")
        reader.learn_prompt(prompt_lp, "prompt_logprobs")
        traces = openai_chat.parse(doc, file, NAME, reader=reader.chat_items)
        for t in traces:
            reader.fill_alternatives(t.steps)
            if prompt_lp is not None:
                _attach_prompt(t, reader.prompt_steps(prompt_lp, prompt_ids, "prompt_logprobs"),
                               chat=True)
        return traces
    model, usage, gathered = openai_completions.gather(doc)
    traces = []
    for i in sorted(gathered):
        raw = gathered[i]["raw"]
        plp = next((c.get("prompt_logprobs") for c in raw
                    if c.get("prompt_logprobs") is not None), None)
        pids = next((c.get("prompt_token_ids") for c in raw
                     if c.get("prompt_token_ids") is not None), None)
        reader.learn_prompt(plp, f"choices[{i}].prompt_logprobs")
        t = openai_completions.build(gathered[i], i, model, usage, file, NAME,
                                     reader.completion_logprobs)
        reader.fill_alternatives(t.prompt_steps + t.steps)
        if plp is not None and not t.prompt_steps:
            _attach_prompt(t, reader.prompt_steps(plp, pids, f"choices[{i}].prompt_logprobs"))
        elif plp is not None:
            merge_prompt_logprobs(t.prompt_steps, reader, plp)
        traces.append(t)
    return traces


def merge_prompt_logprobs(steps: list[Step], reader: Reader, plp: Any) -> None:
    """Ids, vocabulary ranks and id-keyed alternatives from `prompt_logprobs` onto the
    echoed prompt steps (the same positions; vLLM sends both for an echo), whose bytes are
    already fitted to the text. The echo's alternatives are keyed by text, where several
    byte tokens collapse into one "" entry; these are keyed by id."""
    if not isinstance(plp, list) or len(plp) != len(steps):
        return
    reader.learn_prompt(plp, "prompt_logprobs")
    extra = reader.prompt_steps(plp, None, "prompt_logprobs")
    for s, p in zip(steps, extra):
        if p.id is None:
            continue
        s.id = p.id
        s.vocab_rank = p.vocab_rank
        s.entropy = p.entropy
        for c in p.top:
            if c.id == s.id:
                c.bytes, c.token = s.data, s.token
        s.top = p.top


def _attach_prompt(trace: Trace, steps: list[Step], chat: bool = False) -> None:
    """`steps` as the trace's prompt. A chat prompt is the rendered conversation, which
    begins with the chat template's opening control token (Gemma's and Llama's `<bos>`):
    vLLM gives it no entry, and where its bytes are not known or its label is a control
    token it is a `special` step (no bytes of the text, left out of every count), as the
    `<bos>` of an echo is."""
    trace.prompt_steps = steps
    first = steps[0] if steps else None
    if chat and first is not None and first.logprob is None and (
            not first.data or openai_completions.is_control(first.token)):
        first.bytes, first.special, first.top, first.entropy = b"", True, [], None
        if not first.token:
            first.token = "<control token>"
    settle_prompt(trace)
    if first is not None and first.id is None:
        add_note(trace, "the first prompt token is not reported (vLLM gives no entry for it)")
