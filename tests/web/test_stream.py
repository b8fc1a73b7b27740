"""Streaming under control: stop, a closed page, the queue and its positions, a full queue."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tests.web.asgi import AsgiClient
from tests.web.conftest import last, names, state_of

from tokenprobe.backends.llama import LlamaBackend
from tokenprobe.web.security import Guard

LONG = {"prompt": "Once upon a time", "temperature": 0, "max_tokens": 300, "alternatives": 2}
SHORT = {"prompt": "The capital of France is", "temperature": 0, "max_tokens": 3,
         "alternatives": 2}


async def idle(app: Guard, timeout: float = 60) -> None:
    """Wait until no job runs or waits (bounded)."""
    sched = state_of(app).scheduler
    for _ in range(int(timeout / 0.02)):
        if not sched.jobs:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"jobs still there: {list(sched.jobs)}")


async def test_stop_keeps_the_tokens_and_saves_them(client: AsgiClient, app: Guard) -> None:
    async with client.stream("POST", "/api/generate", LONG) as s:
        head = await s.until("started")
        job = head[-1][1]["job"]
        seen: list[tuple[str, Any]] = []
        while [n for n, _ in seen].count("steps") < 3:
            ev = await s.next_event()
            assert ev is not None
            seen.append(ev)
        r = await client.post(f"/api/jobs/{job}/cancel")
        assert r.status == 200 and r.json() == {"job": job, "state": "stopping"}
        rest = await s.rest()
    done = last(rest, "done")
    trace = done["trace"]
    assert trace["complete"] is False and trace["error"] == "stopped by the user"
    assert 3 <= trace["steps"]["n"] < 300
    assert trace["steps"]["n"] == names(seen + rest).count("steps")
    saved = (await client.get(f"/api/history/{done['saved']}")).json()["traces"][0]
    assert saved["complete"] is False and saved["steps"]["n"] == trace["steps"]["n"]


async def test_stop_ends_a_choice_between_two_options(client: AsgiClient, app: Guard) -> None:
    options = [f" option {k}: " + "a long tail of words " * 40 for k in range(20)]
    async with client.stream("POST", "/api/choose", {"prompt": "Pick one:",
                                                    "options": options}) as s:
        job = (await s.until("started"))[-1][1]["job"]
        r = await client.post(f"/api/jobs/{job}/cancel")
        assert r.status == 200 and r.json()["state"] == "stopping"
        rest = await s.rest()
    assert names(rest)[-1] == "cancelled" and "done" not in names(rest)
    assert last(rest, "cancelled")["reason"] == "stopped by the user"
    progress = [d for n, d in rest if n == "progress"]
    assert len(progress) < 20 and all(p["total"] == 20 for p in progress)
    await idle(app)  # the local slot is free again
    assert (await client.get("/api/health")).json()["queues"]["local"]["running"] == 0
    assert (await client.get("/api/history")).json()["records"] == []  # nothing saved


async def test_a_closed_page_stops_its_generation(client: AsgiClient, app: Guard) -> None:
    async with client.stream("POST", "/api/generate", LONG) as s:
        await s.until("steps")
        await s.until("steps")
        s.disconnect()
    await idle(app)
    (rec,) = (await client.get("/api/history")).json()["records"]
    trace = (await client.get(f"/api/history/{rec['id']}")).json()["traces"][0]
    assert trace["complete"] is False and trace["error"] == "the page was closed"
    assert 2 <= trace["steps"]["n"] < 300


async def test_queue_positions_cancel_and_order(client: AsgiClient, app: Guard) -> None:
    async with client.stream("POST", "/api/generate", LONG) as a, \
            client.stream("POST", "/api/generate", SHORT) as b, \
            client.stream("POST", "/api/generate", {**SHORT, "prompt": "Roses are"}) as c:
        a_job = (await a.until("started"))[-1][1]["job"]
        qb = (await b.until("queued"))[-1][1]
        qc = (await c.until("queued"))[-1][1]
        assert (qb["position"], qc["position"]) == (1, 2)
        assert qc["waiting"] == 2 and qc["running"] == 1
        r = await client.post(f"/api/jobs/{qb['job']}/cancel")
        assert r.json()["state"] == "cancelled"
        assert names(await b.rest()) == ["cancelled"]
        assert (await c.until("queued"))[-1][1]["position"] == 1  # moved up
        st = (await client.get(f"/api/jobs/{qc['job']}")).json()
        assert st == {"job": qc["job"], "kind": "generate", "state": "queued", "position": 1}
        health = (await client.get("/api/health")).json()["queues"]["local"]
        assert health["running"] == 1 and health["waiting"] == 1
        await client.post(f"/api/jobs/{a_job}/cancel")
        assert last(await a.rest(), "done")["trace"]["error"] == "stopped by the user"
        rest_c = await c.rest()
        assert names(rest_c)[0] == "started" and names(rest_c)[-1] == "done"
        assert last(rest_c, "done")["trace"]["request"]["prompt"] == "Roses are"
    records = (await client.get("/api/history")).json()["records"]
    assert sorted(r["title"] for r in records) == ["Once upon a time", "Roses are"]


async def test_a_closed_page_frees_its_place(client: AsgiClient, app: Guard) -> None:
    async with client.stream("POST", "/api/generate", LONG) as a:
        a_job = (await a.until("started"))[-1][1]["job"]
        async with client.stream("POST", "/api/generate", SHORT) as c:
            async with client.stream("POST", "/api/generate", SHORT) as b:
                await b.until("queued")
                assert (await c.until("queued"))[-1][1]["position"] == 1
            # b's page closed: (c was first anyway) a fourth request now waits second
            async with client.stream("POST", "/api/generate", SHORT) as d:
                assert (await d.until("queued"))[-1][1]["position"] == 2
                d.disconnect()
            assert len(state_of(app).scheduler.lanes["local"].waiting) == 1
            await client.post(f"/api/jobs/{a_job}/cancel")
            assert names(await c.rest())[-1] == "done"
        await a.rest()


async def test_a_full_queue_refuses_with_503(make_app: Callable[..., Guard],
                                             llama: LlamaBackend) -> None:
    app = make_app(max_waiting=1, heartbeat=0.05)
    client = AsgiClient(app)
    async with client.stream("POST", "/api/generate", LONG) as a:
        a_job = (await a.until("started"))[-1][1]["job"]
        async with client.stream("POST", "/api/generate", SHORT) as b:
            await b.until("queued")
            raw = await asyncio.wait_for(b.chunks.get(), 10)  # nothing to say: a heartbeat
            assert raw == b": waiting\n\n"
            r = await client.post("/api/generate", SHORT)
            assert r.status == 503 and r.headers["retry-after"] == "2"
            assert r.detail == ("the queue for this model is full (1 waiting, 1 running); "
                                "try again in a moment")
            await client.post(f"/api/jobs/{a_job}/cancel")
            assert names(await b.rest())[-1] == "done"
        await a.rest()


async def test_errors_before_any_token_end_the_stream(client: AsgiClient,
                                                      llama: LlamaBackend) -> None:
    # Too long for the context: the library's check runs in the job (it needs the model).
    events: list[tuple[str, Any]]
    async with client.stream("POST", "/api/generate", {
            "prompt": "word " * 9000, "max_tokens": 5}) as s:
        events = await s.rest()
    assert names(events)[-1] == "error"
    assert "longer than the model's context" in last(events, "error")["message"]
    assert (await client.get("/api/history")).json()["records"] == []
