"""What a failing server means for the user: one-line errors, retries, and secrets kept out.

Server backends (openai, llamacpp, ollama) turn every failure they meet into a `ServerError`
whose message says what happened in the user's words (rate limited, the server failed, no
answer in time, no connection, a stream cut part-way, a body that is not JSON, no logprobs,
a `top_logprobs` above the server's cap) and never contains an API key or a URL's query
values. `retry_delay` reads `retry-after` for every server backend's retries (the openai
backend does its own, as the native ones do, so that the bound MAX_RETRY_WAIT holds for all).

It leaves out URLs (checking them, showing them without secrets: urls.py) and keeping
the tokens already received (`TraceStream` does that for any TokenprobeError raised
part-way: backends/base.py).
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

from tokenprobe.errors import TokenprobeError
from tokenprobe.fastjson import loads

# Waiting longer than this for one retry is worse than telling the user at once.
MAX_RETRY_WAIT = 30.0
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
SERVERS_DOC = "docs/servers.md"
# A server that has sent this many chunks of text without a single logprob is ignoring them.
NO_LOGPROBS_AFTER = 3


class ServerError(TokenprobeError):
    """A server failed or answered in a way tokenprobe cannot use (exit code 4; a failure
    after some tokens arrived is a GenerationError, exit code 3, with the tokens kept)."""

    exit_code = 4


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every secret (an API key, a bearer token, a URL's query values) replaced
    by `***`."""
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, "***")
    # A URL's query may carry a key (`?key=…`, `?api-key=…`): its values never show.
    text = _URL_QUERY.sub(lambda m: m.group(1) + _QUERY_VALUE.sub("=***", m.group(2)), text)
    # Keys that reach a message in a form we were not given (a server echoing part of it).
    return re.sub(r"\b(sk-[A-Za-z0-9_\-]{3})[A-Za-z0-9_\-*]{8,}", r"\1***", text)


_URL_QUERY = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s?#'\"]*\?)([^\s#'\"]*)")
_QUERY_VALUE = re.compile(r"=[^&;]*")




def body_message(body: Any) -> str:
    """The human part of an error body: `error.message`, `message`, `detail` or the text."""
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return _one_line(body)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            for key in ("message", "detail", "msg"):
                if isinstance(err.get(key), str):
                    return _one_line(err[key])
            if isinstance(err.get("detail"), list):
                return _one_line(json.dumps(err["detail"])[:300])
        if isinstance(err, str):
            return _one_line(err)
        if isinstance(body.get("detail"), str):
            return _one_line(body["detail"])
    return _one_line(str(body))


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "…"


_CAP_PATTERNS = (
    r"(?:<=|≤|less than or equal to|at most|maximum(?: value)?(?: is| of)?)\s*(\d+)",
    r"max(?:imum)? allowed:?\s*(\d+)",
    r"greater than (?:the )?max(?:imum)?(?: allowed)?(?: of)?:?\s*(\d+)",
    r"between 0 and (\d+)",
)


def logprobs_cap(message: str) -> int | None:
    """The server's cap on alternatives, when a refusal names it."""
    low = message.lower()
    if "logprob" not in low and "n_probs" not in low:
        return None
    for pattern in _CAP_PATTERNS:
        m = re.search(pattern, low)
        if m:
            return int(m.group(1))
    return None


def status_error(status: int, message: str, where: str, asked_alternatives: int | None,
                 retries: int = 0) -> ServerError:
    """The error for an HTTP status the server answered with."""
    cap = logprobs_cap(message) if status in (400, 422) else None
    if cap is not None and asked_alternatives is not None and asked_alternatives > cap:
        return ServerError(f"{where} allows at most {cap} alternatives per token (asked for "
                           f"{asked_alternatives}): use --alternatives {cap} or fewer")
    tried = f" after {retries + 1} tries" if retries else ""
    if status == 429:
        return ServerError(f"{where} is rate limiting requests (HTTP 429){tried}: {message}")
    if status in (401, 403):
        return ServerError(f"{where} refused the credentials (HTTP {status}): {message}; "
                           "check OPENAI_API_KEY")
    if status == 404:
        return ServerError(f"{where} has no such model or endpoint (HTTP 404): {message}")
    if status >= 500:
        return ServerError(f"{where} failed (HTTP {status}){tried}: {message}")
    return ServerError(f"{where} refused the request (HTTP {status}): {message}")


def no_logprobs(where: str) -> ServerError:
    return ServerError(f"the server returned no logprobs: {where} answered without them "
                       f"(it may not support them, or drop them on this endpoint); see "
                       f"{SERVERS_DOC} for which servers report them and how to ask")


def retry_delay(headers: Mapping[str, str], attempt: int) -> float:
    """Seconds to wait before retry `attempt` (0-based): `retry-after-ms` / `retry-after`
    when the server gives them (seconds or an HTTP date), else exponential backoff; never
    more than MAX_RETRY_WAIT."""
    value: float | None = None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
        except ValueError:
            value = None
    after = headers.get("retry-after")
    if value is None and after is not None:
        try:
            value = float(after)
        except ValueError:
            try:
                value = email.utils.parsedate_to_datetime(after).timestamp() - time.time()
            except (TypeError, ValueError):
                value = None
    if value is None or value < 0:
        value = min(0.5 * 2**attempt, 8.0)
    return min(value, MAX_RETRY_WAIT)


def check_cover(emitted: bytes, text: str, where: str) -> None:
    """The tokens must spell the server's text, or run past it (a stop word the server cut
    from its text); tokens for only part of the text make an incomplete answer."""
    ours = emitted.decode("utf-8", "replace")
    if not text or ours == text or ours.startswith(text):
        return
    if text.startswith(ours):
        raise ServerError(f"{where} sent logprobs for only the first {len(ours)} of the "
                          f"{len(text)} characters of its answer")
    at = next((k for k, (a, b) in enumerate(zip(ours, text)) if a != b), len(ours))
    raise ServerError(f"{where} sent tokens that do not spell its answer's text (they "
                      f"differ at character {at})")


def parse_json(text: str, where: str) -> Any:
    """A body as JSON, or the one-line error for a body that is not JSON."""
    try:
        return loads(text)
    except ValueError:  # orjson's JSONDecodeError is one too
        snippet = " ".join(text.split())[:80]
        raise ServerError(f"{where} sent a body that is not JSON (it begins {snippet!r}); "
                          "the answer may have been cut off") from None


def reason(e: BaseException) -> str:
    """A transport failure in a few words: refused, reset, unknown host, cut off."""
    text = str(e) or type(e).__name__
    low = text.lower()
    if "refused" in low:
        return "connection refused"
    if "reset" in low:
        return "connection reset"
    if "name or service not known" in low or "nodename nor servname" in low:
        return "unknown host"
    if "without sending a response" in low or "disconnected" in low:
        return "it closed the connection without answering"
    if "incomplete chunked read" in low or "peer closed" in low:
        return "the body was cut off"
    return " ".join(text.split())[:200]


def is_transport_error(e: BaseException) -> bool:
    """A failure of the HTTP transport (httpx, or its fork httpx2 in newer openai SDKs),
    which reaches us unwrapped while a stream is being read."""
    module = type(e).__module__.split(".")[0]
    return module in ("httpx", "httpx2", "httpcore", "httpcore2") or isinstance(
        e, (ConnectionError, TimeoutError))
