"""The command line's pages of operations: `compare/choose/sweep/branch --html` and
`history export ID -f html`, run as a user would (`python -m tokenprobe`, real model),
then opened in the browser with no network."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.helpers import CliResult, run_cli

from tokenprobe.views.terminal import sci_prob

PROMPT = "The capital of France is"


def _saved_id(r: CliResult) -> str:
    assert r.code == 0, r.stderr
    m = re.search(r"saved as ([0-9a-f]{8})", r.stderr)
    assert m is not None, r.stderr
    return m.group(1)


def _data(path: Path) -> dict[str, Any]:
    m = re.search(r'<script type="application/json" id="tp-data">(.*?)</script>',
                  path.read_text("utf-8"), re.S)
    assert m is not None
    return json.loads(m.group(1))  # type: ignore[no-any-return]


def _open(open_html: Any, path: Path) -> Any:
    o = open_html(path.read_text("utf-8"))
    assert o.errors == [] and o.blocked == [] and o.dialogs == []
    return o.page


def test_compare_page_and_its_history_export_are_one(tmp_path: Path, open_html: Any) -> None:
    page = tmp_path / "compare.html"
    r = run_cli(["compare", "-p", PROMPT, "-p", "The largest city in Germany is",
                 "--answer", " Paris", "--html", str(page)])
    cid = _saved_id(r)
    assert f"wrote {page}" in r.stderr
    data = _data(page)
    assert [v["label"] for v in data["comparison"]["variants"]] == \
        [f"prompt={PROMPT}", "prompt=The largest city in Germany is"]
    # The terminal table names both means, and gives each variant's probability of the
    # whole answer from the same total the page carries.
    rows = {ln.split("│")[1].strip(): [c.strip() for c in ln.split("│")[2:-1]]
            for ln in r.stdout.splitlines() if ln.startswith("│")}
    assert "per-token probability: geometric mean" in rows
    assert "per-token probability: arithmetic mean" in rows
    assert rows["probability of the whole answer"] == [
        sci_prob(tr["summary"]["total_logprob"]) for tr in data["traces"]]
    exported = tmp_path / "export.html"
    r = run_cli(["history", "export", cid, "-f", "html", "-o", str(exported)])
    assert r.code == 0, r.stderr
    # The saved comparison gives the very same page as the live one.
    assert exported.read_text("utf-8") == page.read_text("utf-8")
    view = _open(open_html, exported)
    assert view.eval_on_selector_all(".ops-col", "cs => cs.length") == 2
    assert view.eval_on_selector_all(".ops-deltas tbody tr", "rs => rs.length") == \
        data["traces"][0]["steps"]["n"]


def test_choose_page_and_its_history_export_are_one(tmp_path: Path, open_html: Any) -> None:
    page = tmp_path / "choose.html"
    r = run_cli(["choose", PROMPT, "-o", " Paris", "-o", " Rome", "--html", str(page)])
    cid = _saved_id(r)
    data = _data(page)["choice"]
    assert [o["option"] for o in data["options"]] == [" Paris", " Rome"]
    exported = tmp_path / "export.html"
    assert run_cli(["history", "export", cid, "-f", "html", "-o", str(exported)]).code == 0
    assert exported.read_text("utf-8") == page.read_text("utf-8")
    view = _open(open_html, exported)
    assert view.eval_on_selector_all(".ops-choice-row", "rs => rs.length") == 2


def test_sweep_page(tmp_path: Path, open_html: Any) -> None:
    page = tmp_path / "sweep.html"
    r = run_cli(["sweep", PROMPT, "--temperatures", "0,0.7,1.4", "--max-tokens", "4",
                 "--html", str(page)])
    assert r.code == 0, r.stderr
    sw = _data(page)["sweep"]
    assert [c["temperature"] for c in sw["columns"]] == [0, 0.7, 1.4]
    assert all(len(c["steps"]) == 4 for c in sw["columns"])
    view = _open(open_html, page)
    assert view.eval_on_selector_all(".ops-sweep-grid thead th", "ts => ts.length") == 4


def test_branch_page_is_the_tree_and_so_is_its_export(tmp_path: Path, open_html: Any) -> None:
    r = run_cli(["generate", PROMPT, "--max-tokens", "6", "--temperature", "0.8",
                 "--seed", "3"])
    root = _saved_id(r)
    page = tmp_path / "branch.html"
    r = run_cli(["branch", root, "--at", "1", "--token", " Lyon", "--html", str(page)])
    branch = _saved_id(r)
    tree = _data(page)["tree"]
    assert [n["parent"] for n in tree["nodes"]] == [None, 0]
    assert tree["forks"][0] == [{"step": 1, "options": [0, 1]}]
    # A second branch joins the same tree, in the page of either.
    page2 = tmp_path / "branch2.html"
    assert run_cli(["branch", branch, "--at", "3", "--token", " and", "--html",
                    str(page2)]).code == 0
    assert [n["parent"] for n in _data(page2)["tree"]["nodes"]] == [None, 0, 1]
    exported = tmp_path / "export.html"
    assert run_cli(["history", "export", root, "-f", "html", "-o", str(exported)]).code == 0
    assert len(_data(exported)["traces"]) == 3
    view = _open(open_html, exported)
    assert view.eval_on_selector_all(".ops-outline-btn", "bs => bs.length") == 3
    view.click('.ops-fork[data-step="1"]')
    view.click('.ops-fork-opt[data-trace="1"]')
    view.wait_for_selector("html[data-tp-branch='1']")


def test_a_bad_sweep_writes_no_page(tmp_path: Path) -> None:
    page = tmp_path / "sweep.html"
    r = run_cli(["sweep", PROMPT, "--temperatures", "0,hot", "--html", str(page)])
    assert r.code == 2 and "--temperatures" in r.stderr and "Traceback" not in r.stderr
    assert not page.exists()
