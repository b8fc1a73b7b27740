"""The choice page in a real browser (Debian's Chromium through Playwright), offline, on a
choice made on the scripted model (tests/scripted_model.py): the options ranked, their
probabilities summing to one and checked against the Choice they came from; and markup in
options, prompts and titles (of a choice and of a comparison) kept as text."""

from __future__ import annotations

import math
from typing import Any

import pytest
from tests.views.conftest import EVIL_TEXT
from tests.views.jsfmt import num, pct
from tests.views.ops_pages import GEN, clean, quantised, texts

from tokenprobe.ops.choose import Choice
from tokenprobe.ops.compare import Comparison
from tokenprobe.views.html import render_choice, render_comparison


def test_choice_ranks_the_options_and_sums_to_one(open_html: Any, choice: Choice) -> None:
    o = open_html(render_choice(choice))
    page = o.page
    rows = page.eval_on_selector_all(".ops-choice-row", """rs => rs.map(r => ({
        i: Number(r.dataset.option), p: Number(r.dataset.p),
        pct: r.querySelector('.ops-choice-p').textContent,
        lp: r.querySelector('.ops-choice-lp').textContent,
        opt: r.querySelector('.ops-choice-opt').textContent}))""")
    ranked = sorted(range(len(choice.options)), key=lambda i: -choice.options[i].probability)
    assert [r["i"] for r in rows] == ranked
    assert math.fsum(r["p"] for r in rows) == pytest.approx(1.0, abs=1e-12)
    shown = [0.0 if r["pct"].startswith("<") else float(r["pct"].rstrip("%")) for r in rows]
    assert abs(sum(shown) - 100) <= 0.05 * len(rows) + 1e-9
    for r in rows:
        o_ = choice.options[r["i"]]
        assert r["p"] == o_.probability and r["pct"] == pct(o_.probability)
        tok = "token" if o_.n_tokens == 1 else "tokens"
        assert r["lp"] == (f"total logprob {num(o_.total_logprob, 3)} \u00b7 {o_.n_tokens} {tok}"
                           f" \u00b7 mean {num(o_.total_logprob / o_.n_tokens, 3)}")
        assert r["opt"] == o_.option.replace(" ", "\u2423")
        box = f'.ops-choice-detail[data-option="{r["i"]}"]'
        assert "".join(texts(page, f"{box} {GEN}")) == o_.trace.text == o_.option
        per = texts(page, f"{box} .ops-pt")
        assert per == [s.token.replace(" ", "\u2423") + " " + pct(quantised(s.logprob))
                       for s in o_.trace.steps]
    best = choice.options.index(choice.best())
    assert "best" in page.get_attribute(f'.ops-choice-row[data-option="{best}"]', "class")
    page.hover(f'.ops-choice-detail[data-option="{ranked[0]}"] {GEN} >> nth=0')
    page.wait_for_selector(".tp-pop:not([hidden]) .tp-bar-row")
    assert page.title() == "choose after The capital of France is \u00b7 tokenprobe"
    clean(o)


def test_markup_in_options_prompts_and_titles_stays_text(open_html: Any, choice: Choice,
                                                         fixed_comparison: Comparison) -> None:
    o = open_html(render_choice(choice, title=EVIL_TEXT))
    assert o.page.text_content(".tp-title") == EVIL_TEXT
    assert any(EVIL_TEXT in t for t in texts(o.page, ".ops-choice-detail .tp-text"))
    for sel in (".ops-choice-row", ".ops-choice-detail"):
        o.page.hover(f"{sel} >> nth=3")
    clean(o)
    o = open_html(render_comparison(fixed_comparison, title=EVIL_TEXT))
    assert o.page.text_content(".tp-title") == EVIL_TEXT
    assert EVIL_TEXT in o.page.text_content(".ops-metrics")
    clean(o)

