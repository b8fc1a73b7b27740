"""The comparison page in a real browser (Debian's Chromium through Playwright), offline,
on comparisons made on the scripted model (tests/scripted_model.py): on a fixed answer, its
token deltas, strips and metrics, tokens split differently never paired, a character split
over tokens read as its glyph, the columns side by side or stacked; sampled, its samples
switched with the reader's settings kept. Every number on the page is checked against the
Comparison it came from, to the precision the page shows it."""

from __future__ import annotations

import math
from decimal import Decimal, getcontext
from typing import Any

import pytest
from tests.views.browser import fits_the_window
from tests.views.conftest import EVIL_TEXT
from tests.views.jsfmt import delta, num, pct, stat
from tests.views.ops_pages import GEN, clean, texts

from tokenprobe.ops.compare import METRICS, Comparison
from tokenprobe.trace import Trace
from tokenprobe.views.html import render_comparison

# The web app's metric formats (web/static/compare.js), which the page shares.
FORMATS = {
    "tokens": lambda v: num(v, 1).removesuffix(".0"),
    "total_logprob": lambda v: num(v, 2),
    "mean_logprob": lambda v: num(v, 3),
    "geometric_mean_prob": pct,
    "arithmetic_mean_prob": pct,
    "perplexity": lambda v: num(v, 2),
    "mean_entropy": lambda v: num(v, 2) + " nats",
    "top1_share": pct,
}

METRIC_GRID = """ds => Object.fromEntries(ds.map(d =>
    [d.dataset.metric, d.querySelector('dd').textContent]))"""


def band(d: float | None) -> str:
    """ops-compare.js band: the colour class of a Δ logprob."""
    if d is None:
        return "dnr"
    for limit, name in ((-2, "dn3"), (-0.5, "dn2")):
        if d <= limit:
            return name
    if d < -0.05:
        return "dn1"
    if d <= 0.05:
        return "d0"
    return "up1" if d < 0.5 else "up2" if d < 2 else "up3"


def whole(total: float) -> str:
    """The page's probability of a whole answer: a percentage, or from the logprob in
    scientific notation (Decimal arithmetic, so no float underflow)."""
    if math.exp(total) >= 0.001:
        return pct(math.exp(total))
    getcontext().prec = 40
    m, e = f"{Decimal(total).exp():.1e}".split("e")
    return f"{m}e{int(e)}"


def test_fixed_answer_differences_are_token_deltas(open_html: Any,
                                                   fixed_comparison: Comparison) -> None:
    c = fixed_comparison
    o = open_html(render_comparison(c))
    page = o.page
    steps = [v.traces[0].steps for v in c.variants]
    totals = [v.stats()["total_logprob"][0] for v in c.variants]  # type: ignore[index]
    assert "exactly the same answer tokens" in page.text_content(".ops-lede")
    assert page.is_hidden(".ops-split")  # every variant has the same tokens
    for base in range(len(c.variants)):
        page.click(f".ops-delta-card .ops-seg .tp-seg-btn >> nth={base}")
        want = c.token_deltas(base)
        table = page.eval_on_selector_all(".ops-deltas tbody tr", """rows => rows.map(r =>
            Array.from(r.querySelectorAll('td.num')).map(td => [
              td.querySelector('.ops-p').textContent,
              (td.querySelector('.ops-delta') || {textContent: null}).textContent]))""")
        assert len(table) == len(steps[0])
        for k, row in enumerate(table):
            for j, (p, d) in enumerate(row):
                assert p == pct(math.exp(steps[j][k].logprob))  # type: ignore[arg-type]
                assert d == (None if j == base else delta(want[j][k]))
        foot = page.eval_on_selector_all(".ops-total td", """ts => ts.map(t =>
            t.querySelector('.ops-delta') ? t.querySelector('.ops-delta').textContent : null)""")
        assert foot == [None if j == base else delta(totals[j] - totals[base])
                        for j in range(len(c.variants))]
        # The strips: each token coloured by its Δ, the baseline's plain.
        classes = page.eval_on_selector_all(".ops-strip", """ss => ss.map(s =>
            Array.from(s.querySelectorAll('.ops-dchip')).map(c => c.classList[1]))""")
        for j, row in enumerate(classes):
            assert row == (["base"] * len(steps[j]) if j == base
                           else [band(d) for d in want[j]])
        # The answer as its tokens read, a token of spaces only drawn as ␣ (as the viewer
        # draws whitespace-only tokens; the scripted model makes " " one token).
        shown = "".join("␣" * len(s.token) if s.token == " " * len(s.token) else s.token
                        for s in steps[0])
        assert shown.replace("␣", " ") == c.answer and "␣" in shown
        assert texts(page, ".ops-strip-text") == [shown] * len(c.variants)
    # A token's tip gives both probabilities and the difference.
    page.click(".ops-delta-card .ops-seg .tp-seg-btn >> nth=0")
    page.hover('.ops-strip[data-variant="1"] .ops-dchip >> nth=0')
    tip = page.text_content(".ops-tip:not([hidden])")
    assert delta(c.token_deltas(0)[1][0]) in tip
    assert pct(math.exp(steps[1][0].logprob)) in tip  # type: ignore[arg-type]
    clean(o)


def test_a_character_split_over_tokens_reads_as_its_glyph(open_html: Any) -> None:
    """曇 is E6 9B 87, made of two tokens: the strips read 曇, and the table and the tips
    say which fragment of it each token is."""
    from tokenprobe.ops.compare import Comparison, Variant
    from tokenprobe.trace import Candidate, Request, Step

    def answer(lps: list[float]) -> Trace:
        parts = [b"\xe6\x9b", b"\x87", b" today"]
        steps = [Step(Candidate.from_bytes(b, 0.0).token, lp, 10 + k, bytes=b, forced=True,
                      top=[Candidate.from_bytes(b, lp, 10 + k)])
                 for k, (b, lp) in enumerate(zip(parts, lps, strict=True))]
        t = Trace(backend="import", model="m", request=Request(prompt="Weather:"), steps=steps,
                  finish_reason="stop", created="2026-11-22T13:00:00Z")
        t.rebuild_text()
        return t

    c = Comparison([Variant("a", {"prompt": "Weather:"}, [answer([-1.2, -0.05, -2.0])]),
                    Variant("b", {"prompt": "Sky:"}, [answer([-0.4, -0.01, -2.5])])],
                   answer="曇 today")
    o = open_html(render_comparison(c))
    page = o.page
    assert texts(page, ".ops-strip-text") == ["曇 today", "曇 today"]
    chips = page.eval_on_selector_all('.ops-strip[data-variant="1"] .ops-dchip',
                                      "cs => cs.map(c => [c.textContent, c.className])")
    assert [t for t, _ in chips] == ["曇", "", " today"] and "ops-dchip-frag" in chips[1][1]
    rows = texts(page, ".ops-deltas tbody .ops-tok")
    assert rows[0].endswith("byte 1 of 2 of \u201c曇\u201d")
    assert rows[1].endswith("byte 2 of 2 of \u201c曇\u201d")
    page.hover('.ops-strip[data-variant="1"] .ops-dchip >> nth=1')
    assert "byte 2 of 2 of \u201c曇\u201d" in page.text_content(".ops-tip:not([hidden])")
    assert "\ufffd" not in page.text_content("body")
    clean(o)


def test_tokens_split_differently_are_never_paired(open_html: Any,
                                                  split_comparison: Comparison) -> None:
    c = split_comparison
    o = open_html(render_comparison(c))
    page = o.page
    steps = [v.traces[0].steps for v in c.variants]
    lede = page.text_content(".ops-lede")
    assert "exactly the same answer tokens" not in lede
    assert "not every variant split it into the same tokens" in lede
    for base, other in ((0, [1]), (1, [0, 2])):
        page.click(f".ops-delta-card .ops-seg .tp-seg-btn >> nth={base}")
        want = c.token_deltas(base)
        note = page.text_content(".ops-split")
        assert note.startswith(("Variant " if len(other) == 1 else "Variants ") + ", ".join(
            f"{j + 1} ({len(steps[j])} tokens)" for j in other))
        assert "other tokens than the baseline" in note
        # The table's rows are the baseline's tokens; another split has no cells there.
        table = page.eval_on_selector_all(".ops-deltas tbody tr", """rows => rows.map(r =>
            Array.from(r.querySelectorAll('td.num')).map(td => [td.textContent,
              (td.querySelector('.ops-delta') || {textContent: null}).textContent]))""")
        assert len(table) == len(steps[base])
        for k, row in enumerate(table):
            for j, (text, d) in enumerate(row):
                if j in other:
                    assert want[j] is None and text == "\u2014" and d is None
                else:
                    assert d == (None if j == base else delta(want[j][k]))  # type: ignore[index]
        classes = page.eval_on_selector_all(".ops-strip", """ss => ss.map(s =>
            Array.from(s.querySelectorAll('.ops-dchip')).map(c => c.classList[1]))""")
        for j in other:
            assert classes[j] == ["other"] * len(steps[j])  # no colour of a Δ
        # Its total still compares: the strip's head gives the difference of the totals.
        head = page.text_content(f'.ops-strip[data-variant="{other[0]}"] .ops-strip-sum')
        totals = [v.stats()["total_logprob"][0] for v in c.variants]  # type: ignore[index]
        assert "other tokens" in head and delta(totals[other[0]] - totals[base]) in head
    page.hover('.ops-strip[data-variant="0"] .ops-dchip >> nth=0')
    assert "split into other tokens" in page.text_content(".ops-tip:not([hidden])")
    clean(o)


def test_comparison_metrics_and_columns(open_html: Any, fixed_comparison: Comparison) -> None:
    c = fixed_comparison
    o = open_html(render_comparison(c))
    page = o.page
    for i, v in enumerate(c.variants):
        stats = v.stats()
        row = page.eval_on_selector_all(f'.ops-metrics tr[data-variant="{i}"] td', """ts =>
            Object.fromEntries(ts.map(t => [t.dataset.metric, t.textContent]))""")
        grid = page.eval_on_selector_all(f'.ops-col[data-variant="{i}"] .ops-cmetric', METRIC_GRID)
        for k in METRICS:
            assert row[k] == grid[k] == stat(stats[k], FORMATS[k], 1)
        # One answer per variant: its whole probability, from its total logprob.
        total = stats["total_logprob"]
        assert total is not None
        assert row["whole_answer"] == grid["whole_answer"] == whole(total[0])
        col = f'.ops-col[data-variant="{i}"]'
        assert "".join(texts(page, f"{col} {GEN}")) == v.traces[0].text
        assert page.text_content(f"{col} .tp-gen .tp-section-label") == \
            "The fixed answer under this variant"
        assert page.text_content(f"{col} .tp-text.tp-plain") == v.settings["prompt"]
    heads = texts(page, ".ops-metrics thead th")
    assert "per-token probability, geometric mean" in heads
    assert "per-token probability, arithmetic mean" in heads
    assert "probability of the whole answer" in heads and "mean probability" not in heads
    # The label of the third variant is markup, shown as text.
    assert EVIL_TEXT in page.text_content('.ops-col[data-variant="2"] .ops-vlabel')
    # Each column is a full viewer: its popover lists the alternatives.
    page.hover(f'.ops-col[data-variant="1"] {GEN} >> nth=0')
    page.wait_for_selector(".tp-pop:not([hidden]) .tp-bar-row")
    assert "Put in place" in page.text_content(".tp-pop:not([hidden])")
    clean(o)


@pytest.mark.parametrize("width", [1280, 390])
def test_variants_side_by_side_or_stacked(open_html: Any, fixed_comparison: Comparison,
                                          width: int) -> None:
    o = open_html(render_comparison(fixed_comparison), width=width)
    boxes = o.page.eval_on_selector_all(".ops-col", """cs => cs.map(c => {
        const r = c.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })""")
    a, b = boxes[0], boxes[1]
    if width == 1280:
        assert a[1] == b[1] and b[0] >= a[2]  # side by side
    else:
        assert b[1] >= a[3] and a[0] == b[0]  # one under the other
    fits_the_window(o.page, "compare", width)
    clean(o)


def test_samples_switch_and_keep_the_readers_settings(open_html: Any,
                                                      sampled_comparison: Comparison) -> None:
    c = sampled_comparison
    o = open_html(render_comparison(c))
    page = o.page
    for i, v in enumerate(c.variants):
        col = f'.ops-col[data-variant="{i}"]'
        stats = v.stats()
        grid = page.eval_on_selector_all(f"{col} .ops-cmetric", METRIC_GRID)
        assert grid == {k: stat(stats[k], FORMATS[k], 3) for k in METRICS}
        assert "\u00b1" in grid["mean_logprob"]
        page.click(f"{col} .tp-seg-btn[data-measure=entropy]")
        for s, t in enumerate(v.traces):
            page.click(f"{col} .ops-samples .tp-seg-btn >> nth={s}")
            page.wait_for_function("([c, s]) => document.querySelector(c).dataset.sample === s",
                                   arg=[col, str(s)])
            assert "".join(texts(page, f"{col} {GEN}")) == t.text
            assert page.text_content(f"{col} .tp-summary .tp-card-title") == f"Sample {s + 1} of 3"
            tokens = page.text_content(f"{col} .tp-summary .tp-metric dd")
            assert tokens == str(len(t.steps))
            # The colouring the reader chose stays when the sample changes.
            assert page.get_attribute(f"{col} .tp-textwrap", "class") == "tp-textwrap by-entropy"
    clean(o)

