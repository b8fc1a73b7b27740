"""Fixtures for the web app: an app on a temporary history, an in-process streaming client,
a real `tokenprobe serve` with pages opened on it in Chromium (tests/web/pages.py), and
helpers that read the event stream back into what the page would show.

`async def` tests run on their own event loop in a thread of their own: the browser tests'
Playwright (sync API) keeps an event loop running in the main thread for the whole session,
and a second loop cannot run there beside it.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.views.browser import ARTIFACTS, close_shared_browser, shared_browser
from tests.web.asgi import AsgiClient
from tests.web.pages import SIZES, Page
from tests.web.serve import Served, serve

from tokenprobe.backends.llama import LlamaBackend
from tokenprobe.web import ServerConfig, create_app
from tokenprobe.web.config import ModelConfig
from tokenprobe.web.security import Guard
from tokenprobe.web.state import AppState


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    args = {a: pyfuncitem.funcargs[a] for a in pyfuncitem._fixtureinfo.argnames}
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(pyfuncitem.obj(**args))
        except BaseException as e:  # handed to the test's thread below
            failure.append(e)

    thread = threading.Thread(target=run, name=f"test-{pyfuncitem.name}")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return True


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """The session's Chromium, shared with the viewer's tests."""
    yield shared_browser()
    close_shared_browser()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., Guard]:
    def make(**kw: Any) -> Guard:
        kw.setdefault("preload", False)
        kw.setdefault("store_path", tmp_path / "history.sqlite3")
        return create_app(ServerConfig(**kw))
    return make


@pytest.fixture
def app(make_app: Callable[..., Guard], llama: LlamaBackend) -> Guard:
    """The app on the embedded model (loaded once per test session by `llama`)."""
    return make_app()


@pytest.fixture
def client(app: Guard) -> AsgiClient:
    return AsgiClient(app)


@pytest.fixture
def scripted_app(make_app: Callable[..., Guard], scripted: str) -> Guard:
    """The app offering the scripted model (tests/scripted_model.py) as its default, for
    the tests of the API rather than of a model; the embedded one is listed beside it and
    loaded only if a request names it."""
    return make_app(models=[ModelConfig(scripted, label="scripted")])


@pytest.fixture
def scripted_client(scripted_app: Guard) -> AsgiClient:
    return AsgiClient(scripted_app)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`tokenprobe serve` on the embedded model, which open_page opens pages on: one for the
    session, so that the browser modules load the model once and the History's screenshots
    reopen what the other modules made. A module overrides it to serve another model."""
    with serve(tmp_path_factory.mktemp("web-home"), "--quiet") as s:
        yield s


@pytest.fixture
def open_page(browser: Any, server: Served) -> Iterator[Callable[..., Page]]:
    contexts: list[Any] = []

    def _open(hash_: str = "#/chat", scheme: str = "light", size: str = "desktop",
              url: str | None = None, ready: bool = True) -> Page:
        w, h = SIZES[size]
        ctx = browser.new_context(viewport={"width": w, "height": h}, color_scheme=scheme)
        contexts.append(ctx)
        base = url or server.url
        p = Page(ctx.new_page(), base)

        def route(r: Any) -> None:
            if r.request.url.startswith(base + "/"):
                r.continue_()
            else:
                p.blocked.append(r.request.url)
                r.abort()

        ctx.route("**/*", route)
        p.page.on("pageerror", lambda e: p.errors.append(str(e)))
        def dialog(d: Any) -> None:
            p.dialogs.append(d.message)
            d.dismiss()

        p.page.on("dialog", dialog)
        p.go(hash_, ready)
        return p

    yield _open
    for ctx in contexts:
        ctx.close()



def state_of(app: Guard) -> AppState:
    return app.app.state.tp  # type: ignore[attr-defined,no-any-return]


def live_text(events: list[tuple[str, Any]]) -> str:
    """The text the page builds from `steps` events alone (vocab labels of chosen tokens;
    the test prompts have no byte fragments)."""
    vocab: dict[int, str] = {}
    out: list[str] = []
    for name, data in events:
        if name != "steps":
            continue
        for entry in data["vocab"]:
            vocab[entry[0]] = entry[1]
        out.extend(vocab[t] for t in data["steps"]["tok"])
    return "".join(out)


def names(events: list[tuple[str, Any]]) -> list[str]:
    return [e[0] for e in events]


def last(events: list[tuple[str, Any]], name: str) -> Any:
    found = [d for n, d in events if n == name]
    assert found, f"no {name!r} event in {names(events)}"
    return found[-1]
