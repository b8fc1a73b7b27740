"""What the operations' page tests share: the generated text's chips, the check that a page
asked for nothing, opened no dialog and ran no failing script, a selector's texts, and the
probability a page shows from a trace's encoded logprob."""

from __future__ import annotations

import math
from typing import Any

from tests.views.conftest import Opened

from tokenprobe.views.encode import QUANTUM

GEN = ".tp-text-gen .t"


def clean(o: Opened) -> None:
    assert o.blocked == [], f"the page asked for {o.blocked}"
    assert o.dialogs == [], f"a dialog opened: {o.dialogs}"
    assert o.errors == [], f"script errors: {o.errors}"
    assert o.page.evaluate("document.querySelectorAll('img, iframe, object').length") == 0


def texts(page: Any, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "es => es.map(e => e.textContent)")  # type: ignore[no-any-return]


def quantised(lp: float | None) -> float:
    """The probability a page shows from a trace's encoded logprob (units of 1e-4 nats)."""
    assert lp is not None
    return math.exp(round(lp / QUANTUM) / 1e4)

