"""The temperature sweep's page in a real browser (Debian's Chromium through Playwright),
offline: on a sweep made on the scripted model (tests/scripted_model.py), its bars, tails
and samples are the Sweep's numbers; on an imported server answer, each value is drawn as
the range the data allow, never as a point."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.views.jsfmt import num, pct
from tests.views.ops_pages import GEN, clean, texts

from tokenprobe.ops.sweep import Sweep, SweepColumn
from tokenprobe.trace import Trace
from tokenprobe.views.html import render_sweep


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

