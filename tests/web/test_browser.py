"""The web app in a real browser (Debian's Chromium through Playwright) against a real
`tokenprobe serve` with the embedded model: what a user sees and does.

Generations are short (a few tokens) to keep the suite fast on two cores. Every page is
watched: a request to anywhere but the server, a script error or a dialog fails the test.
Screenshots go to artifacts/ (light and dark, 1280 and 390 pixels wide).
"""

from __future__ import annotations

import json
import math
import re
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, getcontext
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import numpy as np
import pytest
from playwright.sync_api import expect
from tests.scripted_model import SPEC
from tests.servers.faultserver import chat_stream, fault_server, silence, sse
from tests.views.jsfmt import pct
from tests.views.traces import split_differently
from tests.web.serve import Served, free_port, serve

from tokenprobe.metrics import summarize
from tokenprobe.ops.compare import compare
from tokenprobe.store import Store
from tokenprobe.trace import Candidate, Request, Step, Trace

CHIP = ".t"


def whole(total: float) -> str:
    """The page's probability of a whole answer: a percentage, or exp(total) written in
    scientific notation with Decimal arithmetic (no float underflow)."""
    if math.exp(total) >= 0.001:
        return pct(math.exp(total))
    getcontext().prec = 40
    m, e = f"{Decimal(total).exp():.1e}".split("e")
    return f"{m}e{int(e)}"
SIZES = {"desktop": (1280, 860), "phone": (390, 844)}


@dataclass
class Page:
    page: Any
    url: str
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def clean(self) -> None:
        assert self.blocked == [], f"the page asked for {self.blocked}"
        assert self.errors == [], f"script errors: {self.errors}"
        assert self.dialogs == [], f"dialogs: {self.dialogs}"

    def go(self, hash_: str, ready: bool = True) -> None:
        self.page.goto(self.url + "/" + hash_)
        if ready:
            self.page.wait_for_selector("html[data-wa-ready]")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
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


def saved_trace(server: Served, page: Any) -> Trace:
    """The trace the page shows, as saved (its id is in the address: #/mode/ID)."""
    trace_id = page.url.rsplit("/", 1)[-1]
    status, doc = server.call("GET", f"/api/history/{trace_id}/export?format=json")
    assert status == 200, doc
    return Trace.from_dict(doc)


def as_page_numbers(t: Trace) -> Trace:
    """The trace with its numbers as the page encoding carries them (1e-4 nats)."""
    q = lambda x: None if x is None else round(x / 1e-4) / 1e4  # noqa: E731
    for s in t.steps:
        s.logprob = q(s.logprob)
        for c in s.top:
            c.logprob = q(c.logprob)
        if s.tail_logsumexp is not None:
            s.tail_logsumexp = [q(v) for v in s.tail_logsumexp]  # type: ignore[misc]
    return t


def popover_rows(page: Any) -> list[dict[str, str]]:
    return page.eval_on_selector_all(".tp-pop:not([hidden]) .tp-bars .tp-bar-row", """rs =>
        rs.map(r => ({token: r.dataset.token, p: r.dataset.p,
                      chosen: r.classList.contains('chosen') ? '1' : ''}))""")


def set_field(page: Any, selector: str, value: str) -> None:
    page.fill(selector, value)


def chip_texts(page: Any, scope: str) -> list[str]:
    return page.eval_on_selector_all(f"{scope} {CHIP}", "cs => cs.map(c => c.textContent)")


def set_temperature(page: Any, value: str) -> None:
    page.eval_on_selector("#complete-sampling-t", """(s, v) => { s.value = v;
        s.dispatchEvent(new Event('input', {bubbles: true})); }""", value)


def complete(page: Any, prompt: str, max_tokens: int, temperature: str = "0") -> None:
    page.fill("#complete-prompt", prompt)
    set_temperature(page, temperature)
    page.fill("#complete-sampling-max", str(max_tokens))
    page.click("#complete-go")
    page.wait_for_selector("#complete-result .tbox:not(.busy) .t", timeout=120_000)


# ---------------------------------------------------------------------------------------


def test_chat_streams_tokens_and_hover_shows_alternatives(open_page: Callable[..., Page],
                                                          server: Served,
                                                          artifacts: Path) -> None:
    p = open_page("#/chat")
    page = p.page
    assert "is a base model" in page.text_content("#chat-base-note")
    page.fill("#chat-sampling-max", "24")
    # Inside the page: each time the answer being streamed shows more chips.
    page.evaluate("""() => {
      const log = document.querySelector('#chat-log');
      window.__counts = [];
      new MutationObserver(() => {
        if (!log.querySelector('.tbox.streaming')) return;
        const n = log.querySelectorAll('.turn-assistant .t').length;
        const c = window.__counts;
        if (n && n !== c[c.length - 1]) c.push(n);
      }).observe(log, {childList: true, subtree: true});
    }""")
    page.fill("#chat-input", "What is the capital of France?")
    page.press("#chat-input", "Enter")
    assert page.is_visible("#chat-stop")
    page.wait_for_selector(".turn-assistant .tbox:not(.busy) .t", timeout=120_000)
    counts = page.evaluate("() => window.__counts")
    # Tokens appeared a few at a time as they were made, not all at once at the end.
    assert len(counts) >= 3 and counts == sorted(counts), counts
    assert page.is_visible("#chat-send")
    trace = saved_trace(server, page)
    assert len(trace.steps) <= 24 and trace.request.mode == "chat"
    # The confidence panel shows the selected answer's figures.
    metrics = page.eval_on_selector_all("#chat-panel .tp-metric", """ms => Object.fromEntries(
        ms.map(m => [m.querySelector('dt').textContent, m.querySelector('dd').textContent]))""")
    s = summarize(trace)
    assert metrics["tokens"] == str(s.tokens)
    # The per-token figures named for what they are, checked against numpy's own means.
    lps = np.array([x.logprob for x in trace.steps if x.logprob is not None])
    assert metrics["per-token probability"] == (
        f"geometric mean {pct(float(np.exp(lps.mean())))}, "
        f"arithmetic mean {pct(float(np.exp(lps).mean()))}")
    assert "mean probability" not in metrics
    assert metrics["probability of the whole answer"] == whole(float(lps.sum()))
    assert page.text_content(".turn-assistant .turn-head").startswith(
        f"{s.tokens} tokens \u00b7 per-token probability: geometric mean")
    assert page.is_visible("#chat-panel .tp-chart svg")
    # Hover a token: its alternatives are the ones the model weighed.
    page.hover(".turn-assistant .t >> nth=0")
    page.wait_for_selector(".tp-pop:not([hidden])")
    rows = popover_rows(page)
    assert [r["token"] for r in rows] == [c.token for c in trace.steps[0].top]
    for r, c in zip(rows, trace.steps[0].top):
        assert float(r["p"]) == pytest.approx(math.exp(c.logprob), abs=1e-4)  # type: ignore[arg-type]
    page.screenshot(path=str(artifacts / "web-chat-hover-light.png"))
    page.mouse.move(5, 5)
    page.locator("#chat-panel").screenshot(path=str(artifacts / "web-chat-panel-light.png"))
    p.clean()


def test_branch_from_an_alternative_and_switch_back(open_page: Callable[..., Page],
                                                    server: Served) -> None:
    p = open_page("#/complete")
    page = p.page
    complete(page, "The capital of France is", 6)
    original = chip_texts(page, "#complete-result")
    parent = saved_trace(server, page)
    page.click("#complete-result .t >> nth=1")  # pins the token's detail
    page.wait_for_selector(".tp-pop.pinned")
    pick = page.query_selector(".tp-pop .tp-bar-row.pick")
    assert pick is not None
    token = pick.get_attribute("data-token")
    pick.click()
    page.wait_for_selector("#complete-result .tbox-count:text('2 / 2')", timeout=120_000)
    page.wait_for_selector("#complete-result .tbox:not(.busy) .t")
    branched = chip_texts(page, "#complete-result")
    assert branched[0] == original[0] and branched[1] == token
    branch = saved_trace(server, page)
    assert branch.parent == {"id": parent.id, "step": 1, "token": token}
    assert [s.forced for s in branch.steps[:2]] == [False, True]
    # Switch back to the original, and forth again.
    page.click("#complete-result .tbox-prev")
    page.wait_for_selector("#complete-result .tbox-count:text('1 / 2')")
    assert chip_texts(page, "#complete-result") == original
    page.select_option("#complete-result .tbox-pick", "1")
    page.wait_for_selector("#complete-result .tbox-count:text('2 / 2')")
    assert chip_texts(page, "#complete-result") == branched
    _status, entry = server.call("GET", f"/api/history/{parent.id}")
    assert [t["id"] for t in entry["traces"]] == [parent.id, branch.id]
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


def test_temperature_slider_and_step_view_in_complete_mode(open_page: Callable[..., Page],
                                                           server: Served) -> None:
    p = open_page("#/complete")
    page = p.page
    complete(page, "Water boils at", 5)
    trace = as_page_numbers(saved_trace(server, page))
    page.eval_on_selector("#complete-result .tp-slider", """s => { s.value = '1.5';
        s.dispatchEvent(new Event('input', {bubbles: true})); }""")
    page.wait_for_selector("#complete-result .tp-tvalue:text('1.50')")
    want = trace.at_temperature(1.5)[0]
    page.hover("#complete-result .tp-text-gen .t >> nth=0")
    page.wait_for_selector(".tp-pop:not([hidden])")
    rows = popover_rows(page)
    assert [r["token"] for r in rows] == [c.candidate.token for c in want.candidates]
    for r, c in zip(rows, want.candidates):
        assert c.prob is not None  # the local engine's tail sums: point values
        assert float(r["p"]) == pytest.approx(c.prob, abs=1e-9)
    page.mouse.move(5, 5)
    page.click("#complete-result .tp-tab:text('Step by step')")
    assert page.text_content("#complete-result .tp-step-counter") == \
        f"step 1 of {len(trace.steps)}"
    page.click("#complete-result .tp-btn:text('Next')")
    assert page.text_content("#complete-result .tp-step-counter") == \
        f"step 2 of {len(trace.steps)}"
    p.clean()


def test_compare_two_system_prompts(open_page: Callable[..., Page], server: Served) -> None:
    p = open_page("#/compare")
    page = p.page
    assert page.text_content("#cmp-go") == "Compare 2 variants"
    page.fill("#cmp-max", "6")
    page.click("#cmp-go")
    page.wait_for_selector(".cmp-variant >> nth=1", timeout=120_000)
    labels = page.eval_on_selector_all(".cmp-title", "ts => ts.map(t => t.textContent)")
    assert labels == ["1system=Answer in one word.",
                      "2system=Answer like a pirate, at length."]
    assert page.eval_on_selector_all(".cmp-variant .cmp-text .t", "cs => cs.length") > 0
    # The same answer under both: token by token.
    page.fill("#cmp-answer", "Paris")
    page.click("#cmp-go")
    page.wait_for_selector(".cmp-deltas tbody tr", timeout=120_000)
    tokens = page.eval_on_selector_all(".cmp-deltas tbody tr td:first-child",
                                       "ts => ts.map(t => t.textContent)")
    assert "".join(tokens) == "Paris"
    p.clean()


def test_compare_says_when_a_variant_split_the_answer_into_other_tokens(
        open_page: Callable[..., Page], server: Served, llama: Any) -> None:
    c = split_differently(compare(["The capital of France is", "Paris is the capital of"],
                                  answer=" Paris, a city"), 1)
    Store(server.log.parent / "history.sqlite3").save_document(
        c.id, "comparison", c.created, "split", c.to_dict(), text=c.answer or "")
    p = open_page("#/compare/" + c.id)
    page = p.page
    page.wait_for_selector(".cmp-deltas tbody tr")
    steps = [v.traces[0].steps for v in c.variants]
    rows = page.eval_on_selector_all(".cmp-deltas tbody tr", """rs => rs.map(r =>
        Array.from(r.querySelectorAll('td.num')).map(td => td.textContent))""")
    assert len(rows) == len(steps[0])
    assert all(row[1] == "\u2014" and row[0] != "\u2014" for row in rows)
    note = page.text_content(".cmp-split-note")
    assert f"variant 2 split it into {len(steps[1])} tokens against variant 1's " \
        f"{len(steps[0])}" in note and "exactly these tokens" not in note
    p.clean()


def test_queue_position_is_shown_and_a_cancel_frees_the_place(
        open_page: Callable[..., Page]) -> None:
    a = open_page("#/complete")
    b = open_page("#/complete")
    a.page.fill("#complete-prompt", "Once upon a time")
    set_temperature(a.page, "0")
    a.page.fill("#complete-sampling-max", "400")
    a.page.click("#complete-go")
    a.page.wait_for_selector("#complete-result .t", timeout=120_000)
    b.page.fill("#complete-sampling-max", "4")
    b.page.click("#complete-go")
    # The box says "Sending…" until the server's first event tells the position.
    b.page.wait_for_selector("#complete-result .tbox-queue:has-text('Waiting in the queue')",
                             timeout=60_000)
    assert b.page.text_content("#complete-result .tbox-queue").startswith(
        "Waiting in the queue: position 1 (1 running)")
    b.page.click("#complete-stop")
    b.page.wait_for_selector("#complete-result .tbox-note:has-text('Cancelled before it started')")
    assert b.page.is_visible("#complete-go")
    a.page.click("#complete-stop")
    a.page.wait_for_selector("#complete-result .tbox-muted:has-text('Stopped')")
    assert "tokens made are kept" in a.page.text_content("#complete-result .tbox-note")
    a.clean()
    b.clean()


def test_score_names_its_unscored_first_token_and_choose_stops(
        open_page: Callable[..., Page], server: Served) -> None:
    p = open_page("#/score")
    page = p.page
    page.fill("#score-text", "Roses are red.")
    page.click("#score-go")
    page.wait_for_selector("#score-status:has-text('Perplexity')", timeout=120_000)
    trace = saved_trace(server, page)
    first, rest = trace.prompt_steps[0], trace.prompt_steps[1:]
    assert first.logprob is None and all(s.logprob is not None for s in rest)
    # The wording comes from the trace: its first token's own label, and the count scored.
    s = summarize(trace)
    line = page.text_content("#score-status")
    assert line.startswith(f"Perplexity {s.perplexity:.2f} over {len(rest)} scored tokens; "
                           "per-token probability: geometric mean")
    # The engine's <bos> in front is no token of the text; a first token without one would
    # say it has no context, never "not reported".
    if first.special:
        assert f"{json.dumps(first.token)} in front is the engine's control token" in line
    else:
        assert f"first token, {json.dumps(first.token)}: no context" in line
    assert "not reported" not in line and "no reported logprob" not in line
    # A long choice reports its progress and stops when asked, between two options.
    page.fill("#choose-options", "\n".join(f" option {k}: " + "a long tail of words " * 20
                                           for k in range(20)))
    page.click("#choose-go")
    page.wait_for_selector("#choose-status:has-text('of 20 done')", timeout=120_000)
    assert page.is_visible("#choose-stop") and page.is_hidden("#choose-go")
    page.click("#choose-stop")
    page.wait_for_selector("#choose-status:text-is('Stopped.')", timeout=120_000)
    assert page.is_visible("#choose-go") and page.is_hidden("#choose-stop")
    assert page.text_content("#choose-result") == ""
    # The engine is free again: a short choice runs to its end.
    page.fill("#choose-options", " Paris\n Lyon")
    page.click("#choose-go")
    page.wait_for_selector("#choose-result .choice-row", timeout=120_000)
    assert page.is_hidden("#choose-stop")
    p.clean()


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


def test_new_chat_clears_the_answers_and_their_figures(open_page: Callable[..., Page],
                                                       artifacts: Path) -> None:
    p = open_page("#/chat")
    page = p.page
    page.fill("#chat-sampling-max", "3")
    page.fill("#chat-input", "Name a colour.")
    page.press("#chat-input", "Enter")
    page.wait_for_selector(".turn-assistant .tbox:not(.busy) .t", timeout=120_000)
    hint = "The selected answer's figures appear here"
    assert page.text_content(".turn-assistant .turn-head").startswith("3 tokens")
    assert page.is_visible("#chat-panel .tp-summary")
    assert hint not in page.text_content("#chat-panel")
    page.mouse.move(5, 5)
    page.screenshot(path=str(artifacts / "web-chat-new-before.png"))
    page.click("#chat-new")
    # Nothing of the old conversation is left: no turn, no figure line, no summary.
    assert page.eval_on_selector_all("#chat-log .turn", "ts => ts.length") == 0
    assert page.is_visible("#chat-empty")
    assert page.query_selector("#chat-panel .tp-summary, #chat-panel .tp-chart") is None
    assert page.text_content("#chat-panel").startswith(hint)
    assert page.text_content("#chat-panel-which") == ""
    page.screenshot(path=str(artifacts / "web-chat-new-after.png"))
    p.clean()


def add_model(page: Any, spec: str, url: str) -> None:
    page.click("#add-model")
    page.fill("#model-spec", spec)
    page.fill("#model-url", url)
    page.click("#model-form button[type=submit]")


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


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_screenshots(open_page: Callable[..., Page], server: Served, artifacts: Path,
                     scheme: str, size: str) -> None:
    """Pictures to look at, of every mode, reopened from the history made above."""
    _status, listed = server.call("GET", "/api/history")
    records = listed["records"]
    by_mode: dict[str, str] = {}
    for r in records:
        if r["kind"] == "choice":
            continue  # Score mode shows a scored text here (a choice is drawn below it)
        mode = {"comparison": "compare"}.get(r["kind"]) or (
            "chat" if r["mode"] == "chat" else "score" if r["mode"] == "score" else "complete")
        if r["parent_id"] is None and r["backend"] in ("llama", ""):
            by_mode.setdefault(mode, r["id"])
    if "score" not in by_mode:
        _, text = server.call("POST", "/api/score", {"text": "The quick brown fox jumps "
                                                     "over the lazy dog.", "alternatives": 5})
        done = [json.loads(line[6:]) for line in text.splitlines()
                if line.startswith("data: ") and '"saved"' in line][-1]
        by_mode["score"] = done["saved"]
    p = open_page("#/history", scheme=scheme, size=size)
    page = p.page
    page.wait_for_selector(".hist-row")
    page.screenshot(path=str(artifacts / f"web-history-{scheme}-{size}.png"))
    for mode in ("chat", "complete", "score", "compare"):
        if mode not in by_mode:
            continue
        p.go(f"#/{mode}/{by_mode[mode]}")
        if mode == "compare":
            page.wait_for_selector(".cmp-variant")
        else:
            scope = {"chat": ".turn-assistant", "complete": "#complete-result",
                     "score": "#score-result"}[mode]
            page.wait_for_selector(f"{scope} .t")
            # A chip with a letter in it: a newline token's chip has no width to click.
            page.locator(f"{scope} .t").filter(has_text=re.compile(r"\w")).first.click()
            page.wait_for_selector(".tp-pop.pinned")
        page.screenshot(path=str(artifacts / f"web-{mode}-{scheme}-{size}.png"),
                        full_page=mode != "chat")
        page.keyboard.press("Escape")
    p.clean()
