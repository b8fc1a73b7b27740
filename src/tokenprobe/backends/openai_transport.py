"""The OpenAI-compatible backend's connection: the SDK client, its retries and its failures.

Requests go through the official `openai` SDK, but the responses are read as the JSON the
server sent (`with_streaming_response` / `with_raw_response`), not as SDK objects; stream
lines end at LF only (nativehttp.byte_lines).

Retries are this module's, not the SDK's (its clients are built with `max_retries=0`): the
same rule as the native backends' (408, 429, 500, 502, 503, 504 and a refused or dropped
connection, before the body starts; not a timeout), waiting as `retry-after` /
`retry-after-ms` say but never more than `server_errors.MAX_RETRY_WAIT` (30 s) a wait, at most
`max_retries` (2) times. The SDK would wait up to its own bound (two minutes in current
versions), and an error after its retries could not say how many tries were made; counted
here, "after N tries" is said only when there were N.

It leaves out what is asked (backends/openai.py builds the parameters) and reading the
documents into steps (openai_reader.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Generator, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

from tokenprobe.backends.nativehttp import byte_lines
from tokenprobe.backends.openai_reader import sse_line
from tokenprobe.backends.server_errors import (
    RETRY_STATUSES,
    ServerError,
    body_message,
    is_transport_error,
    parse_json,
    reason,
    retry_delay,
    scrub,
    status_error,
)
from tokenprobe.backends.urls import check_url, public_url, url_secrets
from tokenprobe.errors import FormatError, ModelError, TokenprobeError

T = TypeVar("T")
# How a retry waits (a name of its own, so that a test can see the waits without taking them).
_sleep: Callable[[float], None] = time.sleep
_asleep: Callable[[float], Awaitable[None]] = asyncio.sleep


class OpenAIConnection:
    """One server reached through the SDK: requests retried as the answer allows, failures
    as one-line ServerErrors without the key."""

    def __init__(self, base_url: str, api_key: str | None, timeout: float,
                 max_retries: int = 2) -> None:
        try:
            import openai
        except ImportError as e:  # pragma: no cover - a dependency
            raise ModelError(f"the openai package is needed for openai: models ({e})") from None
        self.base_url = base_url.rstrip("/")
        check_url(self.base_url)
        self.key = api_key or ""
        self.openai = openai
        self.where = f"the server at {public_url(self.base_url)}"
        self.max_retries = max(int(max_retries), 0)
        # Local servers need no key; the SDK insists on one (its ways of sending none differ
        # between versions), so they get a placeholder, which a server without --api-key
        # ignores and one with it rightly refuses. Retries are ours (see the docstring).
        self.client = openai.OpenAI(base_url=self.base_url, api_key=self.key or "no-key",
                                    timeout=timeout, max_retries=0)

    def async_client(self) -> Any:
        """A new AsyncOpenAI client for the running event loop (close it when done)."""
        return self.openai.AsyncOpenAI(base_url=self.base_url, api_key=self.key or "no-key",
                                       timeout=self.client.timeout, max_retries=0)

    def close(self) -> None:
        self.client.close()

    def secrets(self) -> list[str | None]:
        return [self.key, *url_secrets(self.base_url)]

    def refusal(self, e: Any) -> str:
        """What an APIStatusError's body says, without the key."""
        return scrub(body_message(e.body if e.body is not None else e.message), self.secrets())

    # --- retries ----------------------------------------------------------------------

    def _retry_wait(self, e: Exception, attempt: int) -> float | None:
        """Seconds to wait before retrying after `e` (retry `attempt`, 0-based), or None when
        it is not retried."""
        openai = self.openai
        if attempt >= self.max_retries:
            return None
        if isinstance(e, openai.APIStatusError):
            if e.status_code not in RETRY_STATUSES:
                return None
            return retry_delay(e.response.headers, attempt)
        if isinstance(e, openai.APIConnectionError) and not isinstance(
                e, openai.APITimeoutError):
            return retry_delay({}, attempt)
        return None

    def _status_error(self, e: Any, asked: int | None, retries: int) -> ServerError:
        return status_error(e.status_code, self.refusal(e), self.where, asked, retries=retries)

    def _wait_or_raise(self, e: Exception, attempt: int, asked: int | None) -> float:
        """The wait before trying again after `e`; when it is not retried, `e` is raised
        again (or, after some retries, the error that counts them)."""
        wait = self._retry_wait(e, attempt)
        if wait is None:
            if attempt and isinstance(e, self.openai.APIStatusError):
                raise self._status_error(e, asked, attempt) from None
            raise e
        return wait

    def retrying(self, call: Callable[[], T], asked: int | None) -> T:
        """`call()`, retried as the server's answer allows (before any body is read)."""
        attempt = 0
        while True:
            try:
                return call()
            except Exception as e:
                wait = self._wait_or_raise(e, attempt, asked)
            _sleep(wait)
            attempt += 1

    async def aretrying(self, call: Callable[[], Awaitable[T]], asked: int | None) -> T:
        """`retrying` on an event loop."""
        attempt = 0
        while True:
            try:
                return await call()
            except Exception as e:
                wait = self._wait_or_raise(e, attempt, asked)
            await _asleep(wait)
            attempt += 1

    # --- failures ---------------------------------------------------------------------

    @contextmanager
    def errors(self, asked: int | None) -> Iterator[None]:
        """SDK and transport failures as one-line ServerErrors without the key (`asked`: the
        alternatives the request asked for, which a refusal may be about)."""
        openai = self.openai
        try:
            yield
        except FormatError as e:
            # What the server sent cannot be read: the server's failure (exit code 4, or 3
            # with the tokens kept), as the native backends say it.
            raise ServerError(f"{self.where} sent an answer tokenprobe cannot read: "
                              f"{scrub(str(e), self.secrets())}") from None
        except TokenprobeError as e:
            # Our own errors pass through, scrubbed.
            e.args = (scrub(str(e), self.secrets()),)
            raise
        except openai.APIStatusError as e:
            raise self._status_error(e, asked, retries=0) from None
        except openai.APITimeoutError:
            raise ServerError(self._timeout_message()) from None
        except openai.APIConnectionError as e:
            cause = e.__cause__ or e
            raise ServerError(f"cannot reach {self.where}: "
                              f"{scrub(reason(cause), self.secrets())}") from None
        except openai.OpenAIError as e:
            raise ServerError(f"{self.where}: {scrub(str(e), self.secrets())}") from None
        except Exception as e:
            # Failures while reading a stream come from the SDK's HTTP transport (httpx, or
            # its fork httpx2 in newer SDKs) unwrapped; match them by where they come from.
            if not is_transport_error(e):
                raise
            if "timeout" in type(e).__name__.lower():
                raise ServerError(self._timeout_message()) from None
            raise ServerError(f"{self.where} broke the connection part-way "
                              f"({scrub(reason(e), self.secrets())})") from None

    def _timeout_message(self) -> str:
        timeout = self.client.timeout
        seconds = getattr(timeout, "read", None) or timeout
        return f"{self.where} did not answer within {seconds:g} s (timeout)"

    # --- reading answers --------------------------------------------------------------

    def lines(self, endpoint: Any, params: dict[str, Any], state: dict[str, bool],
              asked: int | None) -> Generator[dict[str, Any]]:
        """The JSON documents of an SSE stream, as the server sent them; `state["done"]`
        says whether the stream ended with `data: [DONE]`."""
        with ExitStack() as stack:
            response = self.retrying(lambda: stack.enter_context(
                endpoint.with_streaming_response.create(**params, stream=True)), asked)
            for line in byte_lines(response.iter_bytes()):
                doc, done = sse_line(line, self.where)
                if done:
                    state["done"] = True
                    return
                if doc is not None:
                    yield doc

    def whole(self, endpoint: Any, params: dict[str, Any],
              asked: int | None = None) -> dict[str, Any]:
        """The one JSON object of an unstreamed answer."""
        raw = self.retrying(lambda: endpoint.with_raw_response.create(**params), asked)
        doc = parse_json(raw.http_response.text, self.where)
        if not isinstance(doc, dict):
            raise ServerError(f"{self.where} answered with JSON that is not an object")
        return doc

    async def apost(self, client: Any, path: str, params: dict[str, Any],
                    asked: int | None) -> str:
        """The body of the whole answer to `params` at `path`, as the server sent it.

        It goes through the SDK's generic `post` (its errors and authentication; the
        retries are ours, as for every request) without the per-request re-validation of
        typed parameters, which costs a millisecond a request that a batch of thousands
        feels. Call it inside `errors`."""
        import httpx

        body = {k: v for k, v in params.items() if k != "extra_body"}
        body.update(params.get("extra_body") or {})
        response = await self.aretrying(
            lambda: client.post(path, cast_to=httpx.Response, body=body), asked)
        return str(response.text)
