"""Browser fixtures: Debian's Chromium through Playwright, with the network shut off.

Every request that is not file://, data: or about: is aborted and recorded, so a test can
assert that a page asked for nothing outside itself. Dialogs (alert, confirm) are recorded
and dismissed: a page that opens one has run model text as code. The operations' pages
are tested on a comparison, a choice, a sweep and a branch tree made once per session on
the scripted model (tests/scripted_model.py): the library's real operations, a tiny network.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.scripted_model import SPEC
from tests.views.browser import ARTIFACTS, close_shared_browser, shared_browser

from tokenprobe.trace import Trace
from tokenprobe.views.html import render_html


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
def open_html(browser: Any, tmp_path: Path) -> Iterator[Any]:
    """open_html(page_text, scheme="light", width=1280, height=860) -> Opened: the text
    written to a file, then opened with no network."""
    contexts: list[Any] = []

    def _open(text: str, scheme: str = "light", width: int = 1280,
              height: int = 860) -> Opened:
        path = tmp_path / f"page{len(contexts)}.html"
        path.write_text(text, "utf-8")
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


@pytest.fixture
def open_trace(open_html: Any) -> Any:
    """open_trace(traces, scheme="light", **kw) -> Opened: export, then open with no network."""

    def _open(traces: list[Trace], scheme: str = "light", width: int = 1280,
              height: int = 860, title: str | None = None) -> Opened:
        return open_html(render_html(traces, title=title), scheme, width, height)  # type: ignore[no-any-return]

    return _open


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# --- operations on the scripted model, made once per session for the pages' tests ---

PROMPT = "The capital of France is"
EVIL_TEXT = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="session")
def fixed_comparison() -> Any:
    """One answer scored under three prompts, one of them markup (each ends in another
    token, so the answer's first token differs between them)."""
    from tokenprobe.ops.compare import compare

    return compare([PROMPT, "The largest city in Germany:", EVIL_TEXT + " The capital?"],
                   answer=" Paris, a city on the Seine.", models=[SPEC])


@pytest.fixture(scope="session")
def split_comparison(fixed_comparison: Any) -> Any:
    """The fixed comparison with variant 2 split into other tokens (another tokenizer)."""
    from tests.views.traces import split_differently

    return split_differently(fixed_comparison, 1)


@pytest.fixture(scope="session")
def sampled_comparison() -> Any:
    """Two temperatures, three samples each."""
    from tokenprobe.ops.compare import compare

    return compare(["Once upon a time"], temperatures=[0.4, 1.3], samples=3, max_tokens=10,
                   models=[SPEC])


@pytest.fixture(scope="session")
def choice() -> Any:
    from tokenprobe.ops.choose import choose

    return choose(PROMPT, [" Paris", " Lyon", " Berlin", " " + EVIL_TEXT], model=SPEC)


@pytest.fixture(scope="session")
def temperature_sweep() -> Any:
    from tokenprobe.ops.sweep import sweep

    return sweep(PROMPT, [0, 0.5, 1, 1.5], max_tokens=6, model=SPEC)


@pytest.fixture(scope="session")
def branch_tree() -> list[Trace]:
    """A root, two branches at its second token, and a branch of the first branch (each
    forcing one token: a character of the scripted model's, one of them markup)."""
    import tokenprobe
    from tokenprobe.ops.branch import branch

    root = tokenprobe.generate(PROMPT, temperature=0.8, seed=5, max_tokens=12, model=SPEC)
    assert root.steps[1].token not in ("L", "é") and root.steps[5].token != "<"
    b1 = branch(root, 1, "L")
    b2 = branch(root, 1, "é")
    b3 = branch(b1, 5, "<")
    return [root, b1, b2, b3]
