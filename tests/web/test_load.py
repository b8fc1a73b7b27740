"""Fifty clients at once against a real `tokenprobe serve` on 127.0.0.1 with the embedded
model, each asking for a short greedy generation.

Every request must be answered (its stream ends with `done`) or explicitly refused (a 503
saying the queue is full); none is lost, none gets another's answer (each answer is
compared with a direct greedy generation of its own prompt), queue positions only ever
move forward, and `GET /api/health` keeps answering while the queue is full. Bounded: 50
requests of 4 tokens, one overall time limit. The figures go to artifacts/web-load.json.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.web.asgi import parse_sse
from tests.web.serve import Served, serve

from tokenprobe.api import build_request
from tokenprobe.backends.llama import LlamaBackend

CLIENTS = 50
QUEUE = 40  # waiting places: with 50 at once, some are refused, most answered
MAX_TOKENS = 4
LIMIT_S = 600


def prompt(i: int) -> str:
    return f"Note {i}: the number {i} written in words is"


async def one(client: httpx.AsyncClient, url: str, i: int) -> dict[str, Any]:
    body = {"prompt": prompt(i), "max_tokens": MAX_TOKENS, "temperature": 0,
            "alternatives": 2}
    t0 = time.perf_counter()
    async with client.stream("POST", url + "/api/generate", json=body) as r:
        if r.status_code != 200:
            return {"i": i, "status": r.status_code,
                    "detail": json.loads(await r.aread())["detail"]}
        text = ""
        async for chunk in r.aiter_text():
            text += chunk
    events, rest = parse_sse(text)
    return {"i": i, "status": 200, "events": events, "rest": rest,
            "seconds": time.perf_counter() - t0}


async def poll_health(url: str, stop: asyncio.Event) -> list[tuple[int, float]]:
    out: list[tuple[int, float]] = []
    async with httpx.AsyncClient(timeout=60) as client:
        while not stop.is_set():
            t0 = time.perf_counter()
            r = await client.get(url + "/api/health")
            out.append((r.status_code, time.perf_counter() - t0))
            await asyncio.sleep(0.05)
    return out


async def load(url: str) -> tuple[list[dict[str, Any]], list[tuple[int, float]]]:
    stop = asyncio.Event()
    health = asyncio.create_task(poll_health(url, stop))
    limits = httpx.Limits(max_connections=CLIENTS + 5, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=LIMIT_S, limits=limits) as client:
        results = await asyncio.wait_for(
            asyncio.gather(*(one(client, url, i) for i in range(CLIENTS))), LIMIT_S)
    stop.set()
    return list(results), await health


@pytest.mark.slow
async def test_fifty_clients_at_once(tmp_path: Path, llama: LlamaBackend,
                                     artifacts: Path) -> None:
    served: Served
    with serve(tmp_path, "--quiet", "--queue-size", str(QUEUE)) as served:
        results, health = await load(served.url)
        status, listed = served.call("GET", "/api/history?limit=500")
    assert status == 200
    assert len(results) == CLIENTS
    answered = [r for r in results if r["status"] == 200]
    refused = [r for r in results if r["status"] != 200]
    for r in refused:  # explicitly refused, with the reason
        assert r["status"] == 503
        assert r["detail"].startswith("the queue for this model is full")
    assert answered, "no request was answered"
    by_prompt = {}
    for r in answered:
        names = [n for n, _ in r["events"]]
        assert names[-1] == "done" and r["rest"] == "", names  # ended properly, nothing cut
        assert names.count("done") == 1 and "error" not in names
        positions = [d["position"] for n, d in r["events"] if n == "queued"]
        assert positions == sorted(positions, reverse=True)  # only ever moving forward
        trace = r["events"][-1][1]["trace"]
        assert trace["request"]["prompt"] == prompt(r["i"])
        by_prompt[r["i"]] = trace["text"]
    # Each answer is its own prompt's: the same as a direct greedy generation.
    for i, text in by_prompt.items():
        direct = llama.stream(build_request(prompt(i), max_tokens=MAX_TOKENS, temperature=0,
                                            alternatives=2)).run()
        assert text == direct.text, i
    # Every answer was saved, once.
    saved = sorted(r["title"] for r in listed["records"])
    assert saved == sorted(prompt(i) for i in by_prompt)
    # Health answered throughout, faster than a generation took.
    assert health and all(code == 200 for code, _ in health)
    lat = sorted(t for _, t in health)
    p95 = lat[int(0.95 * (len(lat) - 1))]
    gen_median = statistics.median(r["seconds"] for r in answered)
    figures = {"clients": CLIENTS, "answered": len(answered), "refused": len(refused),
               "health_polls": len(lat), "health_median_ms": 1000 * statistics.median(lat),
               "health_p95_ms": 1000 * p95, "health_max_ms": 1000 * lat[-1],
               "answer_median_s": gen_median,
               "answer_max_s": max(r["seconds"] for r in answered)}
    (artifacts / "web-load.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(figures)
    assert p95 < gen_median
