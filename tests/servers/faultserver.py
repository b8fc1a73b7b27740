"""A scripted HTTP server for injecting faults: each request takes the next behaviour.

Only for what a real server will not do on demand (429s, 500s, silence, resets, cut
streams, bad JSON, dropped logprobs); the happy path is tested against a real server.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Behaviour = Callable[[BaseHTTPRequestHandler], None]


def status(code: int, body: Any, headers: dict[str, str] | None = None) -> Behaviour:
    def run(h: BaseHTTPRequestHandler) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)
    return run


def raw_body(text: str, content_type: str = "application/json") -> Behaviour:
    def run(h: BaseHTTPRequestHandler) -> None:
        data = text.encode()
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
    return run


def chunked(h: BaseHTTPRequestHandler, content_type: str) -> Callable[[str], None]:
    """Starts a 200 answer with a chunked body; returns what writes one chunk of it."""
    h.send_response(200)
    h.send_header("Content-Type", content_type)
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()

    def chunk(text: str) -> None:
        data = text.encode()
        h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        h.wfile.flush()
    return chunk


def sse(docs: list[Any], done: bool = True, chunked_cut: bool = False,
        extra_lines: list[str] | None = None, ensure_ascii: bool = True) -> Behaviour:
    """An SSE stream of `docs`; without `done` the connection just closes after them; with
    `chunked_cut` it closes in the middle of a chunk of the chunked encoding. Without
    `ensure_ascii` the JSON holds its characters raw (U+2028 too), as many servers write."""
    def run(h: BaseHTTPRequestHandler) -> None:
        chunk = chunked(h, "text/event-stream")
        for d in docs:
            chunk(f"data: {json.dumps(d, ensure_ascii=ensure_ascii)}\n\n")
            time.sleep(0.01)
        for line in extra_lines or []:
            chunk(line)
        if chunked_cut:
            h.wfile.write(b"400\r\ndata: {\"choi")  # promises 1024 bytes, sends a few
            h.wfile.flush()
            reset(h)
            return
        if done:
            chunk("data: [DONE]\n\n")
            h.wfile.write(b"0\r\n\r\n")
        else:
            h.wfile.write(b"0\r\n\r\n")  # a clean end of body, but no [DONE]
        h.wfile.flush()
    return run


def ndjson(docs: list[Any], cut: bool = False, extra_lines: list[str] | None = None,
           delay: float = 0.01) -> Behaviour:
    """An NDJSON stream (Ollama's: one JSON document a line) of `docs`; with `cut` the
    connection is reset in the middle of the next line."""
    def run(h: BaseHTTPRequestHandler) -> None:
        chunk = chunked(h, "application/x-ndjson")
        for d in docs:
            chunk(json.dumps(d) + "\n")
            time.sleep(delay)
        for line in extra_lines or []:
            chunk(line)
        if cut:
            h.wfile.write(b"400\r\n{\"model\": \"m\", \"resp")  # promises 1024 bytes
            h.wfile.flush()
            reset(h)
            return
        h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()
    return run


def silence(seconds: float) -> Behaviour:
    def run(h: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
    return run


def reset(h: BaseHTTPRequestHandler) -> None:
    """Close with a TCP reset (SO_LINGER 0) instead of an orderly shutdown."""
    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    h.connection.close()
    h.close_connection = True


class FaultServer:
    def __init__(self, script: list[Behaviour]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def end_headers(self) -> None:
                # Every answer closes its connection, and says so, as a real server does:
                # a client must not send its next request on a connection being closed.
                self.send_header("Connection", "close")
                super().end_headers()

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                try:
                    outer.requests.append(json.loads(body or b"{}"))
                except ValueError:
                    outer.requests.append({})
                outer.headers.append({k.lower(): v for k, v in self.headers.items()})
                outer.paths.append(self.path)
                behaviour = outer.script.pop(0) if outer.script else status(
                    500, {"error": {"message": "script exhausted"}})
                self.close_connection = True
                with suppress(OSError):
                    behaviour(self)

            do_GET = do_POST

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FaultServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def fault_server(*script: Behaviour) -> Iterator[FaultServer]:
    with FaultServer(list(script)) as s:
        yield s


def chat_chunk(token: str | None, logprob: float = -0.5, finish: str | None = None,
               with_logprobs: bool = True) -> dict[str, Any]:
    """One chat.completion.chunk carrying one token (or none, for role / final chunks)."""
    delta: dict[str, Any] = {} if token is None else {"content": token}
    lp: Any = None
    if token is not None and with_logprobs:
        lp = {"content": [{"token": token, "logprob": logprob, "bytes": list(token.encode()),
                           "top_logprobs": [{"token": token, "logprob": logprob,
                                             "bytes": list(token.encode())},
                                            {"token": "x", "logprob": -3.0,
                                             "bytes": [120]}]}]}
    return {"id": "c1", "object": "chat.completion.chunk", "model": "m",
            "choices": [{"index": 0, "delta": delta, "logprobs": lp,
                         "finish_reason": finish}]}


def chat_stream(tokens: list[str], finish: str | None = "stop") -> list[dict[str, Any]]:
    docs = [{"id": "c1", "object": "chat.completion.chunk", "model": "m",
             "choices": [{"index": 0, "delta": {"role": "assistant"}, "logprobs": None,
                          "finish_reason": None}]}]
    docs += [chat_chunk(t, -0.1 * (i + 1)) for i, t in enumerate(tokens)]
    if finish is not None:
        docs.append(chat_chunk(None, finish=finish))
    return docs


def chat_whole(tokens: list[str], finish: str = "stop") -> Behaviour:
    """A whole chat.completion (what a request without `stream` gets) of `tokens`."""
    items = [chat_chunk(t, -0.1 * (i + 1))["choices"][0]["logprobs"]["content"][0]
             for i, t in enumerate(tokens)]
    return status(200, {"id": "c1", "object": "chat.completion", "model": "m",
                        "choices": [{"index": 0, "finish_reason": finish,
                                     "message": {"role": "assistant",
                                                 "content": "".join(tokens)},
                                     "logprobs": {"content": items}}]})
