"""Server-sent events: a job's events to the page as they come, and the page's departure.

Each event is `event: NAME` and one `data:` line of JSON. Events waiting in the job's queue
are sent together in one write (a burst of tokens costs one syscall, not one each). While a
job waits with nothing to say, a comment line goes out every `heartbeat` seconds so that
proxies keep the connection open.

`EventStreamResponse` always listens for the client's disconnect while it streams (what
Starlette does only for older ASGI servers): when the page closes, the stream is cancelled
at once and `job_events` stops the job, which frees its place in the queue or interrupts
its generation (the tokens made so far are kept and saved).

It leaves out the queue (jobs.py) and what the events contain (runs.py, docs/web.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from tokenprobe.web.jobs import TERMINAL, Job, Scheduler

CLOSED = "the page was closed"


def frame(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"


class EventStreamResponse(StreamingResponse):
    media_type = "text/event-stream"

    def __init__(self, content: AsyncIterator[str], status_code: int = 200) -> None:
        super().__init__(content, status_code=status_code,
                         headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as tg:

            async def stream() -> None:
                with contextlib.suppress(OSError):  # the client went away mid-write
                    await self.stream_response(send)
                tg.cancel_scope.cancel()

            async def watch() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                tg.cancel_scope.cancel()

            tg.start_soon(stream)
            tg.start_soon(watch)


async def job_events(job: Job, scheduler: Scheduler, heartbeat: float) -> AsyncIterator[str]:
    """The job's events as SSE text, until its last one; stops the job if the page leaves."""
    done = False
    try:
        while not done:
            try:
                event, data = await asyncio.wait_for(job.events.get(), heartbeat)
            except asyncio.TimeoutError:
                yield ": waiting\n\n"
                continue
            parts = [frame(event, data)]
            done = event in TERMINAL
            while not done and not job.events.empty():
                event, data = job.events.get_nowait()
                parts.append(frame(event, data))
                done = event in TERMINAL
            yield "".join(parts)
    finally:
        if not done and job.id in scheduler.jobs:
            scheduler.cancel(job.id, CLOSED)
