"""One Chromium (Debian's, through Playwright's sync API) for the whole test session.

The viewer's tests and the web app's tests both need a browser, and the sync API allows one
Playwright per thread: whichever asks first starts it, both use it, the end of the session
closes it. Where Chromium or Playwright is missing, every browser test fails and says what
to install (scripts/test installs both).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--disable-extensions"]

_shared: dict[str, Any] = {}


def shared_browser() -> Any:
    if "browser" not in _shared:
        if not os.path.exists(CHROMIUM):
            pytest.fail(f"{CHROMIUM} is absent: apt-get install -y chromium (scripts/test "
                        "does)", pytrace=False)
        try:
            import playwright.sync_api as sync_api
        except ImportError:
            pytest.fail("playwright is not installed: pip install -e '.[test]'", pytrace=False)
        manager = sync_api.sync_playwright()
        playwright = manager.__enter__()
        _shared["manager"] = manager
        _shared["browser"] = playwright.chromium.launch(executable_path=CHROMIUM,
                                                        args=LAUNCH_ARGS)
    return _shared["browser"]


def close_shared_browser() -> None:
    browser = _shared.pop("browser", None)
    if browser is not None:
        browser.close()
        _shared.pop("manager").__exit__(None, None, None)


# The elements that reach past a window `w` pixels wide and are not inside a box that scrolls
# or clips them: what makes a page wider than its window (for the message of a failed check).
_OVERFLOWING = """w => [...document.querySelectorAll('body *')].filter(e => {
  if (e.getBoundingClientRect().right <= w + 0.5) return false;
  for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
    const s = getComputedStyle(a);
    if (s.overflowX !== 'visible' || s.position === 'fixed') return false;
  }
  return true;
}).map(e => e.tagName.toLowerCase() + '.' + String(e.className).split(' ').join('.')
            + ' to ' + Math.round(e.getBoundingClientRect().right) + 'px')"""

# Every text in the browser's monospace font, as a constructed style sheet (which the web
# app's Content-Security-Policy, style-src 'self', lets a script add), and its removal.
_MONOSPACE_ON = """() => {
  const s = new CSSStyleSheet();
  s.replaceSync('*, *::before, *::after { font-family: monospace !important; }');
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, s];
}"""
_MONOSPACE_OFF = "() => { document.adoptedStyleSheets = document.adoptedStyleSheets.slice(0, -1); }"


def fits_the_window(page: Any, name: str, width: int) -> None:
    """Nothing makes the page scroll sideways, with this machine's fonts and again with every
    text in the monospace font: wider than any sans-serif, as a machine without the fonts a
    page names may fall back to. The page is left with its own fonts."""
    for fonts in ("installed", "monospace"):
        if fonts == "monospace":
            page.evaluate(_MONOSPACE_ON)
            page.wait_for_timeout(100)
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, (f"{name} is {wide}px wide with the {fonts} fonts: "
                               f"{page.evaluate(_OVERFLOWING, width)}")
    page.evaluate(_MONOSPACE_OFF)
