"""The engine for models tokenprobe evaluates itself: a transformers model (backends/hf.py)
or a user's own model (own_model.py), anything that maps token ids to logits.

Given a forward function (the new token ids and a cache -> one row of logits per new
position, and the cache to pass next time) and a vocabulary adapter (text -> ids, id ->
bytes), it makes the same traces as the local llama engine: for every step the exact
full-vocabulary logsumexp, entropy, top-N and tail summary (distribution.RowAnalyzer), the
seeded sampler over the processed distribution (distribution.process / Sampler), and the
chosen token fed back through the cache. Scoring evaluates a text in chunks with a row for
every position, so memory stays bounded whatever the length. A forward that keeps no cache
(returns None) is given the whole context every time.

It leaves out loading models and tokenizers (hf.py, own_model.py) and anything about display.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Sequence
from typing import Any, Protocol

import numpy as np

from tokenprobe.backends.base import Backend, Progress
from tokenprobe.backends.row_steps import RowSteps, Sampling, finish_scored
from tokenprobe.backends.torch_capture import Capture, RowInside, check_kinds
from tokenprobe.distribution import (
    TAIL_TEMPERATURES,
    RowAnalyzer,
)
from tokenprobe.errors import InputError, ModelError
from tokenprobe.textbytes import TextAssembler
from tokenprobe.trace import Request, Step, Trace

# Positions per forward call when scoring: as many as keep a chunk's logits within
# ROWS_BYTES (256 rows of a 262,144-token vocabulary; a short text in one pass, which
# spares the per-call overhead of the model), at least CHUNK.
CHUNK = 64
ROWS_BYTES = 256 << 20


def chunk_rows(n_vocab: int) -> int:
    return max(CHUNK, min(4096, ROWS_BYTES // (4 * max(n_vocab, 1))))

# (new ids, the cache from the last call or None, whether every position needs its row)
# -> (rows: (n, V) float32, one per new position, or the last one only; the next cache)
Forward = Callable[[list[int], Any, bool], tuple[np.ndarray, Any]]


class Vocab(Protocol):
    """What the engine needs of a tokenizer."""

    n_vocab: int
    bos: int | None

    def encode(self, text: str, add_bos: bool) -> list[int]: ...

    def piece(self, token_id: int) -> tuple[str, bytes]:
        """(label, bytes); a control token has empty bytes and its name as label."""
        ...

    def is_eog(self, token_id: int) -> bool: ...

    def chat_ids(self, messages: list[dict[str, Any]]) -> list[int]: ...


class _Context:
    """The tokens evaluated so far and the model's cache for them."""

    def __init__(self, forward: Forward, n_vocab: int) -> None:
        self.forward = forward
        self.n_vocab = n_vocab
        self.ids: list[int] = []
        self.cache: Any = None

    def feed(self, new: list[int], all_rows: bool) -> np.ndarray:
        """Rows for the new positions (all of them, or only the last), float32 (n, V)."""
        if self.ids and self.cache is None:
            # No cache from the model: evaluate the whole context again.
            rows, _ = self.forward(self.ids + new, None, all_rows)
        else:
            rows, self.cache = self.forward(new, self.cache, all_rows)
        rows = as_rows(rows, self.n_vocab)
        if all_rows and rows.shape[0] > len(new):
            rows = rows[-len(new):]
        elif all_rows and rows.shape[0] != len(new):
            raise ModelError(f"the model gave {rows.shape[0]} rows of logits for "
                             f"{len(new)} positions")
        self.ids += new
        return rows


def as_rows(rows: Any, n_vocab: int) -> np.ndarray:
    """A model's logits as a C-contiguous float32 array (n, V); torch tensors included."""
    if type(rows) is np.ndarray and rows.ndim == 2 and rows.dtype == np.float32 \
            and rows.shape[1] == n_vocab and rows.flags.c_contiguous:
        return rows  # already so (a forward that called this itself): once per token
    if hasattr(rows, "detach"):  # a torch tensor: float32 on the CPU, then numpy (no copy)
        rows, f32 = rows.detach(), _torch_float32()
        if rows.dtype is not f32 or not rows.is_cpu:  # (a no-op .to() still costs a step)
            rows = rows.to("cpu", dtype=f32)
        rows = rows.numpy()
    arr = np.ascontiguousarray(rows, dtype=np.float32)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != n_vocab:
        raise ModelError(f"the model's logits have shape {tuple(arr.shape)}; expected "
                         f"(positions, {n_vocab})")
    return arr


def _torch_float32() -> Any:
    import torch

    return torch.float32


class LogitsBackend(RowSteps, Backend):
    """A backend over a forward function and a vocabulary: subclasses set `forward`,
    `vocab`, `model`, `n_ctx` (None: no limit) and `source()`."""

    logprobs_kind = "raw"
    local = True
    can_score = True
    can_score_answer = True
    branches = "ids"
    can_capture = True  # attention and the logit lens, where the model gives them
    forward: Forward
    # What the forward is asked to capture now ("attention", "lens"), and what it left for
    # each row it returned last (torch_capture.RowInside).
    capturing: tuple[str, ...] = ()
    inside: list[RowInside]
    vocab: Vocab
    n_ctx: int | None = None

    def _setup(self) -> None:
        self.n_vocab = self.vocab.n_vocab
        self.vocab_size = self.n_vocab
        self.bos = self.vocab.bos
        self._analyzer = RowAnalyzer(self.n_vocab)
        self._pieces: dict[int, tuple[str, bytes]] = {}
        self._lock = threading.Lock()
        self.inside = []

    # --- tokens ---------------------------------------------------------------------

    def piece(self, token_id: int) -> tuple[str, bytes]:
        hit = self._pieces.get(token_id)
        if hit is None:
            hit = self._pieces[token_id] = self.vocab.piece(token_id)
        return hit

    def prompt_tokens(self, request: Request) -> list[int]:
        if request.mode == "chat":
            return self.vocab.chat_ids(request.messages or [])
        return self.vocab.encode(request.prompt or "", add_bos=True)

    def forced_ids(self, text: str) -> list[int]:
        """Token ids that spell `text` exactly after other text (no <bos>)."""
        if not text:
            raise InputError("the forced text is empty")
        ids = self.vocab.encode(text, add_bos=False)
        if b"".join(self.piece(i)[1] for i in ids) != text.encode("utf-8"):
            raise InputError(f"the model's tokenizer cannot represent {text!r} exactly")
        return ids

    def _check_room(self, n_prompt: int, max_tokens: int) -> None:
        if self.n_ctx is None:
            return
        if n_prompt >= self.n_ctx:
            raise InputError(f"the prompt is {n_prompt} tokens, longer than the model's "
                             f"context of {self.n_ctx} tokens")
        if n_prompt + max_tokens > self.n_ctx:
            raise InputError(
                f"--max-tokens {max_tokens} with a prompt of {n_prompt} tokens exceeds the "
                f"context of {self.n_ctx} tokens (at most {self.n_ctx - n_prompt})")

    def prepare(self, request: Request) -> None:
        max_tokens = request.max_tokens if request.max_tokens is not None else 64
        self._check_room(len(self.prompt_tokens(request)), max_tokens)
        check_kinds(request.internals)

    # --- capture ----------------------------------------------------------------------

    def start_capture(self, kinds: tuple[str, ...]) -> None:
        """Make the forward capture `kinds` from now on (subclasses check they can)."""
        self.capturing = kinds

    def end_capture(self) -> None:
        self.capturing = ()
        self.inside = []

    def lens_logits(self, hidden: Any) -> np.ndarray:
        """Each layer's hidden state (layers, D) through the final norm and unembedding."""
        raise InputError(f"the {self.name} backend has no logit lens")

    def _capture(self, kinds: list[str], context: list[int]) -> Capture | None:
        if not kinds:
            return None
        kinds = check_kinds(kinds)
        self.start_capture(tuple(kinds))
        return Capture(kinds, [self.piece(t)[0] for t in context],
                       self.lens_logits if "lens" in kinds else None,
                       lambda i: self.piece(i)[0])

    # --- generation -----------------------------------------------------------------

    def generate_steps(self, request: Request, trace: Trace) -> Generator[Step, None, str | None]:
        return self._steps(request, trace, [], [])

    def continue_steps(self, request: Request, trace: Trace, after_prompt: list[int],
                       forced: list[int]) -> Generator[Step, None, str | None]:
        return self._steps(request, trace, after_prompt, forced)

    def _steps(self, request: Request, trace: Trace, after_prompt: list[int],
               forced: list[int]) -> Generator[Step, None, str | None]:
        """Steps after prompt + `after_prompt`: first the `forced` tokens (recorded with the
        probability the model gave them), then sampled ones, up to `max_tokens` in all."""
        prompt = self.prompt_tokens(request)
        tokens = prompt + after_prompt
        if not tokens:
            raise InputError("the prompt has no tokens")
        max_tokens = request.max_tokens if request.max_tokens is not None else 64
        n_new = max(max_tokens - len(after_prompt), len(forced))
        self._check_room(len(tokens), n_new)
        sampling = Sampling(request, trace)
        with self._lock:
            cap = self._capture(request.internals, prompt)
            try:
                ctx = self._context()
                row = ctx.feed(tokens, all_rows=False)[-1]
                for i in range(n_new):
                    is_forced = i < len(forced)
                    stats = sampling.stats(self._analyzer, row, draw=not is_forced)
                    chosen, sample_lp, tail = sampling.choose(
                        row, stats, forced[i] if is_forced else None)
                    step = self._step(row, chosen, stats, tail, sample_lp, forced=is_forced)
                    if cap is not None:
                        cap.record(len(after_prompt) + i, self.inside[-1], chosen, row)
                        trace.internals = cap.block
                    yield step
                    if i >= len(forced) - 1 and (self.vocab.is_eog(chosen)
                                                 or sampling.stopped(step.data)):
                        return "stop"
                    if i == n_new - 1:
                        break
                    row = ctx.feed([chosen], all_rows=False)[-1]
            finally:
                if cap is not None:
                    self.end_capture()
        return "length"

    def _context(self) -> _Context:
        return _Context(self.forward, self.n_vocab)

    # --- scoring --------------------------------------------------------------------

    def _rows(self, tokens: Sequence[int], first: int
              ) -> Generator[tuple[int, np.ndarray, RowInside | None]]:
        """(p, the row at p: the distribution of token p + 1, what position p captured or
        None) for p from `first` to the next-to-last position, the text evaluated in chunks
        of chunk_rows(V) positions."""
        chunk = chunk_rows(self.n_vocab)
        ctx = self._context()
        pos = 0
        n = len(tokens)
        while pos < n - 1:
            end = min(pos + chunk, n - 1)
            if end <= first:  # nothing asked for here: one chunk without rows kept
                ctx.feed(list(tokens[pos:end]), all_rows=False)
                pos = end
                continue
            rows = ctx.feed(list(tokens[pos:end]), all_rows=True)
            # A model without a cache may capture every position of the context: the
            # chunk's are the last ones.
            inside = self.inside[len(self.inside) - (end - pos):] if self.capturing else []
            for j in range(end - pos):
                if pos + j >= first:
                    yield pos + j, rows[j], inside[j] if inside else None
            pos = end

    def score_continuation(self, request: Request, answer: str, alternatives: int = 10
                           ) -> Trace:
        """The fixed `answer` after the request's prompt, teacher-forced (no sampling)."""
        trace, sampling, prompt, ids = self._answer_trace(request, answer, alternatives)
        tokens = prompt + ids
        assembler = TextAssembler()
        with self._lock:
            cap = self._capture(trace.request.internals, prompt)
            try:
                self._score_answer(trace, tokens, len(prompt), sampling, assembler, cap)
            finally:
                if cap is not None:
                    self.end_capture()
        trace.text = assembler.finish()
        trace.finish_reason = "length"
        trace.complete = True
        return trace

    def _score_answer(self, trace: Trace, tokens: list[int], n_prompt: int,
                      sampling: Sampling, assembler: TextAssembler, cap: Capture | None
                      ) -> None:
        for p, row, inside in self._rows(tokens, n_prompt - 1):
            # No draw: the statistics without the row's probabilities.
            stats = self._analyzer.analyze(row, sampling.n_alt)
            step = self._step(row, tokens[p + 1], stats, sampling.tail(row, stats),
                              forced=True)
            step.offset = assembler.add(step.data)
            trace.steps.append(step)
            if cap is not None and inside is not None:
                cap.record(p + 1 - n_prompt, inside, tokens[p + 1], row)
                trace.internals = cap.block

    def score(self, text: str, alternatives: int = 10, progress: Progress | None = None,
              internals: Sequence[str] = ()) -> Trace:
        """Every token of `text` teacher-forced; `internals`: what to capture inside the
        model at every position ("attention", "lens")."""
        tokens = self.vocab.encode(text, add_bos=True)
        if not tokens:
            raise InputError("the text has no tokens")
        if self.n_ctx is not None and len(tokens) > self.n_ctx:
            raise InputError(f"the text is {len(tokens)} tokens, longer than the model's "
                             f"context of {self.n_ctx} tokens")
        request = Request(mode="score", prompt=text, temperature=None, top_p=None,
                          top_k=None, max_tokens=None, alternatives=alternatives,
                          internals=check_kinds(list(internals)))
        trace = Trace(backend=self.name, model=self.model, request=request,
                      logprobs_kind=self.logprobs_kind, source=self.source(),
                      vocab_size=self.n_vocab)
        trace.tail_temperatures = list(TAIL_TEMPERATURES)
        label, data = self.piece(tokens[0])
        # The first token has no context, so no logprob; <bos> is the engine's, not the text's.
        steps = [Step(token=label, id=tokens[0], bytes=data, logprob=None,
                      special=self.bos is not None and tokens[0] == self.bos)]
        n = len(tokens) - 1
        with self._lock:
            cap = self._capture(request.internals, [])
            try:
                for p, row, inside in self._rows(tokens, 0):
                    stats = self._analyzer.analyze(row, alternatives)
                    steps.append(self._step(row, tokens[p + 1], stats, stats.tail_logsumexp))
                    if cap is not None and inside is not None:
                        cap.record(p + 1, inside, tokens[p + 1], row)
                    if progress is not None and (p % CHUNK == CHUNK - 1 or p == n - 1):
                        progress(p + 1, n)
            finally:
                if cap is not None:
                    self.end_capture()
        if cap is not None:
            trace.internals = cap.block
        return finish_scored(trace, steps, text)
