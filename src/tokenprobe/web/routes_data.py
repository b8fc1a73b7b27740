"""The API's reading and bookkeeping: health, models, and the history.

GET never changes anything. Models can be added (POST, the key stays on the server) and
removed (DELETE); history entries can be listed, searched, opened, exported and deleted.
The history is the library's SQLite store (store.py); an opened trace comes with its whole
branch tree, in the viewer's page encoding.

It leaves out the engine work (routes_run.py).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

import tokenprobe
from tokenprobe.errors import InputError
from tokenprobe.ops.choose import Choice
from tokenprobe.ops.compare import Comparison
from tokenprobe.store import Record
from tokenprobe.trace import Trace, traces_to_jsonl
from tokenprobe.web import config
from tokenprobe.web.errors import NotFound
from tokenprobe.web.payloads import (
    choice_payload,
    comparison_payload,
    record_payload,
    trace_payload,
)
from tokenprobe.web.reach import reachability
from tokenprobe.web.schemas import ModelIn
from tokenprobe.web.state import AppState, get_state

router = APIRouter(prefix="/api", tags=["data"])
State = Annotated[AppState, Depends(get_state)]
RecordId = Annotated[str, Path(min_length=4, max_length=64)]


@router.get("/health")
async def health(st: State) -> dict[str, Any]:
    """Whether the server answers, the default model's state, and the queues."""
    return {"status": "ok", "version": tokenprobe.__version__, "model": st.warm,
            "queues": st.scheduler.stats()}


@router.get("/info")
async def info(st: State) -> dict[str, Any]:
    """What the page needs to know once: limits, the default model, whether a token is on."""
    return {"version": tokenprobe.__version__, "auth": st.config.token is not None,
            "default_model": st.registry.default_id,
            "limits": {"text": config.MAX_TEXT, "messages": config.MAX_MESSAGES,
                       "alternatives": config.MAX_ALTERNATIVES,
                       "max_tokens": config.MAX_NEW_TOKENS, "variants": config.MAX_VARIANTS,
                       "samples": config.MAX_SAMPLES, "max_waiting": st.config.max_waiting}}


@router.get("/models")
async def models(st: State) -> dict[str, Any]:
    """The offered models (never their keys)."""
    return {"default": st.registry.default_id,
            "models": [e.public() for e in st.registry.list()]}


@router.post("/models", status_code=201)
def add_model(body: ModelIn, st: State) -> dict[str, Any]:
    """Offer another model: a GGUF path on the server, or a server endpoint with its key.
    A server model's address is tried (reach.py: a connection, nothing sent) and the
    answer says whether it is reachable now; the model is offered either way. A plain
    `def`: the checks block, so it runs in a worker thread, off the event loop."""
    entry = st.registry.add(body.spec, body.base_url, body.api_key, body.label,
                            body.logprobs_kind)
    return {**entry.public(), **reachability(entry)}


@router.delete("/models/{model_id}")
async def remove_model(model_id: Annotated[str, Path(max_length=200)],
                       st: State) -> dict[str, str]:
    """Stop offering a model that was added in the page, and unload it (422 while a job
    waits for it or runs on it)."""
    # On the event loop's thread, where jobs are queued: none can start on it in between.
    busy = st.scheduler.using(model_id)
    if busy:
        raise InputError(f"the model {model_id!r} has {busy} job(s) waiting or running: "
                         "stop them, then remove it")
    entry = st.registry.remove(model_id)
    await run_in_threadpool(st.registry.release, entry)
    return {"removed": entry.id}


# --- history ----------------------------------------------------------------------------


def _record(st: AppState, ref: str) -> Record:
    try:
        return st.store.get(ref)
    except InputError as e:
        raise NotFound(str(e)) from None


def _traces_of(st: AppState, rec: Record, doc: dict[str, Any]) -> list[Trace]:
    """The traces an entry holds: a trace's whole branch tree, a comparison's runs, a
    choice's options, a calibration's items' answers and options."""
    if rec.kind == "trace":
        return st.store.tree(rec.id)
    if rec.kind == "comparison":
        return [Trace.from_dict(t) for v in doc["variants"] for t in v["traces"]]
    if rec.kind == "choice":
        return [Trace.from_dict(o["trace"]) for o in doc["options"]]
    if rec.kind == "calibration":
        return [Trace.from_dict(t) for r in doc["runs"] for i in r["items"] for t in i["traces"]]
    return []


@router.get("/history")
def history(st: State, search: Annotated[str | None, Query(max_length=200)] = None,
            kind: Literal["trace", "comparison", "choice", "sweep", "calibration"] | None = None,
            limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    """The history, newest first; `search` looks in prompts and texts."""
    return {"records": [record_payload(r) for r in st.store.list(search or None, limit, kind)]}


@router.get("/history/{record_id}")
def history_entry(record_id: RecordId, st: State) -> dict[str, Any]:
    """One entry, ready to show: a trace with its branch tree, a comparison, a choice or a
    calibration (its page)."""
    rec = _record(st, record_id)
    doc = st.store.document(rec.id)
    out: dict[str, Any] = {"record": record_payload(rec), "kind": rec.kind}
    if rec.kind == "trace":
        tree: list[Trace] = list(st.store.tree(rec.id))
        out["traces"] = [trace_payload(t) for t in tree]
        out["index"] = next((i for i, t in enumerate(tree) if t.id == rec.id), 0)
    elif rec.kind == "comparison":
        out["comparison"] = comparison_payload(Comparison.from_dict(doc))
    elif rec.kind == "choice":
        out["choice"] = choice_payload(Choice.from_dict(doc))
    elif rec.kind == "calibration":
        from tokenprobe.web.routes_calibrate import calibration_payload

        out["calibration"] = calibration_payload(doc)
    return out


@router.delete("/history/{record_id}")
def delete_entry(record_id: RecordId, st: State) -> dict[str, str]:
    """Delete one entry (a branch's own branches stay, with their tree)."""
    _record(st, record_id)
    return {"deleted": st.store.delete(record_id).id}


@router.get("/history/{record_id}/export")
def export_entry(record_id: RecordId, st: State,
                 format: Literal["json", "jsonl", "html"] = "json") -> Response:
    """Download an entry: its JSON document, its traces as JSONL, or the HTML viewer."""
    rec = _record(st, record_id)
    doc = st.store.document(rec.id)
    name = f"tokenprobe-{rec.kind}-{rec.id[:8]}.{format}"
    if format == "json":
        body, media = json.dumps(doc, ensure_ascii=False) + "\n", "application/json"
    elif format == "jsonl":
        body, media = traces_to_jsonl(_traces_of(st, rec, doc)), "application/x-ndjson"
    else:
        from tokenprobe.views.html import render_document

        # As the CLI's export: a comparison or a choice names its own page (from its
        # answer, prompt and options); a trace's tree is named by its prompt.
        body = render_document(rec.kind, doc, _traces_of(st, rec, doc),
                               title=None if rec.kind in ("comparison", "choice")
                               else rec.title[:80] or None)
        media = "text/html"
    return Response(body, media_type=f"{media}; charset=utf-8",
                    headers={"Content-Disposition": attachment(name)})


_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f/\\]")  # controls and path separators
_NOT_TOKEN = re.compile(r"[^A-Za-z0-9._-]")


def attachment(name: str) -> str:
    """`Content-Disposition` for a download (RFC 6266): the name as UTF-8 in `filename*`
    (RFC 5987, percent-encoded), and an ASCII `filename` (anything else as `_`) for
    clients that predate it; control characters and path separators become `_` in both.
    An imported trace keeps its file's id, whatever it holds: a quote, CR-LF or a
    non-Latin-1 character must neither break the header nor reach it raw."""
    name = _UNSAFE.sub("_", name)
    fallback = _NOT_TOKEN.sub("_", name)
    exact = quote(name.encode("utf-8", "replace"), safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}"
