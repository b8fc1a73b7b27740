"""The compact page encoding: how traces travel inside an exported HTML page.

A trace's own JSON form repeats every key for every candidate; a 20,000-token trace with ten
alternatives per token is about 15 MB in it. A page needs something that opens fast, so this
module writes the traces as a `tokenprobe/page@1` document instead: the top-level fields of
each trace as they are, distinct token labels stored once (`vocab`), and the steps as
parallel columns of integers (described in docs/architecture.md, "The HTML viewer"): numbers
in nats are stored as counts of 1e-4 nats, which moves a probability by at most 0.005% of
itself, and the sorted ones as differences.

It also precomputes what needs the Python side's rules (a step's rank and which listed
candidate is the chosen one, and the summary from metrics.py), so the page and the terminal
agree. `LiveEncoder` writes steps in the same columns as they are made, for the web app's
stream (a page's vocabulary is ordered by frequency, known only at the end; a live one
grows in order of first appearance). It leaves out the page itself (html.py) and leaves
the trace schema untouched: the page encoding is a view format, not a second trace format
(token ids and offsets are not kept).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Protocol

from tokenprobe.metrics import scored_steps, summarize, thinking_summary
from tokenprobe.trace import SCHEMA, Candidate, Step, Trace, is_chosen

PAGE_FORMAT = "tokenprobe/page@1"
QUANTUM = 1e-4  # nats: every logprob, entropy and tail sum is an integer count of these


def _q(x: float | None) -> int | None:
    return None if x is None else round(x / QUANTUM)


def _deltas(values: list[float | None]) -> list[int | None]:
    """Quantised values as the first one, then each as its predecessor minus itself.

    `top` lists are sorted by logprob and tail sums fall as 1/T grows, so the differences
    are small positive numbers: a few digits each instead of seven. A null stays null and
    the chain goes on from the last value that was not.
    """
    out: list[int | None] = []
    prev: int | None = None
    for v in values:
        q = _q(v)
        if q is None:
            out.append(None)
            continue
        out.append(q if prev is None else prev - q)
        prev = q
    return out


class _Indexer(Protocol):
    def __getitem__(self, c: Candidate | Step) -> int: ...


class _Vocab:
    """Distinct (label, bytes) pairs, each stored once; a step refers to its index.

    Indices are given by frequency, most frequent first, so common tokens cost one or two
    digits wherever they are referred to.
    """

    def __init__(self, traces_steps: list[list[Step]]) -> None:
        counts: Counter[tuple[str, bytes]] = Counter()
        for steps in traces_steps:
            for s in steps:
                counts[(s.token, s.data)] += 1
                counts.update((c.token, c.data) for c in s.top)
        self.index: dict[tuple[str, bytes], int] = {}
        self.labels: list[str] = []
        self.bytes: list[list[Any]] = []  # [index, [b, ...]] where bytes differ from label
        for (label, data), _ in counts.most_common():
            i = self.index[(label, data)] = len(self.labels)
            self.labels.append(label)
            if data != label.encode("utf-8"):
                self.bytes.append([i, list(data)])

    def __getitem__(self, c: Candidate | Step) -> int:
        return self.index[(c.token, c.data)]


class _GrowingVocab:
    """Labels indexed in order of first appearance; new entries are collected until taken,
    as `[index, label]`, or `[index, label, [bytes…]]` where the bytes differ from the
    label's UTF-8."""

    def __init__(self) -> None:
        self.index: dict[tuple[str, bytes], int] = {}
        self._new: list[list[Any]] = []

    def __getitem__(self, c: Candidate | Step) -> int:
        key = (c.token, c.data)
        i = self.index.get(key)
        if i is None:
            i = self.index[key] = len(self.index)
            entry: list[Any] = [i, c.token]
            if c.data != c.token.encode("utf-8"):
                entry.append(list(c.data))
            self._new.append(entry)
        return i

    def take_new(self) -> list[list[Any]]:
        new, self._new = self._new, []
        return new


class LiveEncoder:
    """Steps in the page encoding as they are made, for a stream that the page appends.

    Each `encode(steps)` gives `{"vocab": [new entries], "steps": columns}`: the columns of
    `encode_trace` for just these steps, with indices into one vocabulary that only grows,
    so a reader can append batch after batch (the viewer's LiveDoc does).
    """

    def __init__(self) -> None:
        self._vocab = _GrowingVocab()

    def encode(self, steps: list[Step]) -> dict[str, Any]:
        cols = _columns(steps, self._vocab)
        return {"vocab": self._vocab.take_new(), "steps": cols}


def chosen_index(step: Step) -> int:
    """Index in `top` of the listed candidate that is the chosen token, or -1."""
    if step.logprob is None and step.logit is None:
        return -1
    for i, c in enumerate(step.top):
        if is_chosen(step, c):
            return i
    return -1


def _columns(steps: list[Step], vocab: _Indexer) -> dict[str, Any]:
    cols: dict[str, list[Any]] = {k: [] for k in (
        "tok", "lp", "slp", "rank", "chosen", "H", "Hx", "top_n", "top_tok", "top_lp",
        "tail_n", "tail", "forced", "special", "lg", "top_lg")}
    for s in steps:
        # A server's logits (logprobs_kind "logits"), where it reported those instead of
        # logprobs: shown as logits, labelled, never as probabilities.
        cols["lg"].append(_q(s.logit))
        cols["top_lg"].extend(_q(c.logit) for c in s.top)
        cols["tok"].append(vocab[s])
        cols["lp"].append(_q(s.logprob))
        cols["slp"].append(_q(s.sample_logprob))
        cols["rank"].append(s.rank())
        cols["chosen"].append(chosen_index(s))
        cols["H"].append(_q(s.entropy))
        cols["Hx"].append(1 if s.entropy_exact else 0)
        cols["top_n"].append(len(s.top))
        cols["top_tok"].extend(vocab[c] for c in s.top)
        cols["top_lp"].extend(_deltas([c.logprob for c in s.top]))
        tail = s.tail_logsumexp or []
        cols["tail_n"].append(len(tail))
        cols["tail"].extend(_deltas(list(tail)))
        cols["forced"].append(1 if s.forced else 0)
        cols["special"].append(1 if s.special else 0)
    out: dict[str, Any] = {"n": len(steps), **cols}
    if not any(cols["tail_n"]):
        del out["tail_n"], out["tail"]
    if all(v is None for v in cols["slp"]):
        del out["slp"]
    if not any(cols["forced"]):
        del out["forced"]
    if not any(cols["special"]):
        del out["special"]
    if all(v is None for v in cols["lg"]) and all(v is None for v in cols["top_lg"]):
        del out["lg"], out["top_lg"]
    return out


def summary_of(trace: Trace, n_least: int = 10) -> dict[str, Any]:
    """The page's summary block for a trace (also sent live while it is being made)."""
    return _summary(trace, n_least)


def _summary(trace: Trace, n_least: int) -> dict[str, Any]:
    s = summarize(trace, n_least=n_least)
    return {
        "scope": "steps" if trace.steps else "prompt_steps",
        "tokens": s.tokens, "reported": s.reported, "missing": s.missing,
        "no_context_first": s.no_context_first,
        "total_logprob": s.total_logprob, "mean_logprob": s.mean_logprob,
        "geometric_mean_prob": s.geometric_mean_prob,
        "arithmetic_mean_prob": s.arithmetic_mean_prob,
        "sequence_prob": s.sequence_prob, "perplexity": s.perplexity,
        "mean_entropy": s.mean_entropy, "entropy_exact": s.entropy_exact,
        "entropies": sum(1 for x in scored_steps(trace) if x.entropy is not None),
        "top1_share": s.top1_share, "not_top": s.not_top,
        "least": [i for i, _ in s.least_likely],
    }


def _thinking(trace: Trace, vocab: Any) -> dict[str, Any]:
    """The trace's `reasoning` with its steps as columns and its own summary figures."""
    r = trace.reasoning
    assert r is not None
    t = thinking_summary(trace)
    return {"text": r.text, "source": r.source, "logprobs_for": r.logprobs_for,
            "text_steps": list(r.text_steps) if r.text_steps is not None else None,
            "steps": _columns(r.steps, vocab),
            "summary": None if t is None else {
                "tokens": t.tokens, "reported": t.reported, "missing": t.missing,
                "total_logprob": t.total_logprob, "mean_logprob": t.mean_logprob,
                "geometric_mean_prob": t.geometric_mean_prob,
                "arithmetic_mean_prob": t.arithmetic_mean_prob, "perplexity": t.perplexity,
                "mean_entropy": t.mean_entropy, "entropy_exact": t.entropy_exact,
                "top1_share": t.top1_share}}


def encode_trace(trace: Trace, n_least: int = 10) -> dict[str, Any]:
    """One trace in the page encoding (see the module docstring)."""
    doc: dict[str, Any] = {"schema": trace.schema, "id": trace.id, "model": trace.model,
                           "backend": trace.backend}
    if trace.schema != SCHEMA:
        # A newer schema: pass its identity through, and let the page say it cannot read it.
        return doc
    doc.update({
        "created": trace.created, "source": trace.source, "request": trace.request.to_dict(),
        "logprobs_kind": trace.logprobs_kind, "text": trace.text,
        "finish_reason": trace.finish_reason, "complete": trace.complete, "error": trace.error,
        "tail_temperatures": trace.tail_temperatures,
    })
    if trace.vocab_size is not None:  # bounds re-normalisation without a tail summary
        doc["vocab_size"] = trace.vocab_size
    if trace.parent is not None:
        doc["parent"] = trace.parent
    thinking = trace.reasoning.steps if trace.reasoning is not None else []
    vocab = _Vocab([trace.prompt_steps, trace.steps, thinking])
    doc["prompt_steps"] = _columns(trace.prompt_steps, vocab)
    doc["steps"] = _columns(trace.steps, vocab)
    if trace.reasoning is not None:  # a reasoning model's thinking, in the same columns
        doc["reasoning"] = _thinking(trace, vocab)
    if trace.internals is not None:  # attention and the logit lens, as the trace has them
        doc["internals"] = trace.internals.to_dict()
    doc["vocab"] = vocab.labels
    doc["vocab_bytes"] = vocab.bytes
    doc["summary"] = _summary(trace, n_least)
    return doc


def encode_page(traces: list[Trace], title: str | None = None) -> dict[str, Any]:
    """A page of traces; traces linked by `parent` also get the page's `tree` field."""
    from tokenprobe.views.encode_ops import encode_tree  # it builds on this module

    page: dict[str, Any] = {"format": PAGE_FORMAT, "title": title,
                            "traces": [encode_trace(t) for t in traces]}
    tree = encode_tree(traces)
    if tree is not None:
        page["tree"] = tree
    return page


def embed_json(doc: dict[str, Any]) -> str:
    """JSON safe to place inside <script type="application/json">.

    Every `<` becomes the JSON escape \\u003c, so neither `</script>` nor `<!--` (which
    switches the HTML tokenizer into its script-data-escaped state) can appear in the
    element, and JSON.parse still reads the same strings. U+2028/9 are escaped for older
    readers that treat the content as JavaScript.
    """
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("<", "\\u003c").replace("\u2028", "\\u2028")
            .replace("\u2029", "\\u2029"))
