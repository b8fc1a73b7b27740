"""The API's calibration: a labelled set run as a job, and a saved calibration to show.

`POST /api/calibrate` takes the set as the text of a JSONL file the page read (an upload:
its size capped by the body limit and `MAX_DATA`, decoded by the browser, every line
checked by the library's reader, in a worker thread, before anything is queued: a bad line
is a 422 naming it) or `demo: true` for the built-in set, and the runs (models × system
prompts × temperatures). The job runs `ops.calibrate` (batch underneath: its concurrency
against servers, its work file) with `progress` events counting the requests; a stop ends
it between two requests and keeps the work file, so the same request again resumes where
it stopped. The `done` event carries the calibration as its page (`encode_calibration`,
the document the HTML export draws), and the saved history id.

It leaves out the figures (calibration/), the running (ops/calibrate.py) and the drawing
(views/static/ops-calibrate.js, which the page loads as it is).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import Field, model_validator
from starlette.concurrency import run_in_threadpool

from tokenprobe.calibration.data import LabelledItem, items_from_text
from tokenprobe.errors import FormatError, InputError
from tokenprobe.ops.batch import done_ids
from tokenprobe.ops.calibrate import Settings, calibrate, plan, runs_of
from tokenprobe.views.encode_ops import encode_calibration
from tokenprobe.web.config import MAX_ALTERNATIVES, MAX_VARIANTS
from tokenprobe.web.jobs import Job
from tokenprobe.web.routes_run import SSE, _submit
from tokenprobe.web.runs import _run_op, _save
from tokenprobe.web.schemas import Body, ModelId, Temperature, Text
from tokenprobe.web.sse import EventStreamResponse
from tokenprobe.web.state import AppState, get_state

router = APIRouter(prefix="/api", tags=["run"])
State = Annotated[AppState, Depends(get_state)]

MAX_DATA = 1_000_000  # characters of an uploaded set (config.BODY_LIMITS bounds its bytes)
MAX_ITEMS = 5000
DEMO = "the built-in demo set"


class CalibrateIn(Body):
    """A labelled set (`data`, the JSONL text; or `demo`) and the runs to compare."""

    data: Annotated[str, Field(max_length=MAX_DATA)] | None = None
    name: Annotated[str, Field(max_length=200)] | None = Field(
        None, description="the uploaded file's name, for errors and the title")
    demo: bool = False
    models: list[ModelId] | None = Field(None, max_length=8)
    systems: list[Text] | None = Field(None, max_length=8)
    temperatures: list[Temperature] | None = Field(None, max_length=8)
    chat: bool = False
    judge: Literal["exact", "normalised", "contains"] = "normalised"
    max_tokens: int = Field(16, ge=1, le=512)
    stop: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=lambda: ["\n"], max_length=8)
    alternatives: int = Field(5, ge=0, le=MAX_ALTERNATIVES)
    bins: int = Field(10, ge=1, le=100)
    resamples: int = Field(1000, ge=1, le=10_000)
    seed: int = Field(0, ge=0, le=2**63 - 1)
    concurrency: int = Field(8, ge=1, le=64)

    @model_validator(mode="after")
    def _shape(self) -> CalibrateIn:
        if self.demo == (self.data is not None):
            raise ValueError("give the set's JSONL text (data) or demo: true, not both")
        n = (len(self.systems or [None]) * len(self.temperatures or [0.0])
             * len(self.models or [None]))
        if n > MAX_VARIANTS:
            raise ValueError(f"{n} runs is too many (at most {MAX_VARIANTS})")
        return self


def read_set(body: CalibrateIn) -> list[LabelledItem]:
    """The set's items; every mistake is a one-line InputError (a 422) naming the line."""
    if body.demo:
        from tokenprobe.calibration.demo import demo_items

        return demo_items()
    assert body.data is not None  # the schema requires one of the two
    try:
        items = items_from_text(body.data, body.name or "the file")
    except FormatError as e:  # the user's file, not a server's answer: bad input
        raise InputError(str(e)) from None
    if len(items) > MAX_ITEMS:
        raise InputError(f"{body.name or 'the file'} holds {len(items)} items (at most "
                         f"{MAX_ITEMS} in the page; the command line takes any number)")
    return items


def calibration_payload(doc: dict[str, Any], title: str | None = None) -> dict[str, Any]:
    """A calibration document as the page draws it: its page encoding, the HTML export's."""
    return encode_calibration(doc, title)


def work_file(st: AppState, items: list[LabelledItem], runs: list[Any],
              settings: Settings) -> Path:
    """The traces' JSONL: one per set, runs and settings (the concurrency aside), so the
    same request again resumes from it."""
    key = hashlib.sha1(json.dumps(
        [[i.to_dict() for i in items], [[r.model, r.system, r.temperature] for r in runs],
         {**settings.__dict__, "stop": list(settings.stop), "concurrency": None}],
    ).encode("utf-8")).hexdigest()
    return st.store.path.parent / "calibrate" / f"web-{key[:16]}.jsonl"


@router.post("/calibrate", response_class=EventStreamResponse, responses=SSE)
async def calibrate_route(body: CalibrateIn, st: State) -> EventStreamResponse:
    """Run a labelled set and measure how well each confidence signal predicts a right
    answer: per run, reliability, ECE, MCE, Brier, AUROC, AUPRC and the selective curve."""
    items = await run_in_threadpool(read_set, body)
    entries = [st.registry.get(m) for m in (body.models or [None])]
    ids: list[str | None] = [e.id for e in entries]
    systems: list[str | None] | None = list(body.systems) if body.systems else None
    settings = Settings(judge=body.judge, chat=body.chat or bool(systems),
                        max_tokens=body.max_tokens, stop=tuple(body.stop),
                        alternatives=body.alternatives, seed=body.seed, n_bins=body.bins,
                        resamples=body.resamples, concurrency=body.concurrency)
    temperatures = list(body.temperatures) if body.temperatures else None
    runs = runs_of(ids, systems or [None], temperatures or [0.0])
    work = work_file(st, items, runs, settings)
    planned = {it.id for batch in plan(runs, items, settings).values() for it in batch}
    data = DEMO if body.demo else (body.name or "an uploaded set")
    lane = next((e.lane for e in entries if e.local), entries[0].lane)

    def work_fn(job: Job) -> None:
        def op(progress: Any) -> dict[str, Any]:
            count = {"done": 0, "total": len(planned)}

            def on_total(total: int) -> None:
                # Requests answered by an earlier run (resuming) count as done.
                count["done"] = len(planned & done_ids(work)) if work.exists() else 0
                progress(count["done"], total)

            def one(_item: object, _error: str | None) -> None:
                count["done"] += 1
                progress(count["done"], count["total"])

            work.parent.mkdir(parents=True, exist_ok=True)
            doc = calibrate(items, work, models=ids, systems=systems,
                            temperatures=temperatures, settings=settings, data=data,
                            progress=one, on_total=on_total, get_model=st.registry.backend)
            title = f"calibrate {data}: " + " | ".join(r["label"] for r in doc["runs"])
            saved = _save(st.store, lambda s: s.save_document(
                doc["id"], "calibration", doc["created"], title, doc,
                model=", ".join(r["model"] for r in doc["runs"])))
            return {"calibration": calibration_payload(doc), **saved}

        _run_op(job, op)

    return _submit(st, "calibrate", lane, work_fn, tuple(e.id for e in entries))

