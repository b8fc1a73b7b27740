"""The guard around the API: the token, the Host and Origin checks, the page's headers, and
the front end's files (the viewer's are the export's own)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.web.asgi import AsgiClient

from tokenprobe.backends import BackendOptions
from tokenprobe.errors import InputError
from tokenprobe.web import ServerConfig
from tokenprobe.web.config import check_binding, is_loopback, make_token, token_problem
from tokenprobe.web.registry import ModelEntry
from tokenprobe.web.security import PAGE_CSP, Guard
from tokenprobe.web.throttle import (
    FORGET_AFTER,
    FREE_FAILURES,
    MAX_HOLD,
    FailureThrottle,
    client_key,
)

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
    names = sorted(p.name for p in STATIC.iterdir() if p.suffix in (".js", ".css"))
    assert "app.js" in names and "progress.js" in names
    for name in names:  # every script and style the app serves
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


@pytest.mark.parametrize(("token", "message"), [
    ("12345678", "--token is too short (8 characters; at least 16)"),
    ("abcabcabcabcabcabcabc", "--token has too few distinct characters (3; at least 10)"),
    ("1212121212121212", "--token has too few distinct characters (2; at least 10)"),
    ("correct horse battery", "--token must be printable ASCII without spaces (it travels "
     "in an HTTP header)"),
    ("pässwörd-0123456789", "--token must be printable ASCII without spaces (it travels in "
     "an HTTP header)"),
])
def test_weak_tokens_are_refused(token: str, message: str) -> None:
    with pytest.raises(InputError) as e:
        ServerConfig(token=token)
    assert str(e.value) == message


def test_made_tokens_are_strong_and_new() -> None:
    made = {make_token() for _ in range(200)}
    assert len(made) == 200
    for t in made:
        assert token_problem(t) is None and len(t) >= 32
        assert re.fullmatch(r"[A-Za-z0-9_-]+", t)  # nothing a header or a shell mangles


class Clock:
    """A clock the test moves, and a sleep that records what it was asked to wait."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_wrong_tokens_wait_longer_and_longer_one_after_the_other() -> None:
    clock = Clock()
    throttle = FailureThrottle(clock=clock)
    waits = []
    for _ in range(12):  # one at a time: each sent once the previous was answered
        wait = throttle.delay_for("203.0.113.7")
        waits.append(wait)
        clock.now += wait + 0.01
    assert waits[:FREE_FAILURES] == [0.0] * FREE_FAILURES
    assert waits[FREE_FAILURES:] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    # Another client is not slowed by this one; the same IPv6 /64 is one client.
    assert throttle.delay_for("198.51.100.1") == 0.0
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff:2") == "2001:db8::/64"
    assert client_key("::ffff:203.0.113.7") == "203.0.113.7"
    # Quiet for long enough, a client starts afresh.
    clock.now += FORGET_AFTER + 1
    assert throttle.delay_for("203.0.113.7") == 0.0


def test_guesses_sent_at_once_queue_behind_each_other() -> None:
    clock = Clock()
    throttle = FailureThrottle(clock=clock)
    for _ in range(FREE_FAILURES):
        throttle.delay_for("203.0.113.7")
    waits = [throttle.delay_for("203.0.113.7") for _ in range(8)]  # all at the same instant
    # Each is answered its own delay after the one before: many connections guess no
    # faster than one; past MAX_HOLD a guess is held that long and takes no place.
    assert waits == [0.5, 1.5, 3.5, 7.5, 15.5, 23.5, MAX_HOLD, MAX_HOLD]


def test_the_throttle_remembers_a_bounded_number_of_clients() -> None:
    throttle = FailureThrottle(clock=Clock(), max_clients=1000)
    for i in range(20_000):
        throttle.delay_for(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    assert len(throttle) == 1000


async def test_the_guard_slows_wrong_tokens_and_never_a_right_one(
        make_app: Callable[..., Guard]) -> None:
    app = make_app(token=TOKEN, host="0.0.0.0")
    clock = Clock()
    app.throttle = FailureThrottle(clock=clock, sleep=clock.sleep)
    wrong = AsgiClient(app, {"authorization": "Bearer not-the-token-0123456789"})
    right = AsgiClient(app, {"authorization": f"Bearer {TOKEN}"})
    for _ in range(FREE_FAILURES + 3):
        assert (await wrong.get("/api/health")).status == 401
    assert clock.slept == [0.5, 1.5, 3.5]  # the same instant: queued
    for _ in range(3):
        assert (await right.get("/api/health")).status == 200
    assert clock.slept == [0.5, 1.5, 3.5]
    # A request without a token is the page asking for one, not a guess.
    for _ in range(3):
        assert (await AsgiClient(app).get("/api/models")).status == 401
    assert clock.slept == [0.5, 1.5, 3.5]
