"""The command line's operations: `compare/choose/sweep/branch --html` and `history export
ID -f html`, run in this process on the scripted model (tests/scripted_model.py), the pages
opened in the browser with no network; `--stop`, the embedded base model's note, and the
sweep in the history."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from tests.helpers import CliResult
from tests.inprocess import invoke
from tests.scripted_model import SPEC

from tokenprobe.views.terminal import sci_prob

PROMPT = "The capital of France is"
# The scripted model's greedy text after PROMPT is "qyLhwRDxGKGK...": it holds this.
STOP = "wR"


def run(args: list[str], home: Path, monkeypatch: pytest.MonkeyPatch) -> CliResult:
    """`tokenprobe ARGS` in this process; the operations that run a model run the scripted
    one (branch reaches its trace's)."""
    extra = ["-m", SPEC] if args[0] in ("compare", "choose", "sweep", "generate") else []
    return invoke([*args, *extra], home, monkeypatch)


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


def test_compare_page_and_its_history_export_are_one(
        tmp_path: Path, open_html: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    page = tmp_path / "compare.html"
    r = run(["compare", "-p", PROMPT, "-p", "The largest city in Germany is",
             "--answer", " Paris", "--html", str(page)], tmp_path, monkeypatch)
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
    r = run(["history", "export", cid, "-f", "html", "-o", str(exported)], tmp_path, monkeypatch)
    assert r.code == 0, r.stderr
    # The saved comparison gives the very same page as the live one.
    assert exported.read_text("utf-8") == page.read_text("utf-8")
    view = _open(open_html, exported)
    assert view.eval_on_selector_all(".ops-col", "cs => cs.length") == 2
    assert view.eval_on_selector_all(".ops-deltas tbody tr", "rs => rs.length") == \
        data["traces"][0]["steps"]["n"]


def test_choose_page_and_its_history_export_are_one(
        tmp_path: Path, open_html: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    page = tmp_path / "choose.html"
    r = run(["choose", PROMPT, "-o", " Paris", "-o", " Rome", "--html", str(page)], tmp_path,
            monkeypatch)
    cid = _saved_id(r)
    data = _data(page)["choice"]
    assert [o["option"] for o in data["options"]] == [" Paris", " Rome"]
    exported = tmp_path / "export.html"
    assert run(["history", "export", cid, "-f", "html", "-o", str(exported)], tmp_path,
               monkeypatch).code == 0
    assert exported.read_text("utf-8") == page.read_text("utf-8")
    view = _open(open_html, exported)
    assert view.eval_on_selector_all(".ops-choice-row", "rs => rs.length") == 2


def test_sweep_page(tmp_path: Path, open_html: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    page = tmp_path / "sweep.html"
    r = run(["sweep", PROMPT, "--temperatures", "0,0.7,1.4", "--max-tokens", "4",
             "--html", str(page)], tmp_path, monkeypatch)
    assert r.code == 0, r.stderr
    sw = _data(page)["sweep"]
    assert [c["temperature"] for c in sw["columns"]] == [0, 0.7, 1.4]
    assert all(len(c["steps"]) == 4 for c in sw["columns"])
    view = _open(open_html, page)
    assert view.eval_on_selector_all(".ops-sweep-grid thead th", "ts => ts.length") == 4


def test_branch_page_is_the_tree_and_so_is_its_export(
        tmp_path: Path, open_html: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    r = run(["generate", PROMPT, "--max-tokens", "6", "--temperature", "0.8",
             "--seed", "3"], tmp_path, monkeypatch)
    root = _saved_id(r)
    page = tmp_path / "branch.html"
    r = run(["branch", root, "--at", "1", "--token", " Lyon", "--html", str(page)], tmp_path,
            monkeypatch)
    branch = _saved_id(r)
    tree = _data(page)["tree"]
    assert [n["parent"] for n in tree["nodes"]] == [None, 0]
    assert tree["forks"][0] == [{"step": 1, "options": [0, 1]}]
    # A second branch joins the same tree, in the page of either.
    page2 = tmp_path / "branch2.html"
    assert run(["branch", branch, "--at", "3", "--token", " and", "--html",
                str(page2)], tmp_path, monkeypatch).code == 0
    assert [n["parent"] for n in _data(page2)["tree"]["nodes"]] == [None, 0, 1]
    exported = tmp_path / "export.html"
    assert run(["history", "export", root, "-f", "html", "-o", str(exported)], tmp_path,
               monkeypatch).code == 0
    assert len(_data(exported)["traces"]) == 3
    view = _open(open_html, exported)
    assert view.eval_on_selector_all(".ops-outline-btn", "bs => bs.length") == 3
    view.click('.ops-fork[data-step="1"]')
    view.click('.ops-fork-opt[data-trace="1"]')
    view.wait_for_selector("html[data-tp-branch='1']")


def test_a_bad_sweep_writes_no_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = tmp_path / "sweep.html"
    r = run(["sweep", PROMPT, "--temperatures", "0,hot", "--html", str(page)], tmp_path,
            monkeypatch)
    assert r.code == 2 and "--temperatures" in r.stderr and "Traceback" not in r.stderr
    assert not page.exists()


# --- in this process (tests/inprocess.py): the model stays loaded between runs ---


def _stopped_at(trace: dict[str, Any], stop: str) -> None:
    """The trace asked for `stop`, and its text ends at the stop's first occurrence (or has
    none and ran to its length)."""
    assert trace["request"]["stop"] == [stop]
    text = trace["text"]
    if stop in text:
        assert text.index(stop) + len(stop) == len(text) and trace["finish_reason"] == "stop"
    else:
        assert trace["finish_reason"] == "length"


def test_compare_and_sweep_pass_stop_to_the_request(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    r = invoke(["compare", "-p", PROMPT, "-p", "The largest city in Germany is", "-t", "0",
                "--max-tokens", "12", "--stop", STOP, "--json", "--no-save", "-m", SPEC],
               tmp_path, monkeypatch)
    assert r.code == 0, r.stderr
    traces = [t for v in json.loads(r.stdout)["variants"] for t in v["traces"]]
    for t in traces:
        _stopped_at(t, STOP)
    assert any(t["finish_reason"] == "stop" for t in traces)
    r = invoke(["sweep", PROMPT, "--temperatures", "0,1", "--max-tokens", "12", "--stop",
                STOP, "--json", "--no-save", "-m", SPEC], tmp_path, monkeypatch)
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    _stopped_at(doc["base"], STOP)
    assert doc["base"]["finish_reason"] == "stop"
    for c in doc["columns"]:
        _stopped_at(c["sample"], STOP)
    r = invoke(["compare", "-p", "a", "-p", "b", "--answer", " x", "--stop", ".", "-m", SPEC],
               tmp_path, monkeypatch)
    assert r.code == 2 and "--stop ends a generated answer" in r.stderr


@pytest.mark.parametrize(("args", "flag"), [
    (["compare", "-p", "Hi", "--system", "Be brief.", "--system", "Be long.", "--answer",
      " yes"], "--system"),
    (["compare", "-p", "Hi", "-p", "Hello", "--chat", "--answer", " yes"], "--chat"),
    (["choose", "Hi", "--chat", "-o", " yes", "-o", " no"], "--chat"),
])
def test_chat_on_the_base_model_gets_the_note_generate_gives(
        args: list[str], flag: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = invoke([*args, "--no-save"], tmp_path, monkeypatch)
    assert r.code == 0, r.stderr
    assert ("note: the embedded model is a base model: it continues text well but chats "
            f"poorly; leave out {flag} to see it at its best") in " ".join(r.stderr.split())
    plain = invoke(["compare", "-p", "Hi", "-p", "Hello", "--answer", " yes", "--no-save"],
                   tmp_path, monkeypatch)
    assert plain.code == 0 and "note:" not in plain.stderr


def test_sweep_is_kept_in_the_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      open_html: Any) -> None:
    page = tmp_path / "sweep.html"
    r = invoke(["sweep", PROMPT, "--temperatures", "0,0.7,1.4", "--max-tokens", "4", "--html",
                str(page), "-m", SPEC], tmp_path, monkeypatch)
    sid = _saved_id(r)
    listing = invoke(["history"], tmp_path, monkeypatch, width=100).stdout
    assert re.search(rf"^{sid}  .*  sweep  .*{PROMPT}  →  ", listing, re.M), listing
    # The saved sweep gives the very same page as the live one (its views made again from
    # the saved base trace), and the same terminal view.
    exported = tmp_path / "export.html"
    e = invoke(["history", "export", sid, "-f", "html", "-o", str(exported)], tmp_path,
               monkeypatch)
    assert e.code == 0, e.stderr
    assert exported.read_text("utf-8") == page.read_text("utf-8")
    shown = invoke(["show", sid], tmp_path, monkeypatch)
    assert shown.code == 0 and shown.stdout == r.stdout
    jsonl = invoke(["history", "export", sid, "-f", "jsonl"], tmp_path, monkeypatch).stdout
    traces = [json.loads(x) for x in jsonl.splitlines()]
    assert [t["request"]["temperature"] for t in traces] == [0.0, 0.0, 0.7, 1.4]
    doc = json.loads(invoke(["show", sid, "--json"], tmp_path, monkeypatch).stdout)
    assert doc["schema"] == "tokenprobe/sweep@1" and doc["id"].startswith(sid)
    view = _open(open_html, exported)
    assert view.eval_on_selector_all(".ops-sweep-grid thead th", "ts => ts.length") == 4
    assert "saved as" not in invoke(["sweep", PROMPT, "--temperatures", "0,1", "--max-tokens",
                                     "2", "--no-save", "-m", SPEC], tmp_path,
                                    monkeypatch).stderr
