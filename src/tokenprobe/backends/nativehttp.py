"""HTTP for the native server backends (llamacpp, ollama): a streamed POST, with retries.

`NativeHttp.lines(path, body)` sends one JSON POST and yields the body's lines as they
arrive (SSE `data:` lines or NDJSON). Before the body starts it retries what a retry can
mend (429, 408, 500, 502, 503, 504, a refused or dropped connection), waiting as the
server's `retry-after` says (server_errors.retry_delay, bounded) at most `max_retries` times.
Every failure becomes a one-line ServerError, with the API key scrubbed out; a failure
while the body streams says the connection broke part-way (the backend's TraceStream keeps
the tokens already received). The transport is injectable (httpx), so tests replay
recorded responses through an httpx.MockTransport.

Lines end at LF only (`byte_lines`, `abyte_lines`, which the openai backend's streams use
too): JSON written with `ensure_ascii=False` holds U+2028, U+2029 and U+0085 raw inside
its strings, and httpx's `iter_lines`, like `str.splitlines`, would cut a chunk there.

It leaves out reading the lines (formats/llamacpp.py, formats/ollama.py) and the checks on
a whole answer (server_errors.check_cover).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any

import httpx

from tokenprobe.backends.server_errors import (
    RETRY_STATUSES,
    ServerError,
    body_message,
    parse_json,
    reason,
    retry_delay,
    scrub,
    status_error,
)
from tokenprobe.backends.urls import check_url, public_url, url_secrets

DEFAULT_TIMEOUT = 120.0
CONNECT_TIMEOUT = 10.0


def byte_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """The lines of a body arriving in `chunks`, split at LF (a CR before it dropped).

    A multi-byte character is never cut: 0x0A is never part of one in UTF-8."""
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        if b"\n" in chunk:
            yield from _whole_lines(buf)
    if buf:
        yield _text(bytes(buf))


async def abyte_lines(chunks: AsyncIterable[bytes]) -> AsyncIterator[str]:
    """`byte_lines` for a body read on an event loop."""
    buf = bytearray()
    async for chunk in chunks:
        buf += chunk
        if b"\n" in chunk:
            for line in _whole_lines(buf):
                yield line
    if buf:
        yield _text(bytes(buf))


def _whole_lines(buf: bytearray) -> list[str]:
    """The complete lines at the start of `buf`, removed from it."""
    end = buf.rfind(b"\n")
    lines = [_text(line) for line in bytes(buf[:end]).split(b"\n")]
    del buf[:end + 1]
    return lines


def _text(line: bytes) -> str:
    return line.removesuffix(b"\r").decode("utf-8", "replace")


class NativeHttp:
    def __init__(self, base_url: str, api_key: str | None = None, timeout: float | None = None,
                 max_retries: int = 2, transport: httpx.BaseTransport | None = None,
                 key_hint: str = "the API key") -> None:
        self.base_url = base_url.rstrip("/")
        check_url(self.base_url)
        self.where = f"the server at {public_url(self.base_url)}"
        self.timeout = float(timeout or DEFAULT_TIMEOUT)
        self.max_retries = max(int(max_retries), 0)
        self.key_hint = key_hint
        self._key = api_key or ""
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # No kept-alive connections: a generation is one long request, a new connection
        # costs nothing beside it, and a connection the server closed while it sat in the
        # pool would fail the next request with "disconnected without a response".
        self.client = httpx.Client(
            base_url=self.base_url, headers=headers, transport=transport,
            timeout=httpx.Timeout(self.timeout, connect=min(CONNECT_TIMEOUT, self.timeout)),
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def close(self) -> None:
        self.client.close()

    def secrets(self) -> list[str | None]:
        return [self._key, *url_secrets(self.base_url)]

    def scrub(self, text: str) -> str:
        return scrub(text, self.secrets())

    def lines(self, path: str, body: dict[str, Any],
              asked_alternatives: int | None = None) -> Iterator[str]:
        """The lines of the answer to POST `path`, as they arrive."""
        response = self._open("POST", path, body, asked_alternatives)
        try:
            yield from byte_lines(response.iter_bytes())
        except httpx.TimeoutException:
            raise ServerError(self.timeout_message()) from None
        except httpx.TransportError as e:
            raise ServerError(f"{self.where} broke the connection part-way "
                              f"({self.scrub(reason(e))})") from None
        finally:
            response.close()

    def post_json(self, path: str, body: dict[str, Any]) -> Any:
        """The JSON answer to a small POST (no streaming)."""
        response = self._open("POST", path, body, None)
        try:
            text = response.read().decode("utf-8", "replace")
        except httpx.TimeoutException:
            raise ServerError(self.timeout_message()) from None
        except httpx.TransportError as e:
            raise ServerError(f"{self.where} broke the connection part-way "
                              f"({self.scrub(reason(e))})") from None
        finally:
            response.close()
        return parse_json(text, self.where)

    def _open(self, method: str, path: str, body: dict[str, Any],
              asked: int | None) -> httpx.Response:
        attempt = 0
        while True:
            try:
                request = self.client.build_request(method, path, json=body)
                response = self.client.send(request, stream=True)
            except httpx.TimeoutException:
                raise ServerError(self.timeout_message()) from None
            except httpx.TransportError as e:
                if attempt < self.max_retries:
                    time.sleep(retry_delay({}, attempt))
                    attempt += 1
                    continue
                raise ServerError(f"cannot reach {self.where}: "
                                  f"{self.scrub(reason(e))}") from None
            if response.status_code < 400:
                return response
            try:
                text = response.read().decode("utf-8", "replace")
            except httpx.HTTPError:
                text = ""
            finally:
                response.close()
            message = self.scrub(body_message(text) if text.strip()
                                 else response.reason_phrase or "no message")
            if response.status_code in RETRY_STATUSES and attempt < self.max_retries:
                time.sleep(retry_delay(response.headers, attempt))
                attempt += 1
                continue
            error = status_error(response.status_code, message, self.where, asked,
                                 retries=attempt)
            if response.status_code in (401, 403):
                error.args = (str(error.args[0]).replace("check OPENAI_API_KEY",
                                                         f"check {self.key_hint}"),)
            raise error

    def timeout_message(self) -> str:
        return f"{self.where} did not answer within {self.timeout:g} s (timeout)"
