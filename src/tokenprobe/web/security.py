"""The checks every request passes before it reaches a route, and the headers every answer gets.

- Host: without a token the server answers only to loopback names (127.0.0.1, localhost,
  ::1, and the address it was bound to), so a web page elsewhere cannot reach it by
  pointing a name of its own at 127.0.0.1 (DNS rebinding).
- Origin: a request that says it comes from another origin is refused (403), so other
  sites open in the same browser cannot drive the API.
- Token: with `--token`, every /api request needs `Authorization: Bearer TOKEN` (401
  otherwise); the comparison takes constant time. The token is never logged or echoed.
  A client's wrong tokens are answered later and later (throttle.py); a correct one never
  waits.
- Bodies: a POST body must be JSON (`Content-Type: application/json`, 415 otherwise: this
  also keeps cross-site form posts out), say its length (411) and be no larger than its
  path allows (config.BODY_LIMITS, 413); uvicorn reads no more than the length said.
- Headers: nosniff, no referrer, no framing; every HTML answer (the page under any of its
  paths) gets a Content-Security-Policy that allows only its own scripts, styles and API
  (nothing from the network).

It leaves out what the routes check (schemas.py) and binding (config.py, cli/serve.py).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokenprobe.web.config import BODY_LIMITS, SMALL_BODY, is_loopback
from tokenprobe.web.throttle import FailureThrottle

PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'")
_COMMON = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
           (b"x-frame-options", b"DENY")]


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k == name:
            return str(v.decode("latin-1"))
    return None


def _hostname(host: str) -> str:
    if host.startswith("["):  # [::1]:8000
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


async def _refuse(send: Send, status: int, detail: str,
                  extra: Iterable[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *_COMMON, *extra]})
    await send({"type": "http.response.body", "body": body})


def _body_problem(scope: Scope) -> tuple[int, str] | None:
    """Why a request's body is refused, if it is: a body must be JSON of a stated length,
    no larger than its path needs. No body at all is fine (cancelling a job needs none)."""
    length = _header(scope, b"content-length")
    chunked = _header(scope, b"transfer-encoding") is not None
    if (length is None and not chunked) or length == "0":
        return None
    if length is None or not length.isdigit():
        return 411, "send the request body with a Content-Length"
    ctype = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
    if ctype != "application/json":
        return 415, "send the request body as JSON (Content-Type: application/json)"
    path = scope.get("path", "")
    limit = BODY_LIMITS.get(path, SMALL_BODY)
    if int(length) > limit:
        where = f" for {path}" if path in BODY_LIMITS else ""
        return 413, f"the request body is too large ({int(length)} bytes; at most {limit}{where})"
    return None


def _is_html(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(k.lower() == b"content-type"
               and v.split(b";")[0].strip().lower() in (b"text/html", b"application/xhtml+xml")
               for k, v in headers)


class Guard:
    """ASGI middleware applying the module's checks and headers."""

    def __init__(self, app: ASGIApp, token: str | None, bound_host: str,
                 throttle: FailureThrottle | None = None) -> None:
        self.app = app
        self.token = token
        self.bound = bound_host.strip("[]").lower()
        self.throttle = throttle or FailureThrottle()

    def _host_ok(self, scope: Scope) -> bool:
        if self.token:  # served beyond this machine: the token is the gate
            return True
        host = _header(scope, b"host")
        if host is None:
            return True  # HTTP/1.0 clients on this machine
        name = _hostname(host).lower()
        return is_loopback(name) or name == self.bound

    def _origin_ok(self, scope: Scope) -> bool:
        origin = _header(scope, b"origin")
        if origin is None or (origin == "null" and scope.get("method") == "GET"):
            return True
        host = _header(scope, b"host")
        return host is not None and origin.split("://", 1)[-1].lower() == host.lower()

    def _authorized(self, scope: Scope) -> bool:
        if not self.token:
            return True
        got = _header(scope, b"authorization") or ""
        scheme, _, value = got.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), self.token.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        method: str = scope.get("method", "GET")
        if not self._host_ok(scope):
            await _refuse(send, 403, "this server answers only to 127.0.0.1 and localhost "
                          "(start it with --host and --token to serve other names)")
            return
        if not self._origin_ok(scope):
            await _refuse(send, 403, "requests from other sites are refused")
            return
        api = path == "/api" or path.startswith("/api/")
        if api and not self._authorized(scope):
            if _header(scope, b"authorization"):  # a guess (no header: a page that asks)
                client = scope.get("client")
                await self.throttle.failed(client[0] if client else None)
            await _refuse(send, 401, "this server needs its token: send "
                          "'Authorization: Bearer TOKEN'", [(b"www-authenticate", b"Bearer")])
            return
        if method in ("POST", "PUT", "PATCH"):
            problem = _body_problem(scope)
            if problem is not None:
                await _refuse(send, *problem)
                return
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += _COMMON
                # Every HTML answer, whatever its path (/, /static/index.html, an export).
                if _is_html(headers):
                    headers.append((b"content-security-policy", PAGE_CSP.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
