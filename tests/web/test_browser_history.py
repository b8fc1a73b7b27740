"""The History page in a real browser (Debian's Chromium through Playwright) against a real
`tokenprobe serve`: the history kept over a reload and a restart (then behind a token), an
imported id with odd characters opened, reopened from its address and deleted, and an
export saved under its whole `filename*` name.

Every page is watched: a request to anywhere but the server, a script error or a dialog
fails the test.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, unquote

from playwright.sync_api import expect
from tests.scripted_model import SPEC
from tests.web.pages import Page
from tests.web.serve import Served, serve

from tokenprobe.store import Store
from tokenprobe.trace import Candidate, Request, Step, Trace


def test_history_survives_a_reload_and_a_restart(open_page: Callable[..., Page],
                                                 tmp_path: Path) -> None:
    token = "restart-token-1234"
    with serve(tmp_path) as first:
        status, _text = first.call("POST", "/api/generate", {
            "mode": "chat", "messages": [{"role": "user", "content": "Name a colour."}],
            "max_tokens": 4, "temperature": 0})
        assert status == 200
        p = open_page("#/history", url=first.url)
        p.page.wait_for_selector(".hist-row")
        p.page.reload()
        p.page.wait_for_selector(".hist-row")
        assert "Name a colour." in p.page.text_content(".hist-row .hist-prompt")
        p.page.click(".hist-row .hist-title")
        p.page.wait_for_selector(".turn-user .bubble:text('Name a colour.')")
        p.page.wait_for_selector(".turn-assistant .t")
        p.clean()
    # Restarted, now with a token: the page asks for it, then finds the history.
    with serve(tmp_path, token=token) as second:
        p = open_page("#/history", url=second.url, ready=False)
        p.page.wait_for_selector("#token-modal:not([hidden])")
        p.page.fill("#token-input", "not-the-token")
        p.page.click("#token-form button")
        p.page.wait_for_selector("#token-error:text('That token was not accepted.')")
        p.page.fill("#token-input", token)
        p.page.click("#token-form button")
        p.page.wait_for_selector(".hist-row")
        assert "Name a colour." in p.page.text_content(".hist-row .hist-prompt")
        p.clean()


def test_an_id_with_odd_characters_opens_and_deletes(open_page: Callable[..., Page],
                                                     tmp_path: Path) -> None:
    """An imported trace keeps its file's id, any text: the page's addresses encode it."""
    odd = "odd id?#&%41"
    steps = [Step(" blue", -0.4, 1, top=[Candidate(" blue", -0.4, 1)])]
    t = Trace(backend="llama", model="m", request=Request(prompt="The sky is"), steps=steps)
    t.rebuild_text()
    t.id = odd
    Store(tmp_path / "history.sqlite3").save_trace(t)
    # No model runs here: the scripted one, offered by default, starts in milliseconds.
    with serve(tmp_path, "-m", SPEC) as s:
        p = open_page("#/history", url=s.url)
        page = p.page
        page.wait_for_selector(".hist-row")
        page.click(".hist-row .hist-title")
        expect(page.locator("#complete-prompt")).to_have_value("The sky is")
        assert unquote(page.url.split("#", 1)[1]) == "/complete/" + odd
        assert page.query_selector(".wa-notice.wa-error") is None
        # The address alone reopens it, in a new tab.
        other = open_page("#/complete/" + quote(odd, safe=""), url=s.url)
        expect(other.page.locator("#complete-prompt")).to_have_value("The sky is")
        other.clean()
        # A fresh History page: its list is drawn once (no reload can redraw it meanwhile).
        h = open_page("#/history", url=s.url)
        h.page.wait_for_selector(".hist-row")
        h.page.click(".hist-row .wa-danger")
        h.page.wait_for_selector(".hist-row :text('Delete this entry?')")
        h.page.click(".hist-row .wa-danger")  # the confirmation's
        h.page.wait_for_selector(".hist-row", state="detached")
        assert s.call("GET", "/api/history")[1]["records"] == []
        p.clean()
        h.clean()


def test_an_export_is_saved_under_its_whole_name(open_page: Callable[..., Page],
                                                 server: Served) -> None:
    """The name in filename* (RFC 5987), not its ASCII fallback, names the saved file."""
    steps = [Step(" blue", -0.4, 1, top=[Candidate(" blue", -0.4, 1)])]
    # Imported (not the embedded model's): the screenshots below reopen those.
    t = Trace(backend="import", model="m", request=Request(prompt="Saved under its own name"),
              steps=steps)
    t.rebuild_text()
    t.id = "café日本-0001"
    Store(server.log.parent / "history.sqlite3").save_trace(t)
    url = f"{server.url}/api/history/{quote(t.id, safe='')}/export?format=json"
    with urllib.request.urlopen(url, timeout=60) as r:
        header = r.headers["Content-Disposition"]
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    whole = unquote(header.split("filename*=UTF-8''", 1)[1], errors="strict")
    assert whole == "tokenprobe-trace-café日本-0.json" and fallback != whole
    p = open_page("#/history")
    page = p.page
    row = page.locator(".hist-row", has_text="Saved under its own name")
    with page.expect_download() as got:
        row.get_by_role("button", name="JSON").click()
    assert got.value.suggested_filename == whole
    # The header's other forms, read as RFC 6266 says.
    names = page.evaluate(r"""async () => {
        const { dispositionName } = await import('/static/api.js');
        return [
          dispositionName('attachment; filename="a_b.json"; filename*=UTF-8\'\'a%C3%A9b.json'),
          dispositionName("attachment; filename*=utf-8''%E6%97%A5.html; filename=\"_.html\""),
          dispositionName('attachment; filename="plain.json"'),
          dispositionName('attachment; filename=bare.json'),
          dispositionName("attachment; filename=\"ok.json\"; filename*=UTF-8''%FF%FE"),
          dispositionName('inline')];
    }""")
    assert names == ["aéb.json", "日.html", "plain.json", "bare.json", "ok.json", None]
    p.clean()

