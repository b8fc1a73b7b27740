"""Browser fixtures: Debian's Chromium through Playwright, with the network shut off.

Every request that is not file://, data: or about: is aborted and recorded, so a test can
assert that a page asked for nothing outside itself. Dialogs (alert, confirm) are recorded
and dismissed: a page that opens one has run model text as code.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.views.browser import ARTIFACTS, close_shared_browser, shared_browser

from tokenprobe.trace import Trace
from tokenprobe.views.html import write_html


@dataclass
class Opened:
    """A page opened from an exported file, with what it tried to do."""

    page: Any
    blocked: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    yield shared_browser()
    close_shared_browser()


@pytest.fixture
def open_trace(browser: Any, tmp_path: Path) -> Iterator[Any]:
    """open_trace(traces, scheme="light", **kw) -> Opened: export, then open with no network."""
    contexts: list[Any] = []

    def _open(traces: list[Trace], scheme: str = "light", width: int = 1280,
              height: int = 860, title: str | None = None) -> Opened:
        path = tmp_path / f"page{len(contexts)}.html"
        write_html(traces, path, title=title)
        ctx = browser.new_context(viewport={"width": width, "height": height},
                                  color_scheme=scheme)
        contexts.append(ctx)
        opened = Opened(page=ctx.new_page())

        def route(r: Any) -> None:
            url = r.request.url
            if url.startswith(("file:", "data:", "about:")):
                r.continue_()
            else:
                opened.blocked.append(url)
                r.abort()

        ctx.route("**/*", route)
        opened.page.on("dialog", lambda d: (opened.dialogs.append(d.message), d.dismiss()))
        opened.page.on("pageerror", lambda e: opened.errors.append(str(e)))
        opened.page.goto(path.as_uri())
        opened.page.wait_for_selector("html[data-tp-ready]")
        return opened

    yield _open
    for ctx in contexts:
        ctx.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
