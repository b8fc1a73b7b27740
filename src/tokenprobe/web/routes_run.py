"""The API's engine work: generate, branch, score, compare, choose, and stopping a job.

Each POST validates its body (schemas.py, then the library's request checks), queues a job
on its model's lane (503 if the queue is full) and answers with a stream of server-sent
events (sse.py; the events are in docs/web.md). Nothing here computes anything: the work
functions call the library (runs.py).

It leaves out the history, the models and health (routes_data.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from starlette.concurrency import run_in_threadpool

from tokenprobe.backends import Backend, TraceStream, backend_class, validate_request
from tokenprobe.errors import InputError, TokenprobeError
from tokenprobe.ops.branch import branch_stream
from tokenprobe.trace import Request, Trace
from tokenprobe.web.errors import NoModelFor
from tokenprobe.web.jobs import Job
from tokenprobe.web.runs import run_choose, run_compare, score_text, stream_trace
from tokenprobe.web.schemas import BranchIn, ChooseIn, CompareIn, GenerateIn, ScoreIn
from tokenprobe.web.sse import EventStreamResponse, job_events
from tokenprobe.web.state import AppState, get_state

router = APIRouter(prefix="/api", tags=["run"])
State = Annotated[AppState, Depends(get_state)]
STOPPED = "stopped by the user"

SSE: dict[int | str, dict[str, Any]] = {
    200: {"description": "server-sent events: queued, started, trace, steps, summary, "
                         "progress, then one of done, error, cancelled (docs/web.md)",
          "content": {"text/event-stream": {"schema": {"type": "string"}}}},
    503: {"description": "the queue for this model is full"},
}


def _submit(st: AppState, kind: str, lane: str, work: Any,
            models: tuple[str, ...] = ()) -> EventStreamResponse:
    job = Job(kind, lane, work, models)
    st.scheduler.submit(job)
    return EventStreamResponse(job_events(job, st.scheduler, st.config.heartbeat))


def to_request(body: GenerateIn) -> Request:
    messages = None
    prompt = body.prompt
    if body.mode == "chat":
        assert body.messages is not None  # the schema requires them
        messages = ([{"role": "system", "content": body.system}] if body.system else []) + [
            {"role": m.role, "content": m.content} for m in body.messages]
        prompt = body.messages[-1].content
    return Request(mode=body.mode, prompt=prompt, messages=messages,
                   temperature=body.temperature, top_p=body.top_p, top_k=body.top_k,
                   seed=body.seed, max_tokens=body.max_tokens, alternatives=body.alternatives,
                   stop=list(body.stop))


@router.post("/generate", response_class=EventStreamResponse, responses=SSE)
async def generate(body: GenerateIn, st: State) -> EventStreamResponse:
    """Generate a completion or a chat answer, streamed token by token."""
    entry = st.registry.get(body.model)
    request = to_request(body)
    validate_request(request)

    def open_stream() -> TraceStream:
        return st.registry.backend(entry.id).stream(request)

    return _submit(st, "generate", entry.lane,
                   lambda job: stream_trace(job, open_stream, st.store), (entry.id,))


@router.post("/branch", response_class=EventStreamResponse, responses=SSE)
async def branch(body: BranchIn, st: State) -> EventStreamResponse:
    """Continue a saved trace from one step with another token there, streamed."""
    parent = await run_in_threadpool(st.record_trace, body.trace_id)
    n = len(parent.steps)
    if not 0 <= body.step < n:
        raise InputError(f"step {body.step} is outside the trace (it has {n} steps)")
    # Only an offered model, with its own server and key: a saved trace may come from a
    # file, and the server it names gets nothing from this server's keys.
    entry = await run_in_threadpool(st.registry.for_trace, parent)  # it resolves paths
    if entry is None:
        raise _no_model_for(parent)
    by_id = entry.backend_class.branches == "ids"
    token, token_id = body.token, None
    if body.candidate is not None:
        top = parent.steps[body.step].top
        if body.candidate >= len(top):
            raise InputError(f"step {body.step} lists {len(top)} alternatives; there is no "
                             f"alternative {body.candidate}")
        cand = top[body.candidate]
        if by_id and cand.id is not None:
            token = None
            token_id = cand.id
        else:
            try:
                token = bytes(cand.data or b"").decode("utf-8")
            except UnicodeDecodeError:
                raise InputError("that alternative is part of a character; a server branch "
                                 "needs whole text") from None

    def open_stream() -> TraceStream:
        return branch_stream(parent, body.step, token, token_id, model=entry.spec,
                             options=entry.options, seed=body.seed,
                             max_tokens=body.max_tokens)

    return _submit(st, "branch", entry.lane,
                   lambda job: stream_trace(job, open_stream, st.store), (entry.id,))


def _no_model_for(parent: Trace) -> NoModelFor:
    """The 422 for a trace whose model is not offered, with the model to add."""
    if parent.backend in ("import", ""):
        return NoModelFor("this trace was imported without the model that made it: there "
                          "is no model to continue it with", None, None)
    try:
        cls = backend_class(parent.backend, prefix=True)
    except TokenprobeError:
        cls = Backend  # a backend not registered here: its spec as the trace names it
    spec, where, shown = cls.missing(parent)
    # A server that reported processed logprobs or logits is offered as such again.
    kind = parent.logprobs_kind if parent.logprobs_kind in ("processed", "logits") else None
    return NoModelFor(f"this trace came from {where}, which this server does not offer: add "
                      "it (with its key, if it needs one) to continue the trace",
                      spec, shown, kind)


@router.post("/score", response_class=EventStreamResponse, responses=SSE)
async def score(body: ScoreIn, st: State) -> EventStreamResponse:
    """Score a given text: how surprising each of its tokens is to the model."""
    entry = st.registry.get(body.model)
    return _submit(st, "score", entry.lane, lambda job: score_text(
        job, lambda: st.registry.backend(entry.id), body.text, body.alternatives, st.store),
        (entry.id,))


@router.post("/compare", response_class=EventStreamResponse, responses=SSE)
async def compare(body: CompareIn, st: State) -> EventStreamResponse:
    """Run variants side by side (every combination of the values given)."""
    wanted: list[str | None] = list(body.models) if body.models else [None]
    entries = [st.registry.get(m) for m in wanted]
    lane = next((e.lane for e in entries if e.local), entries[0].lane)
    kwargs = {"prompts": body.prompts, "systems": body.systems,
              "temperatures": body.temperatures,
              "models": [e.id for e in entries] if body.models else None,
              "samples": body.samples, "seed": body.seed, "answer": body.answer,
              "chat": body.chat, "max_tokens": body.max_tokens, "top_p": body.top_p,
              "alternatives": body.alternatives}
    return _submit(st, "compare", lane, lambda job: run_compare(
        job, st.registry.backend, st.store, **kwargs), tuple(e.id for e in entries))


@router.post("/choose", response_class=EventStreamResponse, responses=SSE)
async def choose(body: ChooseIn, st: State) -> EventStreamResponse:
    """The probability the model gives each complete option after the prompt."""
    from tokenprobe.ops.choose import validate_options

    validate_options(body.options)
    entry = st.registry.get(body.model)
    if body.system and not body.chat:
        raise InputError("system needs chat: true (a completion has no system prompt)")
    return _submit(st, "choose", entry.lane, lambda job: run_choose(
        job, st.store, prompt=body.prompt, options=body.options, model=entry.spec,
        chat=body.chat, system=body.system, alternatives=body.alternatives,
        backend_options=entry.options), (entry.id,))


JobId = Annotated[str, Path(max_length=64)]


@router.post("/jobs/{job_id}/cancel")
async def cancel(job_id: JobId, st: State) -> dict[str, str]:
    """Stop a job: a waiting one leaves the queue; a running one keeps what it made."""
    return {"job": job_id, "state": st.scheduler.cancel(job_id, STOPPED)}


@router.get("/jobs/{job_id}")
async def job_state(job_id: JobId, st: State) -> dict[str, Any]:
    """A waiting or running job's state and queue position."""
    job = st.scheduler.jobs.get(job_id)
    if job is None:
        from tokenprobe.web.jobs import UnknownJob

        raise UnknownJob(f"no job {job_id!r} is waiting or running")
    return {"job": job.id, "kind": job.kind, "state": job.state, "position": job.position}
