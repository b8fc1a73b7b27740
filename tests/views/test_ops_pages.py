"""The operations' pages in a real browser (Debian's Chromium through Playwright), offline:
a comparison (on a fixed answer, and sampled), a branch tree, a temperature sweep and a
choice, made on the scripted model (tests/scripted_model.py). Every number on a page is
checked against the library's object it came from, to the precision the page shows it."""

from __future__ import annotations

import math
from decimal import Decimal, getcontext
from pathlib import Path
from typing import Any

import pytest
from tests.views.conftest import EVIL_TEXT, Opened
from tests.views.jsfmt import delta, num, pct, stat

from tokenprobe.ops.choose import Choice
from tokenprobe.ops.compare import METRICS, Comparison
from tokenprobe.ops.sweep import Sweep, SweepColumn
from tokenprobe.trace import Trace
from tokenprobe.views.encode import QUANTUM
from tokenprobe.views.encode_ops import encode_tree
from tokenprobe.views.html import render_choice, render_comparison, render_html, render_sweep

GEN = ".tp-text-gen .t"

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


def clean(o: Opened) -> None:
    assert o.blocked == [], f"the page asked for {o.blocked}"
    assert o.dialogs == [], f"a dialog opened: {o.dialogs}"
    assert o.errors == [], f"script errors: {o.errors}"
    assert o.page.evaluate("document.querySelectorAll('img, iframe, object').length") == 0


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


def quantised(lp: float | None) -> float:
    """The probability a page shows from a trace's encoded logprob (units of 1e-4 nats)."""
    assert lp is not None
    return math.exp(round(lp / QUANTUM) / 1e4)


def whole(total: float) -> str:
    """The page's probability of a whole answer: a percentage, or from the logprob in
    scientific notation (Decimal arithmetic, so no float underflow)."""
    if math.exp(total) >= 0.001:
        return pct(math.exp(total))
    getcontext().prec = 40
    m, e = f"{Decimal(total).exp():.1e}".split("e")
    return f"{m}e{int(e)}"


def texts(page: Any, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "es => es.map(e => e.textContent)")  # type: ignore[no-any-return]


# ------------------------------------------------------------------------- comparison


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
    assert o.page.evaluate("document.documentElement.scrollWidth") <= width
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


# ------------------------------------------------------------------------- branch tree


def gen_text(page: Any) -> str:
    return "".join(texts(page, GEN))


def test_branch_tree_switches_at_the_forks(open_html: Any, branch_tree: list[Trace]) -> None:
    root, b1, b2, b3 = branch_tree
    tree = encode_tree(branch_tree)
    assert tree is not None
    o = open_html(render_html(branch_tree))
    page = o.page
    labels = texts(page, ".ops-outline-label")
    assert labels == ["original", 'branch at token 2: "L"', 'branch at token 6: "<" (of 2)',
                      'branch at token 2: "é"']
    assert gen_text(page) == root.text
    markers = page.eval_on_selector_all(".ops-fork", "ms => ms.map(m => Number(m.dataset.step))")
    assert markers == [f["step"] for f in tree["forks"][0]] == [1]
    page.click("text=Entropy")
    page.click('.ops-fork[data-step="1"]')
    options = page.eval_on_selector_all(".ops-fork-menu .ops-fork-opt",
                                        "os => os.map(o => Number(o.dataset.trace))")
    assert options == tree["forks"][0][0]["options"] == [0, 1, 2]
    menu = texts(page, ".ops-fork-opt .ops-fork-p")
    assert menu == [pct(quantised(t.steps[1].logprob)) for t in (root, b1, b2)]
    page.click('.ops-fork-opt[data-trace="1"]')
    page.wait_for_selector("html[data-tp-branch='1']")
    assert gen_text(page) == b1.text
    # The text before the fork is the root's; from the fork on it is the branch's own.
    fork_char = len(b"".join(s.data for s in root.steps[:1]).decode())
    assert b1.text[:fork_char] == root.text[:fork_char]
    assert texts(page, ".t.ops-forced") == [b1.steps[1].token]
    assert page.text_content(".tp-summary .tp-metric dd") == str(len(b1.steps))
    assert page.get_attribute(".tp-textwrap", "class") == "tp-textwrap by-entropy"
    page.hover(".t.ops-forced")
    page.wait_for_selector(".tp-pop:not([hidden])")
    assert "Put in place" in page.text_content(".tp-pop")
    # From the first branch, its own branch at step 5.
    assert page.eval_on_selector_all(".ops-fork", "ms => ms.map(m => Number(m.dataset.step))") \
        == [f["step"] for f in tree["forks"][1]] == [1, 5]
    page.click('.ops-fork[data-step="5"]')
    page.click('.ops-fork-opt[data-trace="3"]')
    page.wait_for_selector("html[data-tp-branch='3']")
    assert gen_text(page) == b3.text
    page.keyboard.press("Escape")
    # The outline goes anywhere, the arrows step through the traces.
    page.click(".ops-outline-btn >> nth=3")
    page.wait_for_selector("html[data-tp-branch='2']")
    assert gen_text(page) == b2.text
    page.click("button[aria-label='Previous branch']")
    page.wait_for_selector("html[data-tp-branch='1']")
    page.click(".ops-outline-btn >> nth=0")
    page.wait_for_selector("html[data-tp-branch='0']")
    assert gen_text(page) == root.text
    assert page.text_content(".ops-tree-count") == "1 / 4"
    clean(o)


def test_fork_menu_closes_and_keyboard_reaches_it(open_html: Any,
                                                  branch_tree: list[Trace]) -> None:
    o = open_html(render_html(branch_tree))
    page = o.page
    page.focus('.ops-fork[data-step="1"]')
    page.keyboard.press("Enter")
    page.wait_for_selector(".ops-fork-menu:not([hidden])")
    assert page.evaluate("document.activeElement.dataset.trace") == "0"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.trace") == "2"
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.trace") == "0"
    page.keyboard.press("Escape")
    assert page.is_hidden(".ops-fork-menu")
    assert page.evaluate("document.activeElement.classList.contains('ops-fork')")
    page.click('.ops-fork[data-step="1"]')
    page.mouse.click(5, 5)
    assert page.is_hidden(".ops-fork-menu")
    clean(o)


# ------------------------------------------------------------------------- sweep


def test_sweep_bars_are_the_sweeps_numbers(open_html: Any, temperature_sweep: Sweep) -> None:
    sw = temperature_sweep
    o = open_html(render_sweep(sw))
    page = o.page
    for k, step in enumerate(sw.base.steps):
        if k:
            page.click("text=Next \u25b6")
        page.wait_for_function("k => document.querySelector('.ops-sweep-steps').dataset.step"
                               " === k", arg=str(k))
        rows = page.eval_on_selector_all(".ops-sweep-grid tbody tr", """rs => rs.map(r => ({
            token: r.dataset.token,
            cells: Array.from(r.querySelectorAll('td.ops-scell')).map(td => ({
              p: Number(td.dataset.p), text: td.querySelector('.ops-pv').textContent,
              width: parseFloat(td.querySelector('.ops-sbar-fill').style.width) || 0,
              drawn: td.classList.contains('drawn')}))}))""")
        listed = [c for c in step.top if c.logprob is not None]
        assert [r["token"] for r in rows] == [c.token for c in listed]
        heads = texts(page, ".ops-sweep-grid .ops-th-h")
        tails = texts(page, ".ops-sweep-tail td.ops-scell")
        accuracy = texts(page, ".ops-sweep-acc .ops-acc")
        for n, col in enumerate(sw.columns):
            view = col.views[k]
            h = col.entropies[k]
            assert heads[n] == ("H not known" if h is None else f"H {num(h, 2)} nats")
            for i, cand in enumerate(listed):
                cell = rows[i]["cells"][n]
                p = view.candidates[i].prob if view is not None else (
                    1.0 if cand.data == step.data else 0.0)
                assert cell["p"] == p and cell["text"] == pct(p)
                assert cell["width"] == pytest.approx(max(0.5, 100 * p) if p > 0 else 0,
                                                      rel=1e-4)
                # Drawn here: the sample read like the greedy text before step k.
                here = k < len(col.sample.steps) and all(
                    a.data == b.data for a, b in zip(sw.base.steps[:k], col.sample.steps))
                assert cell["drawn"] == (here and cand.data == col.sample.steps[k].data)
            tail = view.tail_low if view is not None else 0.0
            assert tails[n].startswith(pct(tail))
            assert accuracy[n].startswith(view.accuracy if view is not None else "greedy")
        # At T = 0 all the mass is on the greedy token; a finite T spreads it.
        assert rows[0]["cells"][0]["p"] == (1.0 if listed[0].data == step.data else 0.0)
    assert texts(page, ".ops-sample-t") == [f"T = {col.temperature:g}" for col in sw.columns]
    for n, col in enumerate(sw.columns):
        assert "".join(texts(page, f'.ops-sample[data-column="{n}"] {GEN}')) == col.sample.text
    # A step is picked from the text too.
    page.click('.ops-sweep-chip[data-step="2"]')
    assert page.get_attribute(".ops-sweep-steps", "data-step") == "2"
    clean(o)


def test_sweep_of_a_server_answer_draws_the_ranges(open_html: Any, artifacts: Path) -> None:
    """A base without a tail summary (an imported answer): each value is a range, drawn as
    one, with the library's note; nothing is shown as a point the data cannot support."""
    from tests.views.bounds import CLOUD, imported, rng

    base = imported()
    temps = [0.5, 1.5]
    sw = Sweep(prompt="明日の天気は?", base=base, columns=[
        SweepColumn(t, base.at_temperature(t), [None] * len(base.steps),
                    Trace.from_dict(base.to_dict())) for t in temps])
    o = open_html(render_sweep(sw))
    page = o.page
    page.click(f'.ops-sweep-chip[data-step="{CLOUD}"]')
    rows = page.eval_on_selector_all(".ops-sweep-grid tbody tr", """rs => rs.map(r =>
        Array.from(r.querySelectorAll('td.ops-scell')).map(td => ({low: td.dataset.low,
          high: td.dataset.high, p: td.dataset.p, text: td.querySelector('.ops-pv').textContent,
          band: !!td.querySelector('.ops-sbar-range')})))""")
    tails = texts(page, ".ops-sweep-tail td.ops-scell")
    notes = texts(page, ".ops-sweep-acc .ops-acc")
    for n, t in enumerate(temps):
        view = base.at_temperature(t)[CLOUD]
        assert view.is_range
        for i, c in enumerate(view.candidates):
            cell = rows[i][n]
            assert float(cell["low"]) == c.low and float(cell["high"]) == c.high
            assert cell["p"] == "" and cell["text"] == rng(c.low, c.high) and cell["band"]
        assert view.tail_low is not None and view.tail_high is not None
        assert tails[n] == rng(view.tail_low, view.tail_high)
        assert notes[n] == "range: " + view.note
    page.screenshot(path=str(artifacts / "ops-sweep-bounded.png"), full_page=True)
    clean(o)


# ------------------------------------------------------------------------- choice


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


# ------------------------------------------------------------------------- screenshots


def _shoot(page: Any, path: Path) -> None:
    # Paragraphs off screen are not laid out (content-visibility), so the window is made as
    # tall as the page before the picture is taken.
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": page.viewport_size["width"], "height": min(height, 6000)})
    page.wait_for_timeout(150)
    page.screenshot(path=str(path), full_page=True)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("device,width", [("desktop", 1280), ("phone", 390)])
def test_screenshots(open_html: Any, artifacts: Path, scheme: str, device: str, width: int,
                     fixed_comparison: Comparison, sampled_comparison: Comparison,
                     branch_tree: list[Trace], temperature_sweep: Sweep, choice: Choice) -> None:
    pages = {"compare": render_comparison(fixed_comparison),
             "compare-samples": render_comparison(sampled_comparison),
             "tree": render_html(branch_tree), "sweep": render_sweep(temperature_sweep),
             "choice": render_choice(choice)}
    for name, text in pages.items():
        o = open_html(text, scheme=scheme, width=width, height=900 if width > 500 else 844)
        if name == "tree":
            o.page.click('.ops-fork[data-step="1"]')
            o.page.screenshot(path=str(artifacts / f"ops-tree-menu-{scheme}-{device}.png"))
            o.page.click('.ops-fork-opt[data-trace="1"]')
        if name == "compare":
            o.page.hover('.ops-strip[data-variant="1"] .ops-dchip >> nth=0')
            o.page.screenshot(path=str(artifacts / f"ops-compare-tip-{scheme}-{device}.png"))
            o.page.mouse.move(0, 0)
        _shoot(o.page, artifacts / f"ops-{name}-{scheme}-{device}.png")
        clean(o)
