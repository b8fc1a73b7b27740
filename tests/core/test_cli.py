"""The command line as a user meets it: results on stdout, one-line errors, exit codes.

Most runs are in this process on the scripted model (tests/scripted_model.py); the embedded
model keeps its context limits, one end-to-end run in a process of its own and Ctrl-C while
it loads."""

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
from tests.helpers import CliResult, run_cli, sigint_default
from tests.inprocess import invoke
from tests.scripted_model import BOS, SPEC, expected_logprobs
from tests.scripted_model import encode as scripted_ids


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
def test_bad_input_is_one_line_error(args: list[str], fragments: list[str], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert_one_line_error(invoke(args, tmp_path, monkeypatch), 2, *fragments)


def test_bad_input_in_a_process_of_its_own() -> None:
    """The real stderr of a fresh process: one line, no traceback, exit code 2."""
    assert_one_line_error(run_cli(["generate", "hi", "--top-p", "0"]), 2,
                          "--top-p must be in (0, 1]")


def test_not_a_gguf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_text("this is not a model")
    assert_one_line_error(invoke(["generate", "hi", "--model", str(fake)], tmp_path,
                                 monkeypatch), 2, "is not a GGUF file")


def test_max_tokens_beyond_context() -> None:
    # In a process of its own: the load's stderr (llama.cpp's notes) must stay quiet too.
    r = run_cli(["generate", "hi", "--max-tokens", "100000"])
    assert_one_line_error(r, 2, "exceeds the context of 8192 tokens", "at most")


def test_prompt_longer_than_context() -> None:
    r = run_cli(["generate", "tok " * 9000, "--max-tokens", "1"])
    assert_one_line_error(r, 2, "longer than the model's context of 8192 tokens")


def test_malformed_and_newer_trace_files(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert_one_line_error(invoke(["show", str(bad)], tmp_path, monkeypatch), 2)
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({"schema": "tokenprobe/trace@2", "steps": []}))
    assert_one_line_error(invoke(["show", str(newer)], tmp_path, monkeypatch), 2, "newer",
                          "upgrade")


def test_generate_json_is_exactly_one_trace(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "t.json"
    prompt = "The capital of France is"
    r = invoke(["generate", prompt, "--max-tokens", "8", "-t", "0", "--json", "-o",
                str(out), "-n", "4", "-m", SPEC], tmp_path, monkeypatch)
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema"] == "tokenprobe/trace@1"
    assert len(doc["steps"]) == 8 and all(len(s["top"]) == 4 for s in doc["steps"])
    assert doc["request"]["temperature"] == 0.0
    # Greedy: each step is the argmax of the table's row after the last token, with its
    # log-softmax, and the top 4 are that row's four largest.
    prev = scripted_ids(prompt)[-1]
    for s in doc["steps"]:
        lp = expected_logprobs(prev)
        assert s["id"] == int(lp.argmax())
        assert s["logprob"] == pytest.approx(lp[s["id"]], abs=1e-5)
        assert [c["id"] for c in s["top"]] == [int(i) for i in (-lp).argsort()[:4]]
        prev = s["id"]
    assert json.loads(out.read_text()) == doc
    shown = invoke(["show", str(out), "--steps"], tmp_path, monkeypatch)
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


def test_score_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "t.txt"
    f.write_text("吉野家の𠮷は", encoding="utf-8")
    r = invoke(["score", "--file", str(f), "--json", "-m", SPEC], tmp_path, monkeypatch)
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    steps = doc["prompt_steps"]
    assert bytes(b for s in steps for b in s.get("bytes", s["token"].encode())).decode() \
        == "吉野家の𠮷は"
    assert steps[0]["logprob"] is None and all(s["logprob"] is not None for s in steps[1:])
    # Each token's logprob is the log-softmax of the table's row after the one before.
    ids = scripted_ids("吉野家の𠮷は")
    assert [s["id"] for s in steps] == ids
    for prev, s in zip(ids, steps[1:]):
        assert s["logprob"] == pytest.approx(expected_logprobs(prev)[s["id"]], abs=1e-5)


def test_score_counts_only_the_texts_tokens(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    doc = json.loads(invoke(["score", "the cat sat", "--json", "--no-save", "-m", SPEC],
                            tmp_path, monkeypatch).stdout)
    steps = doc["prompt_steps"]
    # The begin token: special, no logprob.
    assert steps[0]["id"] == BOS and steps[0].get("special") is True
    assert steps[0]["logprob"] is None
    r = invoke(["score", "the cat sat", "--no-save", "-m", SPEC], tmp_path, monkeypatch)
    assert r.code == 0, r.stderr
    assert re.search(rf"tokens\s+{len('the cat sat')}\s", r.stdout), r.stdout
    assert len(steps) - 1 == len("the cat sat")
    assert "not reported" not in r.stdout and f"<special {BOS}>" not in r.stdout


def test_score_steps_draw_split_characters_as_glyphs(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # The scripted tokenizer has 𠮷 (and 野家の牛丼) as UTF-8 byte tokens only.
    r = invoke(["score", "𠮷野家の牛丼", "--steps", "--no-save", "-n", "4", "-m", SPEC],
               tmp_path, monkeypatch)
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
    # The scripted model makes tokens in microseconds and never stops on its own here: a
    # million of them outlast the test's reading and signal by far.
    p = subprocess.Popen(
        [sys.executable, "-m", "tokenprobe", "generate", "Once upon a time", "-t", "0",
         "--max-tokens", "1000000", "-o", str(out), "-m", SPEC],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, preexec_fn=sigint_default,
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


def test_import_own_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "t.json"
    r = invoke(["generate", "Hello", "--max-tokens", "3", "-t", "0", "--json", "-o", str(out),
                "-m", SPEC], tmp_path, monkeypatch)
    assert r.code == 0, r.stderr
    r2 = invoke(["import", str(out), "--json"], tmp_path, monkeypatch)
    assert r2.code == 0, r2.stderr
    assert json.loads(r2.stdout)["steps"] == json.loads(r.stdout)["steps"]


# --- Ctrl-C at any moment: within a fraction of a second, 130, one line, no traceback ---

# Sends SIGINT to itself when TRIGGER is first imported, then runs the command line as the
# installed `tokenprobe` script does (`from tokenprobe.cli import main`).
_TRIP = """
import os, signal, sys, time

class Trip:
    def find_spec(self, name, path=None, target=None):
        if name == {trigger!r}:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(30)  # Ctrl-C must end the process here, not after
        return None

sys.meta_path.insert(0, Trip())
sys.argv = ["tokenprobe", "generate", "hi", "--max-tokens", "2", "--no-save"]
from tokenprobe.cli import main
main()
"""


@pytest.mark.parametrize("trigger", ["tokenprobe.trace", "tokenprobe.api", "typer",
                                     "rich.progress", "tokenprobe.cli.ops"])
def test_ctrl_c_while_the_command_line_imports(trigger: str, tmp_path: Path) -> None:
    env = {**os.environ, "TOKENPROBE_HOME": str(tmp_path)}
    env.pop("TOKENPROBE_DEBUG", None)
    p = subprocess.run([sys.executable, "-c", _TRIP.format(trigger=trigger)],
                       capture_output=True, text=True, env=env, timeout=60,
                       preexec_fn=sigint_default)
    assert p.returncode == 130, (p.returncode, p.stderr)
    assert p.stderr == "interrupted\n" and p.stdout == ""


def _model_file_open(pid: int, model: str) -> bool:
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == model
                   for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:  # a descriptor closed while being read
        return False


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux's /proc")
def test_ctrl_c_while_the_model_loads(tmp_path: Path) -> None:
    """SIGINT while llama.cpp has the model file open (inside its load, a C call that holds
    its thread): the process ends with 130 and one line, printing nothing on stdout and
    writing no trace (no token was made). One that ignored it would generate 4000 tokens."""
    from tokenprobe.backends.llama import embedded_model_path

    model = str(embedded_model_path())
    out = tmp_path / "t.json"
    env = {**os.environ, "TOKENPROBE_HOME": str(tmp_path)}
    env.pop("TOKENPROBE_DEBUG", None)
    p = subprocess.Popen(
        [sys.executable, "-m", "tokenprobe", "generate", "Once upon a time", "-t", "0",
         "--max-tokens", "4000", "-o", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, preexec_fn=sigint_default)
    try:
        deadline = time.monotonic() + 120
        while not _model_file_open(p.pid, model):
            assert p.poll() is None and time.monotonic() < deadline, "the load was not seen"
            time.sleep(0.002)
        p.send_signal(signal.SIGINT)
        stdout, stderr = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 130, stderr
    assert stderr.decode().splitlines()[-1:] == ["interrupted"], stderr
    assert b"Traceback" not in stderr and stdout == b""
    assert not out.exists()


# --- in this process (tests/inprocess.py): the model stays loaded between runs ---


def test_a_request_failing_before_any_token_prints_nothing_on_stdout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Port 9 (discard) on this machine: nothing listens, the connection is refused.
    r = invoke(["generate", "hi", "-m", "openai:x", "--base-url", "http://127.0.0.1:9/v1",
                "--no-save"], tmp_path, monkeypatch)
    assert_one_line_error(r, 4, "cannot reach the server")


@pytest.mark.parametrize("args", [
    ["generate", "hi"],
    ["generate", "hi", "--model", "{gguf}"],
    ["score", "hi"],
    ["choose", "hi", "-o", " a", "-o", " b"],
    ["compare", "-p", "a", "-p", "b"],
    ["batch", "{prompts}", "-o", "{out}"],
])
def test_base_url_is_refused_for_a_model_that_runs_here(
        args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tokenprobe.backends.llama import embedded_model_path

    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"id": "1", "prompt": "hi"}\n')
    args = [a.format(gguf=embedded_model_path(), prompts=prompts, out=tmp_path / "o.jsonl")
            for a in args]
    r = invoke([*args, "--base-url", "http://127.0.0.1:9/v1", "--no-save"]
               if args[0] != "batch" else [*args, "--base-url", "http://127.0.0.1:9/v1"],
               tmp_path, monkeypatch)
    what = "the local model file" if "--model" in args else "the embedded model"
    assert_one_line_error(r, 2, "--base-url applies to server models only (openai:NAME, "
                          "llamacpp:NAME, ollama:NAME), not to " + what)


def test_show_picks_one_of_several_traces(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(Path(__file__).parents[1] / "fixtures" / "openai" / "chat_two_choices.json")
    r = invoke(["show", path], tmp_path, monkeypatch)
    assert_one_line_error(r, 2, "holds 2 traces", "--choice N (0 to 1)")
    first = json.loads(invoke(["show", path, "--json", "--choice", "0"], tmp_path,
                              monkeypatch).stdout)
    second = json.loads(invoke(["show", path, "--json", "--choice", "1"], tmp_path,
                               monkeypatch).stdout)
    assert (first["source"]["choice"], second["source"]["choice"]) == (0, 1)
    assert_one_line_error(invoke(["show", path, "--choice", "2"], tmp_path, monkeypatch), 2,
                          "--choice 2 is out of range")
    shown = invoke(["show", path, "--choice", "1"], tmp_path, monkeypatch)
    assert shown.code == 0 and "perplexity" in shown.stdout


@pytest.mark.parametrize(("ref", "message"), [
    ("nope123", "no such file or history id: nope123"),
    ("abcd1234", "no such file or history id: abcd1234"),
    ("missing.json", "no such file: missing.json"),
])
def test_show_names_what_it_looked_for(ref: str, message: str, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(invoke(["show", ref], tmp_path, monkeypatch), 2, message)
    assert_one_line_error(invoke(["branch", ref, "--at", "0", "--token", "x"], tmp_path,
                                 monkeypatch), 2, message)
