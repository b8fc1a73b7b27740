"""The viewer in a real browser (Debian's Chromium through Playwright), offline.

Each test opens an exported file with every non-file request blocked, then checks what a
reader sees: the popover's alternatives and numbers, keyboard moves, the temperature slider
against `Trace.at_temperature`, the step view, escaping, missing values and schema errors.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from tests.views.conftest import Opened
from tests.views.traces import (
    EVIL,
    evil_trace,
    local_trace,
    missing_trace,
    newer_trace,
    scored_trace,
    server_trace,
)

from tokenprobe.views.html import SCRIPTS

GEN = ".tp-text-gen .t"


def pct(p: float) -> str:
    """The page's percent format: one decimal, two significant digits below 0.1%."""
    v = 100 * p
    if v >= 0.1 or v == 0:
        return f"{v:.1f}%"
    return f"{v:.2g}%" if v >= 1e-4 else "<0.0001%"


def num(x: float, d: int) -> str:
    return f"{x:.{d}f}".replace("-", "\u2212")


def clean(o: Opened) -> None:
    assert o.blocked == [], f"the page asked for {o.blocked}"
    assert o.dialogs == [], f"a dialog opened: {o.dialogs}"
    assert o.errors == [], f"script errors: {o.errors}"


def rows(page: Any) -> list[dict[str, str]]:
    return page.eval_on_selector_all(".tp-pop .tp-bars .tp-bar-row", """rs => rs.map(r => ({
        token: r.dataset.token, p: r.dataset.p, chosen: r.classList.contains('chosen') ? '1' : '',
        pct: r.querySelector('.tp-bar-pct').textContent,
        lp: (r.querySelector('.tp-bar-lp') || {}).textContent || ''}))""")


def stats(page: Any, scope: str = ".tp-pop") -> dict[str, str]:
    return page.eval_on_selector_all(
        f"{scope} .tp-stat, {scope} .tp-metric", """ss => Object.fromEntries(ss.map(s =>
        [s.querySelector('dt').textContent, s.querySelector('dd').textContent]))""")


def hover(page: Any, i: int, sel: str = GEN) -> None:
    page.hover(f"{sel} >> nth={i}")
    page.wait_for_selector(".tp-pop:not([hidden])")


def set_temperature(page: Any, t: float) -> None:
    page.eval_on_selector(".tp-slider", """(s, t) => { s.value = String(t);
        s.dispatchEvent(new Event('input', {bubbles: true})); }""", t)
    page.wait_for_function("t => document.querySelector('.tp-tvalue').textContent === t",
                           arg=f"{t:.2f}")


# ---------------------------------------------------------------------------------------


def test_reading_view_popover_shows_alternatives(open_trace: Any) -> None:
    t = local_trace()
    o = open_trace([t])
    page = o.page
    texts = page.eval_on_selector_all(GEN, "cs => cs.map(c => c.textContent)")
    assert texts == [" Paris", ",", " ", "曇", " city", "\n", " light"]
    hover(page, 0)
    step = t.steps[0]
    got = rows(page)
    assert [r["token"] for r in got] == [c.token for c in step.top]
    assert [r["pct"] for r in got] == [pct(math.exp(c.logprob)) for c in step.top]
    assert [r["lp"] for r in got] == [num(c.logprob, 2) for c in step.top]
    assert [r["chosen"] for r in got] == ["1", "", "", "", ""]
    st = stats(page)
    assert st["probability"] == pct(math.exp(step.logprob))
    assert st["logprob"] == num(step.logprob, 3)
    assert st["rank"] == "1 of 5 listed"
    assert st["entropy"] == num(step.entropy, 2) + " nats"
    tail = 1 - sum(math.exp(c.logprob) for c in step.top)
    assert page.text_content(".tp-pop .tp-acc") == f"everything else {pct(tail)}"
    clean(o)


def test_chosen_token_outside_the_list_is_shown_apart(open_trace: Any) -> None:
    t = local_trace()
    o = open_trace([t])
    hover(o.page, 4)  # " city", sixth most likely with five listed
    assert stats(o.page)["rank"] == "not in the top 5"
    assert not any(r["chosen"] for r in rows(o.page))
    unlisted = o.page.text_content(".tp-pop .tp-unlisted")
    assert "city" in unlisted and pct(math.exp(t.steps[5].logprob)) in unlisted


def test_byte_fragments_are_one_glyph_with_the_product(open_trace: Any) -> None:
    t = local_trace()
    o = open_trace([t])
    hover(o.page, 3)
    glyph = o.page.text_content(".tp-pop .tp-pop-glyph")
    assert "One glyph made of 2" in glyph
    assert pct(math.exp(t.steps[3].logprob + t.steps[4].logprob)) in glyph
    assert o.page.eval_on_selector_all(".tp-pop .tp-detail", "d => d.length") == 2
    assert "\ufffd" not in o.page.text_content("body")


def test_whitespace_token_is_visible_on_hover(open_trace: Any) -> None:
    o = open_trace([local_trace()])
    chip = o.page.locator(f"{GEN} >> nth=2")
    assert chip.get_attribute("class").split()[-1] == "ws"
    assert chip.get_attribute("data-vis") == "\u2423"
    chip.hover()
    marker = o.page.evaluate("""() => getComputedStyle(
        document.querySelectorAll('.tp-text-gen .t')[2], '::after').content""")
    assert marker == '"\u2423"'
    assert o.page.locator(f"{GEN} >> nth=5").get_attribute("data-vis") == "\u21b5"


def test_arrow_keys_move_token_to_token(open_trace: Any) -> None:
    o = open_trace([local_trace()])
    page = o.page
    page.focus(f"{GEN} >> nth=0")
    assert "step 1 of 8" in page.text_content(".tp-pop-where")
    page.keyboard.press("ArrowRight")
    assert "step 2 of 8" in page.text_content(".tp-pop-where")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert "steps 4\u20135 of 8" in page.text_content(".tp-pop-where")
    page.keyboard.press("ArrowLeft")
    assert "step 3 of 8" in page.text_content(".tp-pop-where")
    active = page.eval_on_selector_all(f"{GEN}.active", "cs => cs.map(c => c.textContent)")
    assert active == [" "]
    assert page.evaluate("document.activeElement.textContent") == " "
    page.keyboard.press("End")
    assert "step 8 of 8" in page.text_content(".tp-pop-where")
    page.keyboard.press("Escape")
    assert page.is_hidden(".tp-pop")
    clean(o)


def test_click_pins_the_detail(open_trace: Any) -> None:
    o = open_trace([local_trace()])
    page = o.page
    page.click(f"{GEN} >> nth=0")
    assert page.is_visible(".tp-pop.pinned")
    page.hover(f"{GEN} >> nth=1")
    page.wait_for_timeout(250)
    assert "step 1 of 8" in page.text_content(".tp-pop-where")
    page.click(".tp-pop-close")
    assert page.is_hidden(".tp-pop")


@pytest.mark.parametrize("temperature", [0.5, 0.7, 1.5, 2.0, 0.1])
def test_temperature_matches_python(open_trace: Any, temperature: float) -> None:
    t = local_trace()
    o = open_trace([t])
    page = o.page
    set_temperature(page, temperature)
    expected = t.at_temperature(temperature)
    for chip, step_i in ((0, 0), (1, 1), (4, 5)):
        hover(page, chip)
        got = rows(page)
        view = expected[step_i]
        assert [r["token"] for r in got] == [c.candidate.token for c in view.candidates]
        for r, c in zip(got, view.candidates):
            assert c.prob is not None  # a tail summary: point values
            assert float(r["p"]) == pytest.approx(c.prob, abs=1e-9)
            assert r["pct"] == pct(c.prob)
        acc = page.text_content(".tp-pop .tp-acc")
        assert view.tail_low is not None and view.tail_low == view.tail_high
        assert acc == f"{view.note}; tail {pct(view.tail_low)}"
        assert "whole vocabulary" in acc
        assert view.log_z is not None
        p_chosen = math.exp(t.steps[step_i].logprob / temperature - view.log_z)
        assert stats(page)[f"probability at T {temperature:.2f}"] == pct(p_chosen)
        page.mouse.move(5, 5)
        page.wait_for_selector(".tp-pop", state="hidden")
    clean(o)


def test_temperature_without_tail_sums_gives_ranges(open_trace: Any) -> None:
    t = server_trace()
    o = open_trace([t])
    set_temperature(o.page, 0.7)
    hover(o.page, 1)
    view = t.at_temperature(0.7)[1]
    assert view.is_range
    got = o.page.eval_on_selector_all(".tp-pop .tp-bars .tp-bar-row", """rs => rs.map(r =>
        [r.dataset.low, r.dataset.high, r.dataset.p])""")
    for (lo, hi, p), c in zip(got, view.candidates, strict=True):
        assert float(lo) == pytest.approx(c.low, rel=1e-12)
        assert float(hi) == pytest.approx(c.high, rel=1e-12)
        assert p == "" and c.low < c.high
    acc = o.page.text_content(".tp-pop .tp-acc")
    assert acc.startswith(view.note + "; tail ") and "only the top 5 were reported" in acc
    assert "approximate" not in acc
    assert stats(o.page)["entropy"].startswith("\u2265 ")
    assert stats(o.page)["tail mass"] == pct(1 - sum(math.exp(c.logprob)
                                                      for c in t.steps[1].top))
    assert "Ranges" in o.page.text_content(".tp-tnote")


def test_temperature_recolours_the_text(open_trace: Any) -> None:
    o = open_trace([local_trace()])
    before = o.page.eval_on_selector_all(GEN, "cs => cs.map(c => c.className)")
    set_temperature(o.page, 2.0)
    after = o.page.eval_on_selector_all(GEN, "cs => cs.map(c => c.className)")
    assert before != after
    o.page.click(".tp-link-btn")  # reset to T = 1
    assert o.page.eval_on_selector_all(GEN, "cs => cs.map(c => c.className)") == before


def test_step_view_forward_back_and_play(open_trace: Any) -> None:
    t = local_trace()
    o = open_trace([t])
    page = o.page
    page.click("text=Step by step")
    counter = ".tp-step-counter"
    assert page.text_content(counter) == "step 1 of 8"
    assert page.text_content(".tp-context").startswith("The capital of France is")
    tokens = page.eval_on_selector_all(".tp-step-cands .tp-bars .tp-bar-row",
                                       "rs => rs.map(r => r.dataset.token)")
    assert tokens == [c.token for c in t.steps[0].top]
    page.click("text=Next \u25b6")
    assert page.text_content(counter) == "step 2 of 8"
    assert "The capital of France is Paris" in page.text_content(".tp-context")
    assert page.text_content(".tp-chosen-tok") == ","
    # Sampled at T = 0.8: the step view opens on that distribution, the raw value beside it.
    view = t.at_temperature(0.8)[1]
    assert view.log_z is not None
    chosen = stats(page, ".tp-step-chosen")
    assert chosen["probability"] == pct(math.exp(t.steps[1].logprob / 0.8 - view.log_z))
    assert chosen["raw (T 1)"] == pct(math.exp(t.steps[1].logprob))
    page.click("text=\u25c0 Previous")
    assert page.text_content(counter) == "step 1 of 8"
    page.click(".tp-btn-primary")  # play
    page.wait_for_function("() => document.querySelector('.tp-step-counter').textContent"
                           " === 'step 3 of 8'", timeout=5000)
    page.click(".tp-btn-primary")  # pause
    stopped = page.text_content(counter)
    page.wait_for_timeout(900)
    assert page.text_content(counter) == stopped
    clean(o)


def test_model_text_is_never_markup(open_trace: Any) -> None:
    t = evil_trace()
    o = open_trace([t], title='<img src=x onerror=alert("title")>')
    page = o.page
    assert page.evaluate("document.querySelectorAll('img, b#injected-model, iframe').length") == 0
    # The data element and the page's own scripts, nothing the model wrote.
    assert page.evaluate("document.scripts.length") == 1 + len(SCRIPTS)
    assert page.eval_on_selector_all(GEN, "cs => cs.map(c => c.textContent)") == EVIL
    assert page.text_content(".tp-title") == '<img src=x onerror=alert("title")>'
    assert '<b id="injected-model">m</b>' in page.text_content(".tp-meta")
    assert page.text_content(".tp-plain") == '<img src=x onerror=alert("prompt")>'
    for i, tok in enumerate(EVIL):
        hover(page, i)
        got = rows(page)
        assert got[0]["token"] == tok and got[0]["chosen"] == "1"
        assert sorted(r["token"] for r in got) == sorted(EVIL)
    page.click("text=Step by step")
    page.click("text=Next \u25b6")
    assert EVIL[0] in page.text_content(".tp-context")
    page.wait_for_timeout(100)
    clean(o)


def test_missing_values_read_not_reported(open_trace: Any) -> None:
    o = open_trace([missing_trace()])
    page = o.page
    hover(page, 0)
    st = stats(page)
    assert st["probability"] == st["logprob"] == st["rank"] == st["entropy"] == "not reported"
    assert "Alternatives not reported." in page.text_content(".tp-pop")
    hover(page, 2)
    assert [r["pct"] for r in rows(page)] == ["not reported", "not reported"]
    summary = page.text_content(".tp-summary")
    assert "1 token without a logprob (not reported) excluded" in summary
    assert stats(page, ".tp-summary")["mean entropy"] == "not reported"
    assert "did not complete: connection reset" in page.text_content(".tp-notices")
    assert page.eval_on_selector(f"{GEN} >> nth=0", "c => c.classList.contains('pn')")
    clean(o)


def test_newer_schema_shows_a_message(open_trace: Any) -> None:
    o = open_trace([newer_trace()])
    assert o.page.get_attribute("html", "data-tp-ready") == "message"
    msg = o.page.text_content(".tp-error")
    assert "tokenprobe/trace@2" in msg and "newer" in msg
    clean(o)


def test_scored_text_is_shown_as_prompt_tokens(open_trace: Any) -> None:
    t = scored_trace()
    o = open_trace([t])
    page = o.page
    assert page.text_content(".tp-prompt .tp-section-label") == "Scored text"
    chips = page.eval_on_selector_all(".tp-text-prompt .t", "cs => cs.map(c => c.textContent)")
    assert "".join(chips) == t.request.prompt
    assert page.text_content(".tp-summary .tp-card-title") == "Summary of the scored text"
    hover(page, 1, ".tp-text-prompt .t")
    assert "scored" in page.text_content(".tp-pop-where")
    clean(o)


def test_least_confident_list_jumps_to_the_token(open_trace: Any) -> None:
    o = open_trace([local_trace()])
    page = o.page
    first = page.text_content(".tp-least-btn >> nth=0")
    assert "city" in first
    page.click(".tp-least-btn >> nth=0")
    assert page.is_visible(".tp-pop.pinned")
    assert "step 6 of 8" in page.text_content(".tp-pop-where")
    assert page.eval_on_selector_all(f"{GEN}.active", "cs => cs.map(c => c.textContent)") == \
        [" city"]


def test_summary_and_chart(open_trace: Any) -> None:
    from tokenprobe.metrics import summarize

    t = local_trace()
    s = summarize(t)
    o = open_trace([t])
    metrics = o.page.eval_on_selector_all(".tp-metric", """ms => Object.fromEntries(ms.map(m =>
        [m.querySelector('dt').textContent, m.querySelector('dd').textContent]))""")
    assert metrics["tokens"] == "8"
    assert metrics["total logprob"] == num(s.total_logprob, 2)
    assert metrics["perplexity"] == num(s.perplexity, 2)
    assert metrics["per-token probability"] == (
        f"geometric mean {pct(s.geometric_mean_prob)}, "
        f"arithmetic mean {pct(s.arithmetic_mean_prob)}")
    assert "mean probability" not in metrics
    assert metrics["top-1 share"] == pct(s.top1_share)
    assert metrics["mean entropy"] == num(s.mean_entropy, 2) + " nats"
    assert o.page.eval_on_selector_all(".tp-chart-svg path", "ps => ps.length") == 3
    box = o.page.locator(".tp-chart-plot").bounding_box()
    o.page.mouse.click(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
    assert "step 8 of 8" in o.page.text_content(".tp-pop-where")


def test_measures_switch_the_colouring_and_legend(open_trace: Any) -> None:
    o = open_trace([local_trace()])
    page = o.page
    bg = "i => getComputedStyle(document.querySelectorAll('.tp-text-gen .t')[i]).backgroundColor"
    paris_prob = page.evaluate(f"({bg})(0)")
    page.click(".tp-seg-btn[data-measure=rank]")
    assert "by-rank" in page.get_attribute(".tp-textwrap", "class")
    assert "not in the listed top-N" in page.text_content(".tp-legend")
    assert page.evaluate(f"({bg})(4)") != page.evaluate(f"({bg})(0)")
    page.click(".tp-seg-btn[data-measure=entropy]")
    assert "nats" in page.text_content(".tp-legend")
    assert page.evaluate(f"({bg})(0)") != paris_prob
    page.click(".tp-seg-btn[data-measure=surprisal]")
    assert "bits" in page.text_content(".tp-legend")


def test_several_traces_in_one_page(open_trace: Any) -> None:
    o = open_trace([local_trace(), server_trace()])
    page = o.page
    assert page.eval_on_selector_all(".tp-sw", "bs => bs.length") == 2
    assert page.eval_on_selector_all(GEN, "cs => cs.length") == 7
    page.click(".tp-sw >> nth=1")
    assert page.eval_on_selector_all(GEN, "cs => cs.length") == 3
    hover(page, 0)
    assert "step 1 of 3" in page.text_content(".tp-pop-where")
    clean(o)


def test_theme_toggle(open_trace: Any) -> None:
    o = open_trace([local_trace()], scheme="light")
    bg = "getComputedStyle(document.body).backgroundColor"
    light = o.page.evaluate(bg)
    o.page.click(".tp-theme")
    assert o.page.get_attribute("html", "data-theme") == "dark"
    assert o.page.evaluate(bg) != light


def test_notebook_frames_work_side_by_side(browser: Any, tmp_path: Path) -> None:
    from tokenprobe.views.html import render_notebook

    host = tmp_path / "notebook.html"
    host.write_text("<!doctype html><meta charset=utf-8><body>" +
                    render_notebook(local_trace()) + render_notebook(evil_trace()) + "</body>",
                    encoding="utf-8")
    ctx = browser.new_context(viewport={"width": 1100, "height": 1500})
    blocked: list[str] = []
    ctx.route("**/*", lambda r: r.continue_() if r.request.url.startswith(
        ("file:", "data:", "about:")) else (blocked.append(r.request.url), r.abort()))
    page = ctx.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(host.as_uri())
    frames = [f for f in page.frames if f != page.main_frame]
    assert len(frames) == 2
    counts = []
    for f in frames:
        f.wait_for_selector("html[data-tp-ready='1']")
        counts.append(f.eval_on_selector_all(GEN, "cs => cs.length"))
    assert sorted(counts) == [4, 7]
    assert dialogs == [] and blocked == []
    ctx.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots(open_trace: Any, artifacts: Path, scheme: str) -> None:
    """Pictures to look at: reading view with a pinned popover, and the step view."""
    t = local_trace()
    o = open_trace([t, server_trace()], scheme=scheme, width=1280, height=820,
                   title="The capital of France")
    page = o.page
    set_temperature(page, 0.7)
    page.click(f"{GEN} >> nth=0")
    page.screenshot(path=str(artifacts / f"viewer-{scheme}.png"))
    page.keyboard.press("Escape")
    page.click("text=Step by step")
    page.click("text=Next \u25b6")
    page.click("text=Next \u25b6")
    page.screenshot(path=str(artifacts / f"viewer-step-{scheme}.png"))
    o2 = open_trace([missing_trace()], scheme=scheme, width=1000, height=640)
    hover(o2.page, 2)
    o2.page.screenshot(path=str(artifacts / f"viewer-missing-{scheme}.png"))
    clean(o)
