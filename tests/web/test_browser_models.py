"""Server models in the web app, in a real browser (Debian's Chromium through Playwright)
against a real `tokenprobe serve`: a model added from the page that fails mid-answer (the
tokens kept, the figures marked incomplete), one not reachable when added (kept or removed),
one silent before its first token, and a branch of a trace whose model is not offered.

Every page is watched: a request to anywhere but the server, a script error or a dialog
fails the test. Screenshots go to artifacts/.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.servers.faultserver import chat_stream, fault_server, silence, sse
from tests.web.pages import Page, add_model, chip_texts
from tests.web.serve import Served, free_port

from tokenprobe.store import Store
from tokenprobe.trace import Candidate, Request, Step, Trace


def test_a_failing_server_model_keeps_the_tokens(open_page: Callable[..., Page],
                                                 artifacts: Path) -> None:
    docs = chat_stream(["The", " cat", " sat"], finish=None)
    with fault_server(sse(docs, done=False)) as fs:
        p = open_page("#/chat")
        page = p.page
        page.click("#add-model")
        page.fill("#model-spec", "openai:m")
        page.fill("#model-url", fs.base_url)
        page.fill("#model-key", "sk-page-key-0123456789")
        page.click("#model-form button[type=submit]")
        page.wait_for_selector("#model-modal", state="hidden")
        page.wait_for_selector("#model-select option[value='openai-m']:checked", state="attached")
        assert page.is_hidden("#chat-base-note")  # that note is the embedded model's
        assert page.input_value("#model-key") == ""
        page.fill("#chat-input", "hi")
        page.press("#chat-input", "Enter")
        page.wait_for_selector(".turn-assistant .tbox-error", timeout=60_000)
    note = page.text_content(".turn-assistant .tbox-error")
    assert "kept the 3 tokens" in note and "The 3 tokens received are kept" in note
    assert chip_texts(page, ".turn-assistant") == ["The", " cat", " sat"]
    # The figures are those of the tokens received, and say so.
    assert page.text_content("#chat-panel .tp-summary .tp-card-title") == "Summary (incomplete)"
    foot = page.text_content("#chat-panel .tp-summary .tp-foot")
    assert foot.startswith("Incomplete: these figures cover the 3 tokens received before it "
                           "stopped ("), foot
    page.mouse.move(5, 5)
    page.locator("#chat-panel").screenshot(path=str(artifacts / "web-chat-panel-incomplete.png"))
    page.select_option("#model-select", "embedded")
    p.clean()


def test_an_unreachable_model_is_checked_when_added_and_fails_without_figures(
        open_page: Callable[..., Page], server: Served, artifacts: Path) -> None:
    port = free_port()  # nothing listens there
    p = open_page("#/chat")
    page = p.page
    add_model(page, "openai:gone", f"http://127.0.0.1:{port}/v1")
    note = page.wait_for_selector("#model-reach:not([hidden]) #model-reach-note")
    assert note is not None
    assert note.text_content() == (
        f"openai:gone was added, but its server is not reachable now: connection refused "
        f"(http://127.0.0.1:{port}/v1). Keep it in the list (and use it once the server "
        "answers), or remove it?")
    assert page.is_hidden("#model-actions")
    assert page.input_value("#model-select") == "embedded"  # not chosen behind the user's back
    page.screenshot(path=str(artifacts / "web-model-unreachable.png"))
    # Remove it: gone from the server and from the picker.
    page.click("#model-drop")
    page.wait_for_selector("#model-modal", state="hidden")
    page.wait_for_selector("#model-select option[value='openai-gone']", state="detached")
    _status, listed = server.call("GET", "/api/models")
    assert "openai-gone" not in [m["id"] for m in listed["models"]]
    # Add it again and keep it: it is chosen, and a message to it fails with no figures.
    add_model(page, "openai:gone", f"http://127.0.0.1:{port}/v1")
    page.click("#model-keep")
    page.wait_for_selector("#model-modal", state="hidden")
    page.wait_for_selector("#model-select option[value='openai-gone']:checked", state="attached")
    page.fill("#chat-input", "hi")
    page.press("#chat-input", "Enter")
    page.wait_for_selector(".turn-assistant .tbox:not(.busy) .tbox-error", timeout=60_000)
    assert "connection refused" in page.text_content(".turn-assistant .tbox-error")
    assert page.query_selector("#chat-panel .tp-summary, #chat-panel .tp-chart") is None
    assert page.text_content("#chat-panel") == "No tokens, so no figures."
    assert page.text_content(".turn-assistant .turn-head") == ""
    page.mouse.move(5, 5)
    page.screenshot(path=str(artifacts / "web-chat-unreachable.png"))
    page.select_option("#model-select", "embedded")
    assert server.call("DELETE", "/api/models/openai-gone")[0] == 200
    p.clean()


def test_the_panel_waits_for_the_first_token(open_page: Callable[..., Page],
                                             server: Served) -> None:
    with fault_server(silence(2.0)) as fs:  # answers nothing for a while, then closes
        p = open_page("#/chat")
        page = p.page
        add_model(page, "openai:slow", fs.base_url)
        page.wait_for_selector("#model-select option[value='openai-slow']:checked",
                               state="attached")
        page.fill("#chat-input", "hi")
        page.press("#chat-input", "Enter")
        page.wait_for_selector("#chat-panel .tp-waiting")
        # An answer with no token yet is not "the scored text", and has no figures yet.
        assert page.text_content("#chat-panel") == "The figures follow the first token."
        page.wait_for_selector(".turn-assistant .tbox:not(.busy)", timeout=60_000)
    assert page.query_selector("#chat-panel .tp-summary") is None
    page.select_option("#model-select", "embedded")
    assert server.call("DELETE", "/api/models/openai-slow")[0] == 200
    p.clean()


def test_a_branch_of_a_model_not_offered_asks_to_add_it(open_page: Callable[..., Page],
                                                        server: Served) -> None:
    with fault_server() as fs:  # the server the trace names: it must hear nothing
        root = fs.base_url.removesuffix("/v1")
        steps = [Step(" blue", -0.4, None, top=[Candidate(" blue", -0.4, None),
                                                 Candidate(" red", -1.6, None)]),
                 Step(" today", -0.2, None, top=[Candidate(" today", -0.2, None)])]
        t = Trace(backend="llamacpp", model="m", request=Request(prompt="The sky is"),
                  steps=steps, source={"base_url": root})
        t.rebuild_text()
        Store(server.log.parent / "history.sqlite3").save_trace(t)
        p = open_page("#/complete/" + t.id)
        page = p.page
        page.wait_for_selector("#complete-result .t")
        page.click("#complete-result .t >> nth=0")
        page.wait_for_selector(".tp-pop.pinned")
        page.click(".tp-pop .tp-bar-row.pick")
        note = page.wait_for_selector("#complete-result .tbox-error")
        assert note is not None and "does not offer" in note.text_content()
        page.click("#complete-result .tbox-add-model")
        page.wait_for_selector("#model-modal:not([hidden])")
        assert page.input_value("#model-spec") == f"llamacpp:{root}"
        assert page.input_value("#model-url") == "" and page.input_value("#model-key") == ""
        page.click("#model-cancel")
        assert fs.headers == []
        p.clean()

