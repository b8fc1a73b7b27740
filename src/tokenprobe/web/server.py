"""The HTTP server around the app: the listening socket, uvicorn's settings, and time limits
on connections.

- `bind` makes the listening socket before uvicorn starts, so that a port in use is a
  one-line error. It is made as a TCP socket (protocol IPPROTO_TCP, as uvicorn's own
  binding makes it) with TCP_NODELAY: asyncio sets TCP_NODELAY on the connections it
  accepts only when the listening socket says it is TCP, and without it every request
  after the first on a kept-alive connection waited about 40 ms (Nagle's algorithm holding
  the second write of an answer for the client's delayed ACK).
- `GuardedH11Protocol` is uvicorn's h11 protocol with two deadlines it lacks: a request's
  line and headers must arrive within `header_timeout` seconds of the connection opening
  (or of the previous answer, on a kept-alive connection) and its body within
  `body_timeout` of its headers, else the connection is closed; one that trickles bytes
  (slowloris) cannot hold a connection forever. An answer has no deadline: an event
  stream runs as long as its job. uvicorn's own keep-alive timeout closes an idle
  kept-alive connection, and h11 refuses headers larger than MAX_HEADER_BYTES (400).
- `uvicorn_config` is the one place these settings are put together (`tokenprobe serve`
  and the tests use it).

It leaves out the app (app.py) and the command (cli/serve.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from tokenprobe.errors import TokenprobeError
from tokenprobe.web.config import MAX_HEADER_BYTES, ServerConfig


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port and listening, for uvicorn's `sockets`.

    It listens at once: `serve` says "serving on" before uvicorn's loop starts, and a
    client that connects on reading that line waits in the backlog until the loop accepts
    it, instead of being refused (uvicorn listens again with its own backlog)."""
    name = host.strip("[]")
    family = socket.AF_INET6 if ":" in name else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((name, port))
    except OSError as e:
        sock.close()
        reason = "the port is in use" if e.errno == errno.EADDRINUSE else (e.strerror or str(e))
        raise TokenprobeError(f"cannot listen on {host}:{port}: {reason}") from None
    sock.listen(socket.SOMAXCONN)
    sock.set_inheritable(True)
    return sock


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with header and body deadlines (the module's docstring)."""

    header_timeout = 10.0  # set per server by `uvicorn_config` (a subclass)
    body_timeout = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_for: str | None = None  # "headers", "body" or None (answering)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):  # whatever socket accepted it, send at once
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._arm(None)
        super().connection_lost(exc)

    def _watch(self) -> None:
        """Arm the deadline for what the connection now waits for: a deadline runs from
        the moment that wait began, and more bytes do not move it."""
        if self.transport is None or self.transport.is_closing():
            self._arm(None)
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            self._arm("headers")
        elif state is h11.SEND_BODY:
            self._arm("body")
        else:  # the request is in; the answer takes what it takes
            self._arm(None)

    def _arm(self, waiting_for: str | None) -> None:
        if waiting_for == self._waiting_for:
            return
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._waiting_for = waiting_for
        if waiting_for is not None:
            delay = self.header_timeout if waiting_for == "headers" else self.body_timeout
            self._deadline = self.loop.call_later(delay, self._expired)

    def _expired(self) -> None:
        self._deadline = None
        self._waiting_for = None
        if self.transport is not None and not self.transport.is_closing():
            # Nothing to answer on: the request never arrived whole. A route waiting for
            # the rest of a body sees the client gone.
            self.transport.close()


def protocol_for(config: ServerConfig) -> type[GuardedH11Protocol]:
    """The protocol class with this server's deadlines."""
    return type("TokenprobeH11Protocol", (GuardedH11Protocol,),
                {"header_timeout": config.header_timeout,
                 "body_timeout": config.body_timeout})


def uvicorn_config(asgi: Any, config: ServerConfig, **kwargs: Any) -> uvicorn.Config:
    """uvicorn's settings for the app: the guarded protocol, the timeouts, no Server
    header; `kwargs` are passed on (the log configuration)."""
    return uvicorn.Config(asgi, http=protocol_for(config), ws="none",
                          timeout_keep_alive=max(1, round(config.keep_alive)),
                          h11_max_incomplete_event_size=MAX_HEADER_BYTES,
                          timeout_graceful_shutdown=3, server_header=False, **kwargs)
