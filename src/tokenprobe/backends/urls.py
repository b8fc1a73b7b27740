"""URLs as tokenprobe handles them: checked before a request goes out, shown without secrets.

`public_url` drops user:password, query and fragment (what a trace's `source` records and a
message may name); `check_url` refuses a URL no request can go to; `url_secrets` lists what
`server_errors.scrub` must hide; `same_server` says whether two URLs reach one endpoint.

It leaves out what a failing server means (server_errors.py).
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, parse_qsl, urlsplit, urlunsplit

from tokenprobe.errors import InputError


def url_secrets(url: str) -> list[str]:
    """The values in a URL's query and its password: what `scrub` must hide."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    values = [v for _, v in parse_qsl(parts.query, keep_blank_values=False)]
    return values + ([parts.password] if parts.password else [])


def public_url(url: str) -> str:
    """A URL without user:password, query or fragment, safe to record in a trace's `source`
    and to name in a message (a query may carry a key). It never fails: a URL too broken to
    parse loses everything after `?` or `#` and before `@`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        head = re.split(r"[?#]", url, maxsplit=1)[0]
        scheme, sep, rest = head.partition("://")
        return scheme + sep + rest.rpartition("@")[2] if sep else head.rpartition("@")[2]
    netloc = parts.netloc.rpartition("@")[2]  # host[:port] as written
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def check_url(url: str, what: str = "the server's URL") -> None:
    """An InputError (one line) for a URL a request cannot go to: no http(s) scheme, no
    host, or a port that is not a number from 0 to 65535."""
    shown = public_url(url)
    try:
        parts = urlsplit(url)
    except ValueError as e:  # an unclosed [ of an IPv6 address
        raise InputError(f"{what} {shown!r} is not a valid URL ({e})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InputError(f"{what} {shown!r} must start with http:// or https://")
    if not parts.hostname:
        raise InputError(f"{what} {shown!r} names no host")
    try:
        _port(parts)
    except ValueError:
        raise InputError(f"{what} {shown!r} has a port that is not a number from 0 to "
                         "65535") from None


def _port(parts: SplitResult) -> int | None:
    return parts.port  # raises ValueError when out of range or not a number


def same_server(a: str, b: str, drop_v1: bool = False) -> bool:
    """Whether two URLs reach the same endpoint: scheme, host and port (the scheme's
    default when not written) and path, ignoring credentials, case and a trailing slash
    (and a trailing /v1 where `drop_v1`: llama.cpp's native endpoints live beside it)."""
    try:
        pa, pb = urlsplit(a if "://" in a else "http://" + a), urlsplit(
            b if "://" in b else "http://" + b)
        ports = [p.port or {"http": 80, "https": 443}.get(p.scheme.lower()) for p in (pa, pb)]
    except ValueError:
        return False

    def path(p: str) -> str:
        p = p.rstrip("/")
        return p[:-3] if drop_v1 and p.endswith("/v1") else p

    return (pa.scheme.lower() == pb.scheme.lower() and pa.hostname == pb.hostname
            and ports[0] == ports[1] and path(pa.path) == path(pb.path))


def with_scheme(url: str) -> str:
    """A bare host:port as a URL (http://)."""
    return url if "://" in url else "http://" + url
