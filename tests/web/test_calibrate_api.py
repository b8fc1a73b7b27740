"""POST /api/calibrate in process: an uploaded set checked line by line before anything runs,
the job's progress, the page it ends with (the HTML export's own encoding), the history
entry and resuming from the work file on the scripted model (tests/scripted_model.py), and
stopping on the embedded model (slow enough to be stopped between requests)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from tests.scripted_model import SPEC
from tests.web.asgi import AsgiClient
from tests.web.conftest import last, names

from tokenprobe.backends.llama import LlamaBackend
from tokenprobe.ops.choose import choose

ITEMS = [
    {"id": "parity", "prompt": "Is 17 even or odd? 17 is", "options": [" even", " odd"],
     "answer": 1},
    {"id": "tag", "prompt": "<script>alert(1)</script> The capital of France is",
     "options": [" Paris", " <b>Lyon</b>"], "answer": 0},
    {"id": "sum", "prompt": "2 + 3 = 5\n4 + 4 =", "answer": " 8"},
]
DATA = "\n".join(json.dumps(i) for i in ITEMS) + "\n"
BODY = {"data": DATA, "name": "small.jsonl", "max_tokens": 4, "alternatives": 3,
        "resamples": 20}


async def run(client: AsgiClient, body: dict[str, Any]) -> list[tuple[str, Any]]:
    async with client.stream("POST", "/api/calibrate", body) as s:
        assert s.status == 200, s
        return await s.rest()


async def test_a_bad_line_is_named_before_anything_runs(client: AsgiClient) -> None:
    bad = DATA + '{"prompt": "x", "options": [" a"], "answer": 0}\n'
    r = await client.post("/api/calibrate", {**BODY, "data": bad})
    assert r.status == 422
    assert r.detail == ('small.jsonl line 4: "options" must be a list of at least two '
                          "non-empty strings")
    r = await client.post("/api/calibrate", {**BODY, "data": "not json\n"})
    assert r.status == 422 and r.detail.startswith("small.jsonl line 1 is not JSON")
    r = await client.post("/api/calibrate", {"demo": True, "data": DATA})
    assert r.status == 422 and "not both" in r.detail
    r = await client.post("/api/calibrate", {**BODY, "temperatures": [0, 0.5, 1],
                                             "systems": ["a", "b", "c"],
                                             "models": ["embedded"] * 2})
    assert r.status == 422 and r.detail == "18 runs is too many (at most 16)"


async def test_runs_resumes_and_lands_in_the_history(scripted_client: AsgiClient) -> None:
    client = scripted_client
    events = await run(client, BODY)
    seq = names(events)
    assert seq[0] == "started" and seq[-1] == "done", seq
    progress = [d for n, d in events if n == "progress"]
    # 2 options each for two choice items; one answer and one gold scoring for the open one
    assert progress[0] == {"job": progress[0]["job"], "done": 0, "total": 6}
    assert [p["done"] for p in progress[1:]] == [1, 2, 3, 4, 5, 6]
    done = last(events, "done")
    page = done["calibration"]
    assert page["format"] == "tokenprobe/page@1"
    cal = page["calibration"]
    assert cal["schema"] == "tokenprobe/calibration@1" and cal["data"] == "small.jsonl"
    (r,) = cal["runs"]
    assert not r["failed"] and [i["id"] for i in r["items"]] == ["parity", "tag", "sum"]
    # Each item's traces are indices into the page's traces, as the export has them.
    for item in r["items"]:
        assert all(isinstance(k, int) and 0 <= k < len(page["traces"]) for k in item["traces"])
    # The options' probabilities are choose's, computed alone.
    for item in ITEMS[:2]:
        alone = choose(item["prompt"], item["options"], model=SPEC, alternatives=3)
        rec = next(i for i in r["items"] if i["id"] == item["id"])
        np.testing.assert_allclose(rec["outcome"]["total"]["probabilities"],
                                   [o.probability for o in alone.options], atol=1e-9)
    # Saved: listed under its kind, and opened with its page.
    saved = done["saved"]
    listed = (await client.get("/api/history?kind=calibration")).json()["records"]
    assert [x["id"] for x in listed] == [saved]
    assert listed[0]["kind"] == "calibration" and listed[0]["title"].startswith(
        "calibrate small.jsonl: scripted")
    entry = (await client.get(f"/api/history/{saved}")).json()
    assert entry["kind"] == "calibration"
    assert entry["calibration"]["calibration"]["runs"][0]["signals"] == r["signals"]
    # Its traces as JSONL: each option's, and the open answer's.
    exported = await client.get(f"/api/history/{saved}/export?format=jsonl")
    lines = exported.body.decode().splitlines()
    assert exported.status == 200 and len(lines) == 2 + 2 + 1
    assert json.loads(lines[-1])["text"] == r["items"][2]["text"]

    # The same request again finds every answer in the work file: nothing is asked again.
    again = await run(client, BODY)
    progress = [d for n, d in again if n == "progress"]
    assert [(p["done"], p["total"]) for p in progress] == [(6, 6)]
    r2 = last(again, "done")["calibration"]["calibration"]["runs"][0]
    assert r2["signals"] == r["signals"]


async def test_stop_ends_between_requests(client: AsgiClient, llama: LlamaBackend) -> None:
    async with client.stream("POST", "/api/calibrate", {"demo": True, "max_tokens": 4,
                                                        "resamples": 20}) as s:
        first = await s.until("progress")
        job = last(first, "started")["job"]
        await s.until("progress")  # the first answer is in
        assert (await client.post(f"/api/jobs/{job}/cancel")).json()["state"] == "stopping"
        rest = await s.rest()
    assert names(rest)[-1] == "cancelled", names(rest)
    assert (await client.get("/api/history?kind=calibration")).json()["records"] == []
