"""Connections to the real HTTP server: answers go out at once (TCP_NODELAY on every accepted
connection), and a connection that never finishes its request is closed within the stated
time (the headers, then the body), while event streams run as long as their jobs."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import uvicorn
from tests.servers.faultserver import chat_stream, fault_server, sse
from tests.web.conftest import state_of
from tests.web.serve import serve

from tokenprobe.backends import BackendOptions
from tokenprobe.web import ModelConfig
from tokenprobe.web.config import HEADER_TIMEOUT
from tokenprobe.web.security import Guard
from tokenprobe.web.server import bind, uvicorn_config


def test_accepted_connections_have_tcp_nodelay() -> None:
    """The socket `serve` binds is one asyncio takes for TCP: the connections it accepts
    get TCP_NODELAY (without it each answer after the first on a kept-alive connection
    waited ~40 ms for the client's delayed ACK)."""
    sock = bind("127.0.0.1", 0)
    assert sock.proto == socket.IPPROTO_TCP
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)

    async def main() -> int:
        got: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Accept(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                s = transport.get_extra_info("socket")
                got.set_result(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Accept, sock=sock)
        async with server:
            _, writer = await asyncio.open_connection("127.0.0.1", sock.getsockname()[1])
            nodelay = await asyncio.wait_for(got, 10)
            writer.close()
            return nodelay

    # A thread of its own: an event loop left running in this thread by another test
    # (Playwright's sync API keeps one) would make asyncio.run refuse to start.
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(asyncio.run(main())))
    worker.start()
    worker.join(30)
    assert result and result[0] != 0


def _closed_within(conn: socket.socket, limit: float, trickle: bytes | None) -> float:
    """Seconds until the server closes `conn` (sending `trickle` every 0.5 s meanwhile),
    or more than `limit` if it does not."""
    t0 = time.monotonic()
    conn.settimeout(0.5)
    while time.monotonic() - t0 <= limit:
        try:
            if conn.recv(4096) == b"":
                return time.monotonic() - t0
        except TimeoutError:
            if trickle:
                try:
                    conn.sendall(trickle)  # bytes that must not move the deadline
                except OSError:
                    return time.monotonic() - t0
        except OSError:
            return time.monotonic() - t0
    return time.monotonic() - t0


def test_unfinished_headers_are_cut_off_at_the_stated_timeout(tmp_path: Path) -> None:
    with serve(tmp_path, "--quiet") as s:
        port = int(s.url.rsplit(":", 1)[1])
        slow = socket.create_connection(("127.0.0.1", port))
        idle = socket.create_connection(("127.0.0.1", port))
        results: dict[str, float] = {}
        watcher = threading.Thread(target=lambda: results.update(
            idle=_closed_within(idle, HEADER_TIMEOUT + 5, None)))
        try:
            watcher.start()
            # Half a request, then one header line every half second (slowloris).
            slow.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            results["slow"] = _closed_within(slow, HEADER_TIMEOUT + 5, b"X-Wait: 1\r\n")
            watcher.join()
        finally:
            slow.close()
            idle.close()
        assert results["slow"] <= HEADER_TIMEOUT + 2, results
        assert results["idle"] <= HEADER_TIMEOUT + 2, results
        # The server itself is fine, and so are its streams.
        assert s.call("GET", "/api/health")[0] == 200
        status, text = s.call("POST", "/api/generate", {"prompt": "Hi", "max_tokens": 2,
                                                        "temperature": 0})
        assert status == 200 and "event: done" in text


@contextmanager
def running(app: Guard) -> Iterator[int]:
    """The app behind the same uvicorn settings as `serve`, in a thread; yields the port."""
    sock = bind("127.0.0.1", 0)
    config = state_of(app).config
    server = uvicorn.Server(uvicorn_config(app, config, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _late(behaviour: Callable[[BaseHTTPRequestHandler], None],
          seconds: float) -> Callable[[BaseHTTPRequestHandler], None]:
    def run(h: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        behaviour(h)
    return run


def test_an_unfinished_body_is_cut_off_and_streams_outlive_the_timeouts(
        make_app: Callable[..., Guard]) -> None:
    # A server model that answers after 2.5 s: its stream outlives both timeouts (1 s),
    # with a heartbeat comment every 0.2 s meanwhile.
    with fault_server(_late(sse(chat_stream(["Hel", "lo"])), 2.5)) as fs:
        options = BackendOptions(base_url=fs.base_url, api_key="sk-x",
                                 extra={"max_retries": 0})
        app = make_app(models=[ModelConfig("openai:m", options)], header_timeout=1.0,
                       body_timeout=1.0, heartbeat=0.2)
        with running(app) as port:
            conn = socket.create_connection(("127.0.0.1", port))
            try:
                conn.sendall(b"POST /api/models HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                             b"application/json\r\nContent-Length: 100\r\n\r\n{\"spec\"")
                assert _closed_within(conn, 6, b" ") <= 3
            finally:
                conn.close()
            t0 = time.monotonic()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            body = json.dumps({"mode": "chat", "max_tokens": 4,
                               "messages": [{"role": "user", "content": "hi"}]})
            c.request("POST", "/api/generate", body, {"Content-Type": "application/json"})
            r = c.getresponse()
            text = r.read().decode()
            took = time.monotonic() - t0
            assert r.status == 200 and "event: done" in text and ": waiting" in text
            assert took > 2.0  # it did outlive the timeouts
            # The same connection, kept alive, still serves.
            c.request("GET", "/api/health")
            health: Any = json.loads(c.getresponse().read())
            assert health["status"] == "ok"
            c.close()
