"""The engine queue: each model's lane runs a few jobs at once, the rest wait their turn.

A job is one piece of engine work (a generation, a branch, a scoring, a comparison) run in a
worker thread, whose events go to the page through an asyncio queue. Jobs on one lane share
its slots: the local engine has one (it serves one generation at a time, and every local
model shares the machine's cores); a remote server has a few. A job that finds no free
slot waits, and every waiting job is told its position whenever it changes; a lane with
`max_waiting` jobs waiting refuses new ones (`QueueFull`, a 503 with a clear message).

Stopping: a waiting job is removed at once (its place is freed); a running job is asked to
stop (`stop_reason`), and its work function keeps what it made and ends it. All queue
bookkeeping happens on the event loop's thread; worker threads only send events.

It leaves out what a job does (runs.py) and how events reach the page (sse.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tokenprobe.errors import TokenprobeError

log = logging.getLogger("tokenprobe.web")

TERMINAL = frozenset({"done", "error", "cancelled"})


class QueueFull(TokenprobeError):
    """Too many jobs are waiting for this model; the request is refused, not queued."""


class UnknownJob(TokenprobeError):
    """No job with this id is waiting or running (it may have finished)."""


class Job:
    """One request's work and the events it sends to its page."""

    def __init__(self, kind: str, lane: str, work: Callable[[Job], None],
                 models: tuple[str, ...] = ()) -> None:
        self.id = uuid.uuid4().hex
        self.kind = kind
        self.lane = lane
        self.work = work
        self.models = models  # the offered models (ids) it runs on: not removable meanwhile
        self.loop = asyncio.get_running_loop()
        self.events: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.state = "queued"  # queued | running | finished
        self.position: int | None = None
        self.stop_reason: str | None = None
        self.ended = False  # its terminal event is sent: it no longer uses its model
        self.submitted = time.perf_counter()
        self.started: float | None = None

    def emit(self, event: str, data: dict[str, Any]) -> None:
        """Send one event to the page; callable from any thread. The JSON is written here,
        in the sender's thread, so that the event loop only forwards text."""
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        if event in TERMINAL:
            self.ended = True
        self.call(self.events.put_nowait, (event, text))

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` on the event loop's thread, if the loop is still there (a server
        shutting down closes it while a worker may still be finishing)."""
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(fn, *args)


@dataclass
class Lane:
    name: str
    slots: int
    running: list[Job] = field(default_factory=list)
    waiting: deque[Job] = field(default_factory=deque)


class Scheduler:
    """Every lane, and the jobs waiting or running on them."""

    def __init__(self, max_waiting: int, slots_for: Callable[[str], int]) -> None:
        self.max_waiting = max_waiting
        self.slots_for = slots_for
        self.lanes: dict[str, Lane] = {}
        self.jobs: dict[str, Job] = {}

    def _lane(self, name: str) -> Lane:
        lane = self.lanes.get(name)
        if lane is None:
            lane = self.lanes[name] = Lane(name, self.slots_for(name))
        return lane

    def submit(self, job: Job) -> None:
        """Start `job` now if its lane has a free slot, else queue it (or refuse it)."""
        lane = self._lane(job.lane)
        if len(lane.running) < lane.slots and not lane.waiting:
            self.jobs[job.id] = job
            self._start(lane, job)
            return
        if len(lane.waiting) >= self.max_waiting:
            raise QueueFull(f"the queue for this model is full ({len(lane.waiting)} waiting, "
                            f"{len(lane.running)} running); try again in a moment")
        self.jobs[job.id] = job
        lane.waiting.append(job)
        self._positions(lane)

    def cancel(self, job_id: str, reason: str) -> str:
        """Free a waiting job's place, or ask a running one to stop; returns the new state."""
        job = self.jobs.get(job_id)
        if job is None:
            raise UnknownJob(f"no job {job_id!r} is waiting or running")
        if job.state == "queued":
            lane = self.lanes[job.lane]
            lane.waiting.remove(job)
            job.state = "finished"
            del self.jobs[job.id]
            job.emit("cancelled", {"job": job.id, "reason": reason})
            self._positions(lane)
            return "cancelled"
        if job.stop_reason is None:
            job.stop_reason = reason
        return "stopping"

    def _start(self, lane: Lane, job: Job) -> None:
        job.state = "running"
        job.position = None
        job.started = time.perf_counter()
        lane.running.append(job)
        job.emit("started", {"job": job.id, "kind": job.kind,
                             "waited_ms": round(1000 * (job.started - job.submitted), 1)})
        threading.Thread(target=self._run, args=(job,), name=f"tokenprobe-{job.kind}",
                         daemon=True).start()

    def _run(self, job: Job) -> None:
        try:
            job.work(job)
        except Exception as e:  # a bug, not the user's doing: say so and never hang the page
            # The class only: a message or traceback could carry a URL with credentials.
            # TOKENPROBE_DEBUG=1 logs the traceback for whoever debugs their own server.
            log.error("%s job failed with %s", job.kind, e.__class__.__name__,
                      exc_info=os.environ.get("TOKENPROBE_DEBUG") == "1")
            job.emit("error", {"job": job.id,
                               "message": f"internal error ({e.__class__.__name__})"})
        finally:
            job.call(self._finished, job)

    def _finished(self, job: Job) -> None:
        lane = self.lanes[job.lane]
        if job in lane.running:
            lane.running.remove(job)
        job.state = "finished"
        self.jobs.pop(job.id, None)
        while lane.waiting and len(lane.running) < lane.slots:
            self._start(lane, lane.waiting.popleft())
        self._positions(lane)

    def _positions(self, lane: Lane) -> None:
        for i, job in enumerate(lane.waiting):
            if job.position != i + 1:
                job.position = i + 1
                job.emit("queued", {"job": job.id, "position": i + 1,
                                    "waiting": len(lane.waiting), "running": len(lane.running)})

    async def stop_all(self, reason: str, wait: float) -> None:
        """Stop every job (the server is shutting down), and give the running ones up to
        `wait` seconds to end and save what they made."""
        for job_id in list(self.jobs):
            if job_id in self.jobs:
                self.cancel(job_id, reason)
        deadline = time.monotonic() + wait
        while self.jobs and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    def using(self, model_id: str) -> int:
        """How many jobs (waiting or running) run on the offered model `model_id`."""
        return sum(1 for job in self.jobs.values() if model_id in job.models and not job.ended)

    def stats(self) -> dict[str, dict[str, int]]:
        return {name: {"running": len(lane.running), "waiting": len(lane.waiting),
                       "slots": lane.slots, "max_waiting": self.max_waiting}
                for name, lane in self.lanes.items()}
