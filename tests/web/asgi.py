"""An in-process ASGI client that streams: the app is called directly, in the test's loop.

httpx's ASGITransport collects a whole response before returning it, so it cannot show
tokens arriving one by one or close a stream part-way. This client hands the app its
request, passes each body chunk on as the app sends it, and can disconnect (as a closed tab
does) at any moment. Server-sent events are parsed into (event, data) pairs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1:8000"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def detail(self) -> str:
        return str(self.json()["detail"])

    def events(self) -> list[tuple[str, Any]]:
        return parse_sse(self.body.decode())[0]


def parse_sse(text: str) -> tuple[list[tuple[str, Any]], str]:
    """Complete events in `text`, and the incomplete rest."""
    out: list[tuple[str, Any]] = []
    *blocks, rest = text.split("\n\n")
    for block in blocks:
        event, data = "message", []
        for line in block.split("\n"):
            if line.startswith(":"):
                continue
            key, _, value = line.partition(": ")
            if key == "event":
                event = value
            elif key == "data":
                data.append(value)
        if data:
            out.append((event, json.loads("\n".join(data))))
    return out, rest


@dataclass
class Streamed:
    status: int
    headers: dict[str, str]
    chunks: asyncio.Queue[bytes | None]
    disconnected: asyncio.Event
    pending: list[tuple[str, Any]] = field(default_factory=list)
    buffer: str = ""
    ended: bool = False

    async def next_event(self, timeout: float = 120) -> tuple[str, Any] | None:
        """The next event, or None when the stream has ended."""
        while not self.pending:
            if self.ended:
                return None
            chunk = await asyncio.wait_for(self.chunks.get(), timeout)
            if chunk is None:
                self.ended = True
                continue
            events, self.buffer = parse_sse(self.buffer + chunk.decode())
            self.pending.extend(events)
        return self.pending.pop(0)

    async def until(self, *names: str, timeout: float = 120) -> list[tuple[str, Any]]:
        """Events up to and including the first whose name is in `names`."""
        seen: list[tuple[str, Any]] = []
        while True:
            ev = await self.next_event(timeout)
            assert ev is not None, f"the stream ended before {names}; got {seen}"
            seen.append(ev)
            if ev[0] in names:
                return seen

    async def rest(self, timeout: float = 120) -> list[tuple[str, Any]]:
        seen: list[tuple[str, Any]] = []
        while (ev := await self.next_event(timeout)) is not None:
            seen.append(ev)
        return seen

    def disconnect(self) -> None:
        self.disconnected.set()


class AsgiClient:
    def __init__(self, app: Any, headers: dict[str, str] | None = None) -> None:
        self.app = app
        self.headers = {"host": HOST, **(headers or {})}

    @asynccontextmanager
    async def stream(self, method: str, path: str, json_body: Any = None,
                     headers: dict[str, str] | None = None,
                     body: bytes | None = None) -> AsyncIterator[Streamed]:
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers = {"content-type": "application/json", **(headers or {})}
        all_headers = {**self.headers, **(headers or {})}
        if body is not None:
            all_headers.setdefault("content-length", str(len(body)))
        path, _, query = path.partition("?")
        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
                 "http_version": "1.1", "method": method, "scheme": "http", "path": path,
                 "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
                 "headers": [(k.lower().encode(), v.encode()) for k, v in all_headers.items()],
                 "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
        chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        disconnected = asyncio.Event()
        started = asyncio.Event()
        head: dict[str, Any] = {}
        sent_body = False

        async def receive() -> dict[str, Any]:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body or b"", "more_body": False}
            await disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if disconnected.is_set():
                raise OSError("the client has gone")
            if message["type"] == "http.response.start":
                head["status"] = message["status"]
                head["headers"] = {k.decode().lower(): v.decode()
                                   for k, v in message.get("headers", [])}
                started.set()
            elif message["type"] == "http.response.body":
                if message.get("body"):
                    await chunks.put(bytes(message["body"]))
                if not message.get("more_body", False):
                    await chunks.put(None)

        task = asyncio.create_task(self.app(scope, receive, send))
        waiter = asyncio.create_task(started.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not started.is_set():
            waiter.cancel()
            task.result()  # raises the app's exception
            raise AssertionError("the app ended without answering")
        try:
            yield Streamed(head["status"], head["headers"], chunks, disconnected)
        finally:
            disconnected.set()
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), 30)

    async def request(self, method: str, path: str, json_body: Any = None,
                      headers: dict[str, str] | None = None, body: bytes | None = None,
                      timeout: float = 300) -> Reply:
        async with self.stream(method, path, json_body, headers, body) as s:
            parts = []
            while True:
                chunk = await asyncio.wait_for(s.chunks.get(), timeout)
                if chunk is None:
                    break
                parts.append(chunk)
            return Reply(s.status, s.headers, b"".join(parts))

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, json_body: Any = None, **kw: Any) -> Reply:
        return await self.request("POST", path, json_body, **kw)

    async def delete(self, path: str, **kw: Any) -> Reply:
        return await self.request("DELETE", path, **kw)
