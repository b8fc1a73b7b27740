"""What the web app's browser tests share: a page opened on `tokenprobe serve` with what it
tried to do (requests elsewhere, script errors, dialogs), and helpers that read a page or
drive its forms. The fixtures that open pages are in conftest.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.web.serve import Served

from tokenprobe.trace import Trace

CHIP = ".t"
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


def add_model(page: Any, spec: str, url: str) -> None:
    page.click("#add-model")
    page.fill("#model-spec", spec)
    page.fill("#model-url", url)
    page.click("#model-form button[type=submit]")

