"""One Chromium (Debian's, through Playwright's sync API) for the whole test session.

The viewer's tests and the web app's tests both need a browser, and the sync API allows one
Playwright per thread: whichever asks first starts it, both use it, the end of the session
closes it. It is skipped where Chromium or Playwright is missing.
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
            pytest.skip(f"{CHROMIUM} is absent (apt-get install -y chromium); "
                        "browser tests skipped")
        sync_api = pytest.importorskip("playwright.sync_api",
                                       reason="playwright is not installed")
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
