"""The command line as a user meets it: results on stdout, one-line errors, exit codes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.helpers import CliResult, run_cli


def assert_one_line_error(r: CliResult, code: int, *fragments: str) -> None:
    assert r.code == code, (r.code, r.stderr)
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: ")
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    assert r.stdout == ""


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["generate", ""], ["prompt is empty"]),
        (["generate", "hi", "--max-tokens", "0"], ["--max-tokens must be at least 1"]),
        (["generate", "hi", "--max-tokens", "-3"], ["--max-tokens must be at least 1"]),
        (["generate", "hi", "--temperature", "-0.5"], ["--temperature must be >= 0"]),
        (["generate", "hi", "--top-p", "0"], ["--top-p must be in (0, 1]"]),
        (["generate", "hi", "--top-p", "1.5"], ["--top-p must be in (0, 1]"]),
        (["generate", "hi", "--alternatives", "-1"], ["between 0 and 1000"]),
        (["generate", "hi", "--alternatives", "1001"], ["between 0 and 1000"]),
        (["generate", "hi", "--model", "/nonexistent/m.gguf"], ["no such model file"]),
        (["generate", "hi", "--model", "nonsense"], ["unknown model 'nonsense'"]),
        (["generate", "hi", "--system", "x"], ["--system needs --chat"]),
        (["generate", "hi", "--dist", "weird"], ["--dist must be"]),
        (["score"], ["give the text to score"]),
        (["score", "--file", "/nonexistent.txt"], ["no such file"]),
        (["score", "abc", "--alternatives", "5000"], ["between 0 and 1000"]),
        (["show", "/nonexistent.json"], ["no such file"]),
    ],
)
def test_bad_input_is_one_line_error(args: list[str], fragments: list[str]) -> None:
    assert_one_line_error(run_cli(args), 2, *fragments)


def test_not_a_gguf(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_text("this is not a model")
    assert_one_line_error(run_cli(["generate", "hi", "--model", str(fake)]), 2,
                          "is not a GGUF file")


def test_max_tokens_beyond_context() -> None:
    r = run_cli(["generate", "hi", "--max-tokens", "100000"])
    assert_one_line_error(r, 2, "exceeds the context of 8192 tokens", "at most")


def test_prompt_longer_than_context() -> None:
    r = run_cli(["generate", "tok " * 9000, "--max-tokens", "1"])
    assert_one_line_error(r, 2, "longer than the model's context of 8192 tokens")


def test_malformed_and_newer_trace_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert_one_line_error(run_cli(["show", str(bad)]), 2)
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({"schema": "tokenprobe/trace@2", "steps": []}))
    assert_one_line_error(run_cli(["show", str(newer)]), 2, "newer", "upgrade")


def test_generate_json_is_exactly_one_trace(tmp_path: Path) -> None:
    out = tmp_path / "t.json"
    r = run_cli(["generate", "The capital of France is", "--max-tokens", "8", "-t", "0",
                 "--json", "-o", str(out), "-n", "4"])
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema"] == "tokenprobe/trace@1"
    assert len(doc["steps"]) == 8 and all(len(s["top"]) == 4 for s in doc["steps"])
    assert doc["request"]["temperature"] == 0.0
    assert json.loads(out.read_text()) == doc
    shown = run_cli(["show", str(out), "--steps"])
    assert shown.code == 0 and "step 7" in shown.stdout and "perplexity" in shown.stdout


def test_generate_prints_text_and_summary() -> None:
    r = run_cli(["generate", "The capital of France is", "--max-tokens", "6", "-t", "0"])
    assert r.code == 0, r.stderr
    assert r.stdout.startswith("The capital of France is the capital")
    assert "perplexity" in r.stdout and "probability:" in r.stdout
    assert "geometric mean" in r.stdout and "arithmetic mean" in r.stdout
    assert "probability of the whole answer" in r.stdout
    # The local engine's greedy choice is always its top token: no note about it.
    assert "greedy request" not in r.stdout


def test_score_file(tmp_path: Path) -> None:
    f = tmp_path / "t.txt"
    f.write_text("吉野家の𠮷は", encoding="utf-8")
    r = run_cli(["score", "--file", str(f), "--json"])
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    steps = doc["prompt_steps"]
    assert bytes(b for s in steps for b in s.get("bytes", s["token"].encode())).decode() \
        == "吉野家の𠮷は"
    assert steps[0]["logprob"] is None and all(s["logprob"] is not None for s in steps[1:])


def test_score_counts_only_the_texts_tokens() -> None:
    doc = json.loads(run_cli(["score", "the cat sat", "--json", "--no-save"]).stdout)
    steps = doc["prompt_steps"]
    assert steps[0].get("special") is True and steps[0]["logprob"] is None  # <bos>
    r = run_cli(["score", "the cat sat", "--no-save"])
    assert r.code == 0, r.stderr
    assert re.search(rf"tokens\s+{len(steps) - 1}\s", r.stdout), r.stdout
    assert "not reported" not in r.stdout and "<bos>" not in r.stdout


def test_score_steps_draw_split_characters_as_glyphs() -> None:
    r = run_cli(["score", "𠮷野家の牛丼", "--steps", "--no-save", "-n", "4"])
    assert r.code == 0, r.stderr
    assert "\ufffd" not in r.stdout
    # 𠮷 is four byte tokens: each panel names it by the character, and the context after
    # it draws it whole.
    for k in range(1, 5):
        assert f"𠮷 (token {k} of 4)" in r.stdout
    assert "𠮷野" in r.stdout
    assert "p (T=1)" in r.stdout and "logprob (T=1)" in r.stdout


def test_ctrl_c_keeps_tokens_and_writes_partial_trace(tmp_path: Path) -> None:
    out = tmp_path / "partial.json"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENPROBE_HOME": str(tmp_path)}
    p = subprocess.Popen(
        [sys.executable, "-m", "tokenprobe", "generate", "Once upon a time", "-t", "0",
         "--max-tokens", "4000", "-o", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    assert p.stdout is not None
    seen = b""
    deadline = time.monotonic() + 240
    while len(seen) < len("Once upon a time") + 40 and time.monotonic() < deadline:
        chunk = os.read(p.stdout.fileno(), 256)
        if not chunk:
            break
        seen += chunk
    p.send_signal(signal.SIGINT)
    _, stderr = p.communicate(timeout=120)
    assert p.returncode == 130, stderr
    assert b"Traceback" not in stderr
    assert b"interrupted" in stderr
    doc = json.loads(out.read_text())
    assert doc["complete"] is False and doc["error"] == "interrupted by the user"
    assert len(doc["steps"]) >= 5
    assert doc["text"] == bytes(
        b for s in doc["steps"] for b in s.get("bytes", s["token"].encode())).decode()


def test_import_own_trace(tmp_path: Path) -> None:
    out = tmp_path / "t.json"
    r = run_cli(["generate", "Hello", "--max-tokens", "3", "-t", "0", "--json", "-o", str(out)])
    assert r.code == 0, r.stderr
    r2 = run_cli(["import", str(out), "--json"])
    assert r2.code == 0, r2.stderr
    assert json.loads(r2.stdout)["steps"] == json.loads(r.stdout)["steps"]
