"""`tokenprobe import` as a user runs it: stdout is the trace, errors are one line (in this
process, but for one refusal read from a process of its own)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.helpers import CliResult, run_cli
from tests.inprocess import invoke

FIXTURES = Path(__file__).parent.parent / "fixtures"
Run = Callable[[list[str]], CliResult]


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """`tokenprobe ARGS` in this process."""
    return lambda args: invoke(args, tmp_path, monkeypatch)


def test_import_json_prints_one_trace(here: Run) -> None:
    r = here(["import", str(FIXTURES / "llama-cpp-python" / "completion_stop.json"), "--json"])
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema"] == "tokenprobe/trace@1" and doc["backend"] == "import"
    assert doc["source"]["format"] == "llama-cpp-python"
    assert doc["text"] == "𠮷 is a common word in Japanese."
    assert [s["bytes"] for s in doc["steps"][:4]] == [[240], [160], [174], [183]]


def test_import_forced_format_and_output_file(tmp_path: Path, here: Run) -> None:
    out = tmp_path / "t.json"
    r = here(["import", str(FIXTURES / "vllm" / "chat_prompt_logprobs.json"),
                 "--format", "openai.chat", "-o", str(out)])
    assert r.code == 0, r.stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    # Read as plain OpenAI chat, vLLM's prompt_logprobs are not read.
    assert doc["source"]["format"] == "openai.chat" and doc["prompt_steps"] == []
    assert "Bonjour" in r.stdout


def test_import_refuses_unknown_shape_in_one_line() -> None:
    r = run_cli(["import", str(FIXTURES / "unsupported" / "not_a_format.json")])
    assert r.code == 2 and r.stdout == ""
    line = r.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert "no supported format" in line and "openai.chat" in line and "sglang" in line


def test_import_refuses_logprobs_null(here: Run) -> None:
    r = here(["import", str(FIXTURES / "openai" / "chat_logprobs_null.json"), "--json"])
    assert r.code == 2 and r.stdout == ""
    assert "no logprobs" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_import_picks_one_of_several_choices(here: Run) -> None:
    path = str(FIXTURES / "openai" / "chat_two_choices.json")
    r = here(["import", path, "--json"])
    assert r.code == 2 and r.stdout == ""
    assert "holds 2 traces" in r.stderr and "--choice N (0 to 1)" in r.stderr
    first = json.loads(here(["import", path, "--json", "--choice", "0"]).stdout)
    second = json.loads(here(["import", path, "--json", "--choice", "1"]).stdout)
    assert (first["source"]["choice"], second["source"]["choice"]) == (0, 1)
    assert first["text"] != second["text"]
    r = here(["import", path, "--choice", "2"])
    assert r.code == 2 and "--choice 2 is out of range" in r.stderr
