"""The history store: atomic saves under a kill, corrupt and newer files, the CLI's history
(in this process, on the scripted model: tests/scripted_model.py)."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.helpers import CliResult, run_cli
from tests.inprocess import invoke
from tests.scripted_model import SPEC

from tokenprobe.errors import InputError
from tokenprobe.store import Store, StoreError
from tokenprobe.trace import Candidate, Request, Step, Trace


def _cli(home: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """`tokenprobe ARGS` in this process with its history in `home`; generate runs the
    scripted model."""
    def run(*args: str) -> CliResult:
        extra = ["-m", SPEC] if args[0] == "generate" else []
        return invoke([*args, *extra], home, monkeypatch)
    return run


def _trace(i: int, n_steps: int = 3) -> Trace:
    steps = [Step(f" w{k}", -0.5, k, top=[Candidate(f" w{k}", -0.5, k)]) for k in range(n_steps)]
    t = Trace(backend="llama", model="m", request=Request(prompt=f"prompt {i}"), steps=steps)
    t.rebuild_text()
    return t


def test_save_list_search_get_delete(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.sqlite3")
    ids = [store.save_trace(_trace(i)) for i in range(3)]
    assert [r.id for r in store.list()] == ids[::-1]
    assert [r.title for r in store.list(search="prompt 1")] == ["prompt 1"]
    assert store.list(search="100%_") == []  # LIKE wildcards are taken literally
    assert store.trace(ids[1][:6]).id == ids[1]
    store.delete(ids[1])
    with pytest.raises(Exception, match="no history entry"):
        store.get(ids[1])


def test_an_id_prefix_is_compared_character_for_character(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.sqlite3")
    t = _trace(0)
    t.id = "0a1b2c3d4e5f67890a1b2c3d4e5f6789"  # letters in its first characters
    only = store.save_trace(t)
    # LIKE would read these as wildcards (and ignore case) and find the only record.
    for ref in ("____", "%%%%", "%", only[:6].upper(), only[:3] + "_" + only[4:8]):
        with pytest.raises(InputError, match="no history entry"):
            store.get(ref)
        with pytest.raises(InputError, match="no history entry"):
            store.delete(ref)
    assert store.get(only[:4]).id == only and store.find(only[:4]) is None
    assert store.find(only) is not None and [r.id for r in store.list()] == [only]


def test_branch_tree_is_kept_together(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.sqlite3")
    root, child, grandchild = _trace(0), _trace(1), _trace(2)
    child.parent = {"id": root.id, "step": 1, "token": " x"}
    grandchild.parent = {"id": child.id, "step": 2, "token": " y"}
    for t in (root, child, grandchild):
        store.save_trace(t)
    assert [t.id for t in store.tree(grandchild.id)] == [root.id, child.id, grandchild.id]


def test_corrupt_store_is_refused_and_untouched(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "history.sqlite3"
    p.write_bytes(b"this is not a database" * 100)
    before = p.read_bytes()
    with pytest.raises(StoreError, match="not a valid database"):
        Store(p)
    assert p.read_bytes() == before
    r = run_cli(["history"], env={"TOKENPROBE_HOME": str(tmp_path)})
    assert r.code == 2 and "not a valid database" in r.stderr and "Traceback" not in r.stderr
    r = invoke(["generate", "x", "--max-tokens", "1", "-m", SPEC], tmp_path, monkeypatch)
    assert r.code == 2 and "not a valid database" in r.stderr
    assert p.read_bytes() == before


def test_newer_store_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "h.sqlite3"
    Store(p).save_trace(_trace(0))
    with sqlite3.connect(p) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer tokenprobe"):
        Store(p)


# The writer saves big traces in a loop through the real Store; the last save pauses right
# after its INSERT, inside the open transaction, and says so on stdout. Its `_connect`
# hands the Store its real SQLite connection, with `execute` watched.
_WRITER = """
import sys, time
from contextlib import contextmanager
from tokenprobe.store import Store
from tokenprobe.trace import Candidate, Request, Step, Trace

class Watched:
    def __init__(self, conn, pause):
        self.conn, self.pause = conn, pause
    def __enter__(self):
        return self.conn.__enter__()
    def __exit__(self, *exc):
        return self.conn.__exit__(*exc)
    def __getattr__(self, name):
        return getattr(self.conn, name)
    def execute(self, sql, *args):
        cur = self.conn.execute(sql, *args)
        if self.pause and sql.lstrip().upper().startswith("INSERT"):
            assert self.conn.in_transaction
            print("in transaction", flush=True)
            time.sleep(600)
        return cur

class PausingStore(Store):
    pause = False
    @contextmanager
    def _connect(self):
        with super()._connect() as conn:
            yield Watched(conn, self.pause)

store = PausingStore(sys.argv[1])
for i in range(4):
    store.pause = i == 3
    steps = [Step(f" w{k}", -0.5, k, top=[Candidate(f" c{j}", -1.0, j) for j in range(50)])
             for k in range(400)]
    t = Trace(backend="llama", model="m", request=Request(prompt=f"kill {i}"), steps=steps)
    t.rebuild_text()
    print(t.id, flush=True)
    store.save_trace(t)
    print("saved", flush=True)
"""


def test_killed_in_the_middle_of_a_save_loses_nothing_saved(tmp_path: Path) -> None:
    p = tmp_path / "h.sqlite3"
    earlier = [Store(p).save_trace(_trace(i)) for i in range(5)]
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(p)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    lines = []
    while not lines or lines[-1] != "in transaction":
        line = proc.stdout.readline().strip()
        assert line, f"the writer ended before its last save: {lines}"
        lines.append(line)
    os.kill(proc.pid, signal.SIGKILL)  # the INSERT is made, the COMMIT is not
    proc.wait()
    done = [x for x, nxt in itertools.pairwise(lines) if nxt == "saved"]
    in_flight = lines[-2]
    assert len(done) == 3
    store = Store(p)
    ids = {r.id for r in store.list(limit=1000)}
    assert ids == set(earlier) | set(done)  # the save in flight left nothing behind
    assert in_flight not in ids
    for i in earlier + done:
        t = store.trace(i)
        assert t.text and len(t.steps) in (3, 400)


def test_cli_history_show_export_rm(tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    cli = _cli(tmp_path, monkeypatch)
    r = cli("generate", "The capital of France is", "-t", "0", "--max-tokens", "4",
                 "--json")
    assert r.code == 0, r.stderr
    tid = json.loads(r.stdout)["id"]
    listing = cli("history")
    assert tid[:8] in listing.stdout
    assert cli("history", "--search", "France").stdout.count(tid[:8]) == 1
    shown = cli("show", tid[:8])
    assert shown.code == 0 and "perplexity" in shown.stdout
    b = cli("branch", tid[:8], "--at", "1", "--token", " Paris")
    assert b.code == 0, b.stderr
    jsonl = cli("history", "export", tid[:8], "--format", "jsonl")
    lines = [json.loads(x) for x in jsonl.stdout.splitlines()]
    assert len(lines) == 2 and lines[1]["parent"]["id"] == tid
    tree = cli("show", tid[:8])
    assert "branches:" in tree.stdout and "Paris" in tree.stdout
    missing = cli("history", "rm", "deadbeef")
    assert missing.code == 2 and "no history entry" in missing.stderr
    assert cli("history", "rm", tid[:8]).code == 0
    assert tid[:8] not in cli("history").stdout


def test_cli_compare_choose_branch_errors(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    cli = _cli(tmp_path, monkeypatch)
    r = cli("compare", "-p", "Hi")
    assert r.code == 2 and "at least two variants" in r.stderr
    r = cli("choose", "Hi", "-o", " a", "-o", " a")
    assert r.code == 2 and "given twice" in r.stderr
    r = cli("choose", "Hi", "-o", " a")
    assert r.code == 2 and "at least two" in r.stderr
    g = cli("generate", "Hi", "-t", "0", "--max-tokens", "3", "--json")
    tid = json.loads(g.stdout)["id"]
    r = cli("branch", tid, "--at", "7", "--token", " x")
    assert r.code == 2 and "outside the trace" in r.stderr
    listing = cli("history").stdout  # nothing lost or added
    assert re.findall(r"^([0-9a-f]{8})  .*  generate  ", listing, re.M) == [tid[:8]], listing


def test_cli_branch_keeps_the_history_as_it_is(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A parent from the history is not saved again (its place in its tree stays); a parent
    from a file joins the history once; a file whose id is another kind of record is refused."""
    cli = _cli(tmp_path, monkeypatch)

    def branch(ref: str, at: int, token: str) -> str:
        r = cli("branch", ref, "--at", str(at), "--token", token, "--json")
        assert r.code == 0, r.stderr
        return str(json.loads(r.stdout)["id"])

    g = cli("generate", "The capital of France is", "-t", "0", "--max-tokens", "5",
                 "--json")
    root = json.loads(g.stdout)["id"]
    child = branch(root, 1, " Lyon")
    grandchild = branch(child, 2, " and")
    assert cli("history", "rm", child).code == 0
    great = branch(grandchild, 3, " the")  # its parent's own parent is gone
    store = Store(tmp_path / "history.sqlite3")
    assert store.get(grandchild).root_id == root  # not re-saved under a wrong root
    assert [t.id for t in store.tree(great)] == [root, grandchild, great]
    # From a file: saved once when the history lacks it, left alone when it has it.
    fresh = store.trace(root)
    fresh.id, fresh.parent = "f" * 32, None
    fresh.save(tmp_path / "fresh.json")
    branch(str(tmp_path / "fresh.json"), 1, " Lyon")
    assert store.get("f" * 32).root_id == "f" * 32
    store.trace(grandchild).save(tmp_path / "known.json")
    branch(str(tmp_path / "known.json"), 1, " Nice")
    assert store.get(grandchild).root_id == root
    # A file whose id is a comparison's: refused before anything runs, the record intact.
    store.save_document("c" * 32, "comparison", "2026-01-01T00:00:00Z", "a | b", {"x": 1})
    fresh.id = "c" * 32
    fresh.save(tmp_path / "clash.json")
    before = len(store.list(limit=1000))
    r = cli("branch", str(tmp_path / "clash.json"), "--at", "1", "--token", " x")
    assert r.code == 2 and "is a comparison in the history" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert store.document("c" * 32) == {"x": 1} and len(store.list(limit=1000)) == before


def _record_store(tmp_path: Path) -> tuple[Store, list[str]]:
    """A history of every kind of entry, with prompts that differ only past 20 characters."""
    store = Store(tmp_path / "history.sqlite3")
    ids = []
    for mode, prompt, text in [("completion", "The capital of France is", " Paris, a city"),
                               ("completion", "The capital of Germany is", " Berlin, a city"),
                               ("chat", "What is the capital of Italy?", "Rome."),
                               ("score", "The capital of Spain is Madrid", "")]:
        t = Trace(backend="llama", model="gemma-3-270m-q4_k_m",
                  request=Request(mode=mode, prompt=prompt), text=text)
        ids.append(store.save_trace(t))
    child = Trace(backend="llama", model="gemma-3-270m-q4_k_m",
                  request=Request(prompt="The capital of France is"), text=" Lyon",
                  parent={"id": ids[0], "step": 0, "token": " Lyon"})
    ids.append(store.save_trace(child))
    for kind, title in [("comparison", "prompt=The capital of France is | prompt=The capital "
                         "of Germany is"), ("choice", "The capital of Portugal is"),
                        ("sweep", "The capital of Austria is")]:
        ids.append(store.save_document(f"{len(ids):x}" * 32, kind, "2026-01-01T00:00:00",
                                       title, {}, model="gemma-3-270m-q4_k_m", text="x"))
    return store, ids


def test_history_list_names_kinds_and_tells_prompts_apart(tmp_path: Path) -> None:
    from tokenprobe.cli.history import history_lines

    store, ids = _record_store(tmp_path)
    records = store.list()
    for width in (80, 120):
        lines = [t.plain for t in history_lines(records, width)]
        rows = {ln[:8]: ln for ln in lines if ln[:8] in {i[:8] for i in ids}}
        text = "\n".join(lines)
        kinds = {i[:8]: rows[i[:8]].split()[3] for i in ids}
        assert list(kinds.values()) == ["generate", "generate", "chat", "score", "branch",
                                        "compare", "choose", "sweep"], text
        # Every prompt is whole at 80 columns (on a line of its own there) and at 120.
        for r in records:
            assert any(" ".join(r.title.split()) in ln for ln in lines), (r.title, text)
        below = width == 80
        assert (lines[1].strip() == "prompt → text") is below, text
    wide = [t.plain for t in history_lines(records, 200)]
    assert "The capital of France is  →  Paris, a city" in "\n".join(wide)


def test_history_command_uses_the_terminal_width(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.inprocess import invoke

    _, ids = _record_store(tmp_path)
    for width in (80, 140):
        r = invoke(["history"], tmp_path, monkeypatch, width=width)
        assert r.code == 0, r.stderr
        assert all(len(ln) <= width for ln in r.stdout.splitlines()), r.stdout
        assert "The capital of France is" in r.stdout and "The capital of Germany is" in r.stdout
        assert re.search(rf"^{ids[7][:8]}  .*  sweep  ", r.stdout, re.M), r.stdout
