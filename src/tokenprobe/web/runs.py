"""What a job does in its worker thread: run one library operation and tell the page.

- `stream_trace`: a generation or a branch (a `TraceStream`): every step goes out as it is
  made (`steps`, in the page encoding, LiveEncoder), a reasoning model's thinking tokens
  as they come (`thinking`, the same encoding and vocabulary), with the summary every
  quarter second;
  when the page asks to stop, the stream is interrupted and the trace (marked incomplete)
  is kept; a server that fails part-way leaves the tokens received. Every trace is saved to
  the history, whole or not.
- `score_text`, `run_compare`, `run_choose`: the library's operation with `progress`
  events (positions, runs, options); a stop request ends it between two pieces of work
  (the progress callback raises), and nothing is saved.

Each ends with exactly one terminal event: `done`, `error` or `cancelled` (docs/web.md).
It leaves out queueing (jobs.py) and the HTTP layer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tokenprobe.backends import Backend, GenerationError, TraceStream
from tokenprobe.errors import TokenprobeError
from tokenprobe.ops.choose import choose
from tokenprobe.ops.compare import compare
from tokenprobe.reasoning import ThinkingSteps
from tokenprobe.store import Store
from tokenprobe.trace import Trace
from tokenprobe.views.encode import LiveEncoder, summary_of
from tokenprobe.web.jobs import Job
from tokenprobe.web.payloads import choice_payload, comparison_payload, trace_payload

SUMMARY_EVERY = 0.25  # seconds between live summaries (the last one is always sent)


class Stopped(TokenprobeError):
    """The page asked a job to stop between two pieces of work."""


def _save(store: Store | None, save: Callable[[Store], Any]) -> dict[str, Any]:
    if store is None:
        return {"saved": None}
    try:
        return {"saved": save(store)}
    except TokenprobeError as e:  # the work is done: show it, and say why it is not kept
        return {"saved": None, "save_error": str(e)}


def _check(job: Job) -> None:
    if job.stop_reason is not None:
        raise Stopped(job.stop_reason)


def stream_trace(job: Job, open_stream: Callable[[], TraceStream], store: Store | None) -> None:
    """Run a live generation (or branch) for the page; see the module docstring."""
    t_open = time.perf_counter()
    try:
        stream = open_stream()
    except TokenprobeError as e:
        job.emit("error", {"job": job.id, "message": str(e)})
        return
    if job.stop_reason is not None:
        job.emit("cancelled", {"job": job.id, "reason": job.stop_reason})
        return
    trace = stream.trace
    job.emit("trace", {"job": job.id, "trace": trace_payload(trace)})
    encoder = LiveEncoder()
    t_first = t_last = 0.0
    n = 0
    last_summary = time.perf_counter()
    failure: str | None = None
    described = False
    try:
        for item in stream.events():
            t_last = time.perf_counter()
            batch = encoder.encode(item.steps if isinstance(item, ThinkingSteps) else [item])
            if not described:
                described = True
                # Known only once the backend has started (the tail grid, a server's model,
                # the vocabulary size that bounds values at other temperatures).
                batch["trace"] = {"tail_temperatures": trace.tail_temperatures,
                                  "logprobs_kind": trace.logprobs_kind, "model": trace.model,
                                  "source": trace.source, "vocab_size": trace.vocab_size}
            if isinstance(item, ThinkingSteps):  # a reasoning model's thinking, live
                batch["reset"] = item.reset
                batch["source"] = trace.reasoning.source if trace.reasoning else None
                job.emit("thinking", batch)
                if job.stop_reason is not None:
                    stream.interrupt(job.stop_reason)
                    break
                continue
            if n == 0:
                t_first = t_last
            n += 1
            job.emit("steps", batch)
            if t_last - last_summary >= SUMMARY_EVERY:
                job.emit("summary", {"summary": summary_of(trace)})
                last_summary = t_last
            if job.stop_reason is not None:
                stream.interrupt(job.stop_reason)
                break
    except GenerationError as e:  # broke part-way: the trace keeps the tokens received
        failure = str(e)
    except TokenprobeError as e:  # failed before the first token: nothing to keep
        job.emit("error", {"job": job.id, "message": str(e)})
        return
    timing = {"ttft_ms": round(1000 * (t_first - t_open), 2) if n else None,
              "tokens": n,
              "tokens_per_s": round((n - 1) / (t_last - t_first), 2)
              if n > 1 and t_last > t_first else None}
    body = {"job": job.id, "trace": trace_payload(trace), "timing": timing,
            **_save(store, lambda s: s.save_trace(trace))}
    if failure is not None:
        job.emit("error", {**body, "message": failure})
    else:
        job.emit("done", body)


def _run_op(job: Job, op: Callable[[Callable[[int, int], None]], dict[str, Any]]) -> None:
    """Run `op(progress)`, which returns the `done` event's body."""

    def progress(done: int, total: int) -> None:
        job.emit("progress", {"job": job.id, "done": done, "total": total})
        _check(job)

    try:
        _check(job)
        body = op(progress)
    except Stopped as e:
        job.emit("cancelled", {"job": job.id, "reason": str(e)})
        return
    except TokenprobeError as e:
        job.emit("error", {"job": job.id, "message": str(e)})
        return
    job.emit("done", {"job": job.id, **body})


def score_text(job: Job, backend: Callable[[], Backend], text: str, alternatives: int,
               store: Store | None) -> None:
    def op(progress: Callable[[int, int], None]) -> dict[str, Any]:
        trace: Trace = backend().score(text, alternatives=alternatives, progress=progress)
        return {"trace": trace_payload(trace), **_save(store, lambda s: s.save_trace(trace))}

    _run_op(job, op)


def run_compare(job: Job, get_model: Callable[[str | None], Backend], store: Store | None,
                **kwargs: Any) -> None:
    def op(progress: Callable[[int, int], None]) -> dict[str, Any]:
        c = compare(get_model=get_model, progress=progress, **kwargs)
        title = " | ".join(v.label for v in c.variants)
        saved = _save(store, lambda s: s.save_document(
            c.id, "comparison", c.created, title, c.to_dict(), text=c.answer or ""))
        return {"comparison": comparison_payload(c), **saved}

    _run_op(job, op)


def run_choose(job: Job, store: Store | None, **kwargs: Any) -> None:
    def op(progress: Callable[[int, int], None]) -> dict[str, Any]:
        ch = choose(progress=progress, **kwargs)
        saved = _save(store, lambda s: s.save_document(
            ch.id, "choice", ch.created, ch.prompt, ch.to_dict(), model=ch.model,
            text=" | ".join(o.option for o in ch.options)))
        return {"choice": choice_payload(ch), **saved}

    _run_op(job, op)
