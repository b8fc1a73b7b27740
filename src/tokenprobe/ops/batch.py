"""Batch: many prompts against a model, concurrently, each finished trace appended at once.

Input is JSONL, one prompt per line: `{"id": "q1", "prompt": "..."}` or with `"messages"`
(a chat), and optionally per-line settings over the batch's defaults, each of its own type:
`chat` true or false; `max_tokens`, `top_k`, `alternatives` whole numbers; `seed` a whole
number or null; `temperature`, `top_p` finite numbers; `stop` a string or a list of
strings; `system` a string or null. A line that is a bare JSON string is a prompt. A line
without an id gets one from its content (so a re-run finds it again). Lines end at LF only
(a JSON string may hold U+2028 raw). Output is JSONL, one trace per line, in the order they
finish, with the line's id in the trace's `source.batch_id`.

Resuming: the ids already in the output are skipped, and a last line cut short by an
earlier interruption is dropped before anything is appended, so an interrupted batch
resumes and loses nothing. An answer that broke part-way is written too (marked
incomplete, with its error; for every backend, the local engine's and the native servers'
too) but does not count as done: the next run asks again and appends the whole answer
after it. A complete answer without tokens (the model stopped at once) is written and done;
an answer that failed before any token is not written, and is asked again next run. Each
trace is written with one `write` on a file opened for appending, so a killed run leaves
whole lines (at most the last one cut short, which the next run drops); the file is synced
to disk when the run ends.

Concurrency: server backends with an asynchronous path (`abilities.AsyncRequests`: the
openai backend) run N requests at once on one event loop; other backends (the local engine,
which serves one generation at a time) run in worker threads, N at once. When whole answers
are asked for and the machine has a core to spare, reading the answers (parsing, building
the trace, writing its JSON line) runs in worker processes (`read_whole`, rebuilt there from
`worker_spec`: `abilities.WorkerReading`), so that the event loop only talks to the server:
on two cores reading a 64-token answer with 5 alternatives costs about as much as the HTTP
exchange itself.

If the run itself fails (it is interrupted, or the progress callback raises), the answers
still running are cancelled and awaited before the output is closed, so that nothing is
written to it afterwards. One prompt's failure of any kind is that prompt's, never the run's.

Scoring (`read_texts`): one text per line, `{"id": "t1", "text": "..."}` or a bare string;
each is scored (the text's tokens and their logprobs, `Backend.score`) and written as a
score trace whose `source.score` holds the text's summary: `tokens` scored (the engine's
`<bos>` and tokens without a reported logprob left out), `total_logprob` and `perplexity`
= exp(−total / tokens) (none for a trace of logits). Servers with an asynchronous scoring
path (`afetch_score` / `read_score`, the openai backend) are asked N at a time on the event
loop, like answers; the same resuming rules apply. An item with a fixed `answer` is scored
after its prompt (`Backend.score_continuation`, in a worker thread) and written as that
trace, under the same rules.

It leaves out the command line and its progress bar (cli/batch.py).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import math
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokenprobe.backends import Backend
from tokenprobe.backends.abilities import AsyncRequests, AsyncScoring, WorkerReading
from tokenprobe.backends.base import GenerationError
from tokenprobe.errors import FormatError, InputError, ModelError, TokenprobeError
from tokenprobe.fastjson import dumps_line
from tokenprobe.ops.batch_input import (  # noqa: F401 (offered here, where callers find them)
    SETTINGS,
    Item,
    read_prompts,
    read_texts,
)
from tokenprobe.trace import Request, Trace


@dataclass
class Result:
    done: int = 0  # written in this run
    skipped: int = 0  # already in the output
    failed: list[tuple[str, str]] = field(default_factory=list)  # (id, error)
    incomplete: int = 0  # written, but the server's answer broke part-way


def score_summary(trace: Trace) -> dict[str, Any]:
    """A scored text's totals: the tokens with a reported logprob (not the engine's <bos>),
    their total logprob and the perplexity exp(-total / tokens)."""
    lps = [s.logprob for s in trace.prompt_steps if not s.special and s.logprob is not None]
    unscored = sum(1 for s in trace.prompt_steps if not s.special and s.logprob is None)
    total = math.fsum(lps) if lps else None
    out: dict[str, Any] = {"tokens": len(lps), "total_logprob": total,
                           "perplexity": math.exp(-total / len(lps)) if lps else None}
    if unscored:
        out["without_logprob"] = unscored  # the first token, or logits, or not reported
    return out


def done_ids(path: Path) -> set[str]:
    """Ids written to `path` with a complete trace, after dropping a last line cut short (a
    run killed in the middle of a write): the file then ends whole, ready to append to."""
    if not path.exists():
        return set()
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        with open(path, "r+b") as f:
            f.truncate(keep)
        data = data[:keep]
    ids: set[str] = set()
    # Lines end at LF only: a trace's text may hold U+2028 raw, which splitlines() cuts at.
    for n, line in enumerate(data.decode("utf-8", "replace").split("\n"), 1):
        if not line.strip(" \t\r"):
            continue
        try:
            doc = json.loads(line)
            ident = str(doc["source"]["batch_id"])
        except (ValueError, KeyError, TypeError):
            raise FormatError(f"{path} line {n} is not a batch trace; give another -o "
                              "file") from None
        if doc.get("complete", True):
            ids.add(ident)
    return ids


class _Appender:
    """One line per trace, each written whole by a single write."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, line: bytes) -> None:
        # One write on an O_APPEND descriptor: the line lands whole, after the previous one,
        # and is in the kernel (safe from the process being killed) when write returns.
        os.write(self.fd, line)

    def close(self) -> None:
        os.fsync(self.fd)  # and on disk before the run says it is done
        os.close(self.fd)


def trace_line(trace: Trace) -> bytes:
    return dumps_line(trace.to_dict())


# (item, error or None) after each prompt, in the order they finish.
Progress = Callable[[Item, str | None], None]
# What a finished answer leaves: its JSON line (None when it failed), whether the trace is
# complete (an incomplete one is written, and asked again next run), and why it failed.
_Outcome = tuple[bytes | None, bool, str | None]

# Below this many prompts a worker process costs more to start than it saves.
POOL_MIN_PROMPTS = 32


def _outcome(trace: Trace, batch_id: str) -> _Outcome:
    """What to write for a finished answer. Without tokens, a complete answer (the model
    stopped at once) is written and done, as asking again would give it again; an
    incomplete one holds nothing to keep, and is a failure asked again next run."""
    if not trace.steps and not trace.prompt_steps and not trace.complete:
        return None, False, trace.error or "no tokens"
    trace.source["batch_id"] = batch_id
    if trace.request.mode == "score":
        trace.source["score"] = score_summary(trace)
    return trace_line(trace), trace.complete, None


def _generate(backend: Backend, request: Request) -> Trace:
    """One answer from a backend without an asynchronous path (run in a worker thread):
    an answer that broke part-way is its partial trace, not a failure."""
    try:
        return backend.stream(request).run()
    except GenerationError as e:
        return e.trace


_worker_backend: Any = None


def _start_worker(spec: tuple[str, dict[str, Any]]) -> None:
    global _worker_backend
    module, _, name = spec[0].partition(":")
    _worker_backend = getattr(importlib.import_module(module), name)(**spec[1])


def _read_in_worker(request: Request, body: str, batch_id: str) -> _Outcome:
    if request.mode == "score":
        return _outcome(_worker_backend.read_score(request.prompt, request.alternatives or 0,
                                                   body), batch_id)
    return _outcome(_worker_backend.read_whole(request, body), batch_id)


def _reader_pool(backend: Backend, todo: int, stream: bool) -> ProcessPoolExecutor | None:
    """Worker processes for reading whole answers, when they pay for themselves."""
    if stream or not isinstance(backend, WorkerReading) or _cores() < 2 \
            or todo < POOL_MIN_PROMPTS:
        return None
    # forkserver: the workers do not inherit the event loop's threads and sockets.
    ctx = multiprocessing.get_context(
        "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn")
    return ProcessPoolExecutor(max_workers=_workers(), mp_context=ctx,
                               initializer=_start_worker, initargs=(backend.worker_spec(),))


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _workers() -> int:
    """Reading processes: the cores beside the event loop's, at most four."""
    return max(1, min(_cores() - 1, 4))


async def _score_one(backend: Backend, request: Request, client: Any) -> Trace:
    text, n = request.prompt or "", request.alternatives or 0
    if client is not None and isinstance(backend, AsyncScoring):
        body = await backend.afetch_score(text, n, client)
        return backend.read_score(text, n, body)
    return await asyncio.to_thread(backend.score, text, n)


async def _fetch_score(backend: Backend, request: Request, client: Any) -> str:
    if not isinstance(backend, AsyncScoring):
        raise ModelError(f"the {backend.name} backend cannot score a batch's texts here")
    return await backend.afetch_score(request.prompt or "", request.alternatives or 0, client)


async def run_batch(backend: Backend, items: list[Item], output: Path, concurrency: int = 8,
                    progress: Progress | None = None, stream: bool = False) -> Result:
    """Run every item not yet in `output`, `concurrency` at a time; append each trace.

    Server requests ask for whole answers (`stream=False`) unless told otherwise: nobody
    watches a batch's tokens arrive, and a whole body is much cheaper to read."""
    if concurrency < 1:
        raise InputError(f"--concurrency must be at least 1 (got {concurrency})")
    result = Result()
    done = done_ids(output)
    todo = [it for it in items if it.id not in done]
    result.skipped = len(items) - len(todo)
    appender = _Appender(output)
    limit = asyncio.Semaphore(concurrency)
    server = backend if isinstance(backend, AsyncRequests) else None
    client = server.async_client() if server is not None else None
    pool = _reader_pool(backend, len(todo), stream) if server is not None else None
    loop = asyncio.get_running_loop()
    workers = _workers()
    if pool is not None:
        # Start the workers now, while the first requests are out, not when their answers
        # come back.
        warm = [loop.run_in_executor(pool, int) for _ in range(workers)]

    async def answer(item: Item) -> _Outcome:
        # `limit` bounds the requests in flight; reading an answer in a worker process
        # does not hold a place, so the next request goes out meanwhile.
        scoring = item.request.mode == "score"
        if item.answer is not None:
            async with limit:
                trace = await asyncio.to_thread(backend.score_continuation, item.request,
                                                item.answer, item.request.alternatives or 0)
            return _outcome(trace, item.id)
        if pool is not None and server is not None:
            async with limit:
                body = await (_fetch_score(backend, item.request, client) if scoring
                              else server.afetch(item.request, client))
            return await loop.run_in_executor(pool, _read_in_worker, item.request, body,
                                              item.id)
        async with limit:
            if scoring:
                trace = await _score_one(backend, item.request, client)
            elif server is not None:
                trace = await server.agenerate(item.request, client, stream=stream)
            else:
                trace = await asyncio.to_thread(_generate, backend, item.request)
        return _outcome(trace, item.id)

    async def one(item: Item) -> None:
        try:
            line, complete, error = await answer(item)
        except TokenprobeError as e:
            line, complete, error = None, False, str(e)
        except Exception as e:  # one prompt's failure, whatever it is, is not the run's
            line, complete, error = None, False, f"{type(e).__name__}: {e}"
        if line is not None:
            appender.write(line)
            result.done += 1
            if not complete:
                result.incomplete += 1
        else:
            result.failed.append((item.id, error or "failed"))
        if progress is not None:
            progress(item, error)

    tasks: list[asyncio.Future[Any]] = [asyncio.ensure_future(one(it)) for it in todo]
    if pool is not None:
        tasks += warm
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        # gather leaves the others running when one fails: stop them, and wait until they
        # have, before the output is closed under them.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    finally:
        appender.close()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        if client is not None:
            await client.close()
    return result


def run_batch_sync(backend: Backend, items: list[Item], output: Path, concurrency: int = 8,
                   progress: Progress | None = None, stream: bool = False) -> Result:
    """`run_batch` to its end from synchronous code. Where this thread already runs an
    event loop (a Jupyter notebook; Playwright's synchronous API), asyncio.run would refuse
    to start, so the batch then runs on a loop in a thread of its own."""
    def main() -> Result:
        return asyncio.run(run_batch(backend, items, output, concurrency, progress, stream))

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return main()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = main()
        except BaseException as e:  # handed to the caller's thread as it is
            box["error"] = e

    worker = threading.Thread(target=target, name="tokenprobe-batch", daemon=True)
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["result"]  # type: ignore[no-any-return]
