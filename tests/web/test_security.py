"""The guard around the API: the token, the Host and Origin checks, the page's headers, and
the front end's files (the viewer's are the export's own)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.web.asgi import AsgiClient

from tokenprobe.backends import BackendOptions
from tokenprobe.web.config import check_binding, is_loopback
from tokenprobe.web.registry import ModelEntry
from tokenprobe.web.security import PAGE_CSP, Guard

TOKEN = "correct-horse-battery-staple"
VIEWER = Path(__file__).resolve().parents[2] / "src" / "tokenprobe" / "views" / "static"


async def test_with_a_token_every_api_request_needs_it(
        make_app: Callable[..., Guard]) -> None:
    app = make_app(token=TOKEN, host="0.0.0.0")
    anon = AsgiClient(app)
    for path in ("/api/health", "/api/models", "/api/history", "/api/openapi.json"):
        r = await anon.get(path)
        assert r.status == 401 and r.headers["www-authenticate"] == "Bearer", path
        assert TOKEN not in r.body.decode()
    wrong = AsgiClient(app, {"authorization": "Bearer not-the-token"})
    assert (await wrong.get("/api/health")).status == 401
    assert (await wrong.post("/api/generate", {"prompt": "x"})).status == 401
    basic = AsgiClient(app, {"authorization": f"Basic {TOKEN}"})
    assert (await basic.get("/api/health")).status == 401
    right = AsgiClient(app, {"authorization": f"Bearer {TOKEN}"})
    assert (await right.get("/api/health")).status == 200
    assert (await right.get("/api/info")).json()["auth"] is True
    # The page and its files load without it: the page asks for the token itself.
    assert (await anon.get("/")).status == 200
    assert (await anon.get("/static/app.js")).status == 200
    # Beyond loopback, any Host is served (the token is the gate).
    other = AsgiClient(app, {"host": "192.168.1.20:8000", "authorization": f"Bearer {TOKEN}"})
    assert (await other.get("/api/health")).status == 200


async def test_without_a_token_only_loopback_names_are_served(
        make_app: Callable[..., Guard]) -> None:
    app = make_app()
    for host in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000", "127.0.0.1"):
        assert (await AsgiClient(app, {"host": host}).get("/api/health")).status == 200, host
    for host in ("evil.example:8000", "192.168.1.20:8000", "127.0.0.1.evil.example"):
        r = await AsgiClient(app, {"host": host}).get("/api/health")
        assert r.status == 403 and "answers only to 127.0.0.1" in r.detail, host


async def test_requests_from_other_sites_are_refused(make_app: Callable[..., Guard]) -> None:
    app = make_app()
    same = AsgiClient(app, {"origin": "http://127.0.0.1:8000"})
    assert (await same.get("/api/health")).status == 200
    cross = AsgiClient(app, {"origin": "http://evil.example"})
    r = await cross.post("/api/generate", {"prompt": "x"})
    assert r.status == 403 and r.detail == "requests from other sites are refused"
    assert (await cross.delete("/api/history/abcdef12")).status == 403


async def test_page_headers_and_files(make_app: Callable[..., Guard]) -> None:
    client = AsgiClient(make_app())
    page = await client.get("/")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    html = page.body.decode()
    # Nothing from the network: every script, style and icon is the server's own.
    refs = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert refs and all(r.startswith(("/", "#")) for r in refs), refs
    assert '<script src="/viewer/viewer.js"></script>' in html
    assert '<link rel="stylesheet" href="/viewer/viewer.css">' in html
    for name in ("viewer.js", "viewer.css"):
        served = await client.get(f"/viewer/{name}")
        assert served.status == 200 and served.body == (VIEWER / name).read_bytes()
    assert (await client.get("/viewer/viewer.html")).status == 404
    for name in ("app.js", "api.js", "chat.js", "live.js", "complete.js", "compare.js",
                 "history.js", "state.js", "ui.js", "app.css"):
        text = (await client.get(f"/static/{name}")).body.decode()
        assert "://" not in text and "import(" not in text and "url(" not in text
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text
        assert "eval(" not in text


async def test_every_html_answer_gets_the_page_policy(make_app: Callable[..., Guard]) -> None:
    client = AsgiClient(make_app())
    for path in ("/", "/static/index.html"):
        r = await client.get(path)
        assert r.status == 200 and r.headers["content-type"].startswith("text/html"), path
        assert r.headers.get("content-security-policy") == PAGE_CSP, path
    js = await client.get("/static/app.js")
    assert "content-security-policy" not in js.headers  # only pages need one


def test_backend_options_keep_the_key_out_of_repr() -> None:
    key = "sk-test-NOTINREPR0123456789"
    opts = BackendOptions(base_url="http://bob:pw12345@127.0.0.1:9/v1", api_key=key)
    for text in (repr(opts), str(opts), f"{[opts]}", repr(ModelEntry("m", "openai:x", "x",
                                                                     opts))):
        assert key not in text and "pw12345" not in text and "bob" not in text, text
    assert "http://127.0.0.1:9/v1" in repr(opts) and "api_key=(set)" in repr(opts)
    assert "api_key" not in repr(BackendOptions())
    # A URL that does not even parse shows nothing of itself.
    assert "pw12345" not in repr(BackendOptions(base_url="http://u:pw12345@h:abc/v1"))


STATIC = Path(__file__).resolve().parents[2] / "src" / "tokenprobe" / "web" / "static"
ENCODED = re.compile(r"^encodeURIComponent\(")


def test_every_address_the_page_builds_encodes_what_it_puts_in() -> None:
    """Addresses built in the page's scripts (API paths and #/mode/ID) put every value
    through encodeURIComponent (URLSearchParams encodes a query by itself)."""
    checked = 0
    for path in sorted([*STATIC.glob("*.js"), *VIEWER.glob("*.js")]):
        text = path.read_text("utf-8")
        for lit in re.findall(r"`([^`]*)`", text):
            if not lit.startswith(("/", "#/")):
                continue  # not an address (a CSS selector, a message)
            for expr in re.findall(r"\$\{([^}]*)\}", lit):
                checked += 1
                assert ENCODED.match(expr.strip()), f"{path.name}: `{lit}`"
        for lit, expr in re.findall(r"[\"']((?:/api/|/|#/)[^\"']*)[\"']\s*\+\s*([^\s,;]+)",
                                    text):
            if expr.startswith(("mode", "q.toString()")):
                continue  # the page's own mode names; URLSearchParams' encoded query
            checked += 1
            assert ENCODED.match(expr), f"{path.name}: '{lit}' + {expr}"
    assert checked >= 6  # the scan saw the history's, the job's and the address's ids


def test_binding_rule() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"):
        assert is_loopback(host) and check_binding(host, None) is None
    for host in ("0.0.0.0", "192.168.1.20", "::", "example.com"):
        assert not is_loopback(host)
        with pytest.raises(Exception, match="give --token"):
            check_binding(host, None)
        warning = check_binding(host, TOKEN)
        assert warning is not None and TOKEN not in warning
