"""A server's answer for the viewer's bounded numbers: an OpenAI chat completion with
top_logprobs=4 (no tail sums, no vocabulary size), so that at another temperature every
value is a range; with the page's range format and the bar rows a page shows, as the
tests read them."""

from __future__ import annotations

import re
from typing import Any

from tests.views.jsfmt import pct

from tokenprobe.formats import parse_document
from tokenprobe.trace import Trace

# An answer as OpenAI's chat completions return it with top_logprobs=4; the third token is
# the 曇 step (曇 15.5 %, 晴 14.4 %, 雨 10.9 %, とても 5.5 %: 46.3 % listed, 53.7 % not).
WORDS: list[tuple[str, list[tuple[str, float]]]] = [
    ("明日", [("明日", -0.4943), ("今日", -1.2040), ("午後", -2.9957), ("週末", -3.5066)]),
    ("は", [("は", -0.1054), ("の", -2.6593), ("も", -3.2189), ("、", -4.1997)]),
    ("曇", [("曇", -1.8643), ("晴", -1.9379), ("雨", -2.2164), ("とても", -2.9004)]),
    ("り", [("り", -0.2231), ("って", -2.3026), ("で", -3.5066), ("ると", -4.6052)]),
    ("です", [("です", -0.3567), ("でしょう", -1.6094), ("。", -2.9957), ("だ", -3.9120)]),
]
CLOUD = 2  # the 曇 step
ENDASH = "\u2013"


def chat_doc() -> dict[str, Any]:
    content = [{"token": w, "logprob": top[0][1], "bytes": list(w.encode()),
                "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode())}
                                 for t, lp in top]} for w, top in WORDS]
    return {"id": "chatcmpl-bounds", "object": "chat.completion", "created": 1702685778,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant",
                                     "content": "".join(w for w, _ in WORDS)},
                         "logprobs": {"content": content}}]}


def imported() -> Trace:
    t = parse_document(chat_doc())[0]
    assert t.steps[CLOUD].tail_logsumexp is None and t.vocab_size is None
    return t


def rng(lo: float, hi: float) -> str:
    """The page's range format: "62.0–71.3%", a point where the ends print the same."""
    a, b = pct(lo), pct(hi)
    if a == b:
        return a
    plain = re.compile(r"^[0-9.]+%$")
    return a[:-1] + ENDASH + b if plain.match(a) and plain.match(b) else f"{a} {ENDASH} {b}"


def shown(page: Any, scope: str = ".tp-pop") -> list[dict[str, str]]:
    return page.eval_on_selector_all(f"{scope} .tp-bars .tp-bar-row", """rs => rs.map(r => ({
        token: r.dataset.token, low: r.dataset.low, high: r.dataset.high, p: r.dataset.p,
        pct: r.querySelector('.tp-bar-pct').textContent}))""")

