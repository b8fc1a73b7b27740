"""Browser fixtures: Debian's Chromium through Playwright, with the network shut off.

Every request that is not file://, data: or about: is aborted and recorded, so a test can
assert that a page asked for nothing outside itself. Dialogs (alert, confirm) are recorded
and dismissed: a page that opens one has run model text as code.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tokenprobe.trace import Trace
from tokenprobe.views.html import write_html

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--disable-extensions"]


@dataclass
class Opened:
    """A page opened from an exported file, with what it tried to do."""

    page: Any
    blocked: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent (apt-get install -y chromium); browser tests skipped")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield b
        b.close()


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
