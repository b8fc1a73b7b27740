"""The branch tree's page in a real browser (Debian's Chromium through Playwright), offline,
on a root and its branches made on the scripted model (tests/scripted_model.py): the forks
switch between the traces, the outline and the arrows reach each, and the fork menu closes
and is reached from the keyboard. Its numbers are checked against the traces, to the
precision the page shows them."""

from __future__ import annotations

from typing import Any

from tests.views.jsfmt import pct
from tests.views.ops_pages import GEN, clean, quantised, texts

from tokenprobe.trace import Trace
from tokenprobe.views.encode_ops import encode_tree
from tokenprobe.views.html import render_html


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

