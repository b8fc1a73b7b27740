"""Whether a server model answers now: when a model is added in the page, a TCP connection
to the host and port its requests go to, opened in a thread of its own with a short limit.

Nothing is sent over the connection (no request, no key): that it opens is all the probe
learns. A refusal, a name that does not resolve, or no answer within `PROBE_TIMEOUT` is
"not reachable now", said in one line with the URL as it may be shown (`public_url`). It
decides nothing: the model is offered either way, and the page asks whether to keep it.
A name lookup that hangs holds only its own thread (the caller has its answer when the
limit is up); at most `MAX_PENDING` probes may be unfinished at once, beyond which a
model is added unchecked (`reachable: null`, and a note saying so).

It leaves out local models (no server), and whether what answers is the server named.
"""

from __future__ import annotations

import socket
import threading
from typing import Any
from urllib.parse import urlsplit

from tokenprobe.backends import parse_model_spec
from tokenprobe.backends.urls import public_url
from tokenprobe.web.registry import ModelEntry

PROBE_TIMEOUT = 2.0  # seconds a probe may take, name lookup included
MAX_PENDING = 8  # unfinished probes (a hung name lookup keeps its thread) before skipping
_pending = threading.BoundedSemaphore(MAX_PENDING)


def target(entry: ModelEntry) -> str | None:
    """The URL an entry's requests go to (credentials and all; never shown as it is), or
    None for a local model. Without a base URL, the one its backend falls back on."""
    return entry.backend_class.target_url(parse_model_spec(entry.spec)[1], entry.options)


def _reason(e: OSError, host: str, timeout: float) -> str:
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, socket.gaierror):
        return f"the name {host} is not known"
    if isinstance(e, TimeoutError):
        return f"no answer within {timeout:g} s"
    return (e.strerror or type(e).__name__).lower()


def _connect(host: str, port: int, timeout: float) -> None:
    with socket.create_connection((host, port), timeout=timeout):
        pass


class NotChecked(Exception):
    """Too many probes are still unfinished to start another."""


def probe(url: str, timeout: float | None = None) -> str | None:
    """None when a TCP connection to the URL's host and port opens within `timeout`
    seconds (default PROBE_TIMEOUT; lookup included); else why not, in a few words.
    NotChecked when `MAX_PENDING` probes are still unfinished."""
    limit = PROBE_TIMEOUT if timeout is None else timeout
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    pending = _pending  # the run releases the semaphore it took, whatever is bound later
    if not pending.acquire(blocking=False):
        raise NotChecked
    done = threading.Event()
    failure: list[str] = []

    def run() -> None:
        try:
            _connect(host, port, limit)
        except OSError as e:
            failure.append(_reason(e, host, limit))
        finally:
            pending.release()
            done.set()

    threading.Thread(target=run, name="tokenprobe-reach", daemon=True).start()
    if not done.wait(limit):
        return f"no answer within {limit:g} s"
    return failure[0] if failure else None


def reachability(entry: ModelEntry, timeout: float | None = None) -> dict[str, Any]:
    """What `POST /api/models` adds to the entry: `reachable` (None for a local model or
    one left unchecked) and, when not true for a server model, `reach_note` ("not
    reachable now: connection refused (http://host:port/v1)").
    Blocks up to `timeout` seconds (default PROBE_TIMEOUT): call it from a worker thread."""
    url = target(entry)
    if url is None:
        return {"reachable": None}
    try:
        why = probe(url, timeout)
    except NotChecked:
        return {"reachable": None, "reach_note": "not checked: too many checks of other "
                "servers are still waiting for an answer"}
    if why is None:
        return {"reachable": True}
    return {"reachable": False, "reach_note": f"not reachable now: {why} ({public_url(url)})"}
