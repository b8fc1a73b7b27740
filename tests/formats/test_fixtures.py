"""Every recorded or documented response in tests/fixtures/<server>/ read into traces.

Each folder's expected.json says, per file, what the trace must hold: its format, text,
step counts, chosen logprobs (`null` = not reported), bytes, alternatives, ranks, glyph
groups, notes; or, for a file that must be refused, a part of the error message. Keys that
start with "p" index `prompt_steps`, plain numbers `steps`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tokenprobe.errors import FormatError
from tokenprobe.formats import detect, load_all, read_documents
from tokenprobe.textbytes import glyph_groups
from tokenprobe.trace import Step, Trace

FIXTURES = Path(__file__).parent.parent / "fixtures"
# The folders read here; llamacpp/ and ollama/ are tested with their backends.
FOLDERS = ["openai", "wild", "vllm", "sglang", "gemini", "llama-cpp-python", "trace",
           "unsupported"]


def cases() -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for folder in FOLDERS:
        exp = FIXTURES / folder / "expected.json"
        for name, want in json.loads(exp.read_text(encoding="utf-8")).items():
            out.append((exp.parent / name, want))
    return out


CASES = cases()
READABLE = [(p, w) for p, w in CASES if "error" not in w]


def test_every_fixture_has_expectations_and_a_readme() -> None:
    named = {p for p, _ in CASES}
    for folder in {p.parent for p in named}:
        assert (folder / "README.md").is_file(), folder
    for folder in FOLDERS:
        for f in (FIXTURES / folder).iterdir():
            if f.suffix in (".json", ".jsonl", ".sse") and f.name != "expected.json":
                assert f in named, f"{f} has no entry in expected.json"


def step_at(trace: Trace, key: str) -> Step:
    return trace.prompt_steps[int(key[1:])] if key.startswith("p") else trace.steps[int(key)]


@pytest.mark.parametrize(("path", "want"), CASES,
                         ids=[f"{p.parent.name}/{p.name}" for p, _ in CASES])
def test_fixture(path: Path, want: dict[str, Any]) -> None:
    if "error" in want:
        with pytest.raises(FormatError) as e:
            load_all(path)
        msg = str(e.value)
        assert want["error"] in msg
        assert "\n" not in msg
        return
    traces = load_all(path)
    assert len(traces) == want.get("traces", 1)
    t = traces[0]
    assert t.backend == "import"
    if want["format"] != "trace":  # a saved trace keeps the source it was made from
        assert t.source["format"] == want["format"] and t.source["file"] == path.name
    assert t.text == want["text"]
    if "prompt" in want:
        assert t.request.prompt == want["prompt"]
    if "steps" in want:
        assert len(t.steps) == want["steps"]
    assert len(t.prompt_steps) == want.get("prompt_steps", 0)
    if "finish" in want:
        assert t.finish_reason == want["finish"]
    assert t.complete is want.get("complete", True)
    if "kind" in want:
        assert t.logprobs_kind == want["kind"]
    for key, lp in want.get("logprobs", {}).items():
        got = step_at(t, key).logprob
        assert got == pytest.approx(lp) if lp is not None else got is None, key
    for key, data in want.get("bytes", {}).items():
        assert list(step_at(t, key).data) == data, key
    for key, tid in want.get("ids", {}).items():
        assert step_at(t, key).id == tid, key
    for key, top in want.get("top", {}).items():
        got = [[c.token, c.logprob] for c in step_at(t, key).top]
        assert got == top, key
    for key, n in want.get("top_len", {}).items():
        assert len(step_at(t, key).top) == n, key
    for key, rank in want.get("rank", {}).items():
        assert step_at(t, key).rank() == rank, key
    groups = glyph_groups([s.data for s in t.steps])
    for a, b in want.get("glyph", []):
        assert range(a, b) in groups, (a, b, groups)
    if "note" in want:
        assert want["note"] in t.source.get("note", "")
    for tr in traces:
        check_rules(tr)


def check_rules(t: Trace) -> None:
    """The trace rules every importer keeps."""
    assert t.text == b"".join(s.data for s in t.steps).decode("utf-8", errors="replace")
    if t.prompt_steps:
        assert t.request.prompt == b"".join(s.data for s in t.prompt_steps).decode(
            "utf-8", errors="replace")
    for s in t.prompt_steps + t.steps:
        lps = [c.logprob for c in s.top if c.logprob is not None]
        assert lps == sorted(lps, reverse=True)
        # No token twice, whatever its logprobs: by id where known, else by bytes (tokens
        # whose bytes are unknown, labelled U+FFFD without an id, may be several).
        keys = [c.id if c.id is not None else c.data for c in s.top
                if c.id is not None or c.token != "\ufffd"]
        assert len(keys) == len(set(keys))
        assert s.entropy_exact is False
        for x in [s.logprob, *lps]:
            assert x is None or -9999.0 < x <= 0.0
    # The JSON form holds no NaN and reads back the same.
    back = Trace.from_dict(json.loads(t.to_json()))
    assert back.to_dict() == t.to_dict()


@pytest.mark.parametrize(("path", "want"), READABLE,
                         ids=[f"{p.parent.name}/{p.name}" for p, _ in READABLE])
def test_detected_as_its_own_format(path: Path, want: dict[str, Any]) -> None:
    module = detect(read_documents(path.read_text(encoding="utf-8")))
    assert module is not None
    assert want["format"] == module.NAME


def test_forcing_a_format() -> None:
    # A llama-cpp-python response is an OpenAI chat response too; forced, it reads as one.
    path = FIXTURES / "llama-cpp-python" / "chat.json"
    forced = load_all(path, format="openai.chat")[0]
    assert forced.source["format"] == "openai.chat"
    assert forced.text == load_all(path)[0].text
    with pytest.raises(FormatError, match="no candidates"):
        load_all(path, format="gemini")
    with pytest.raises(FormatError, match=r"unknown format 'nope'.*openai\.chat"):
        load_all(path, format="nope")


def test_refusal_lists_the_supported_formats() -> None:
    with pytest.raises(FormatError) as e:
        load_all(FIXTURES / "unsupported" / "not_a_format.json")
    msg = str(e.value)
    for name in ("trace", "openai.chat", "openai.completions", "openai.responses", "vllm",
                 "llama-cpp-python", "sglang", "gemini"):
        assert name in msg


def test_byte_fallback_character_is_one_glyph() -> None:
    # 𠮷 (F0 A0 AE B7) as four byte tokens the server wrote as empty strings: rebuilt from
    # the text, grouped into one glyph whose probability is the product of the four.
    t = load_all(FIXTURES / "llama-cpp-python" / "completion_stop.json")[0]
    group = next(g for g in glyph_groups([s.data for s in t.steps]) if len(g) > 1)
    assert b"".join(t.steps[i].data for i in group).decode() == "𠮷"
    assert all(t.steps[i].token.startswith("\\x") for i in group)


def test_a_chat_prompts_first_token_is_the_templates_control_token() -> None:
    # vLLM's prompt_logprobs of a chat (recorded from vLLM 0.32 on the embedded model) give
    # no entry for the rendered conversation's first token, Gemma's <bos>: a special step
    # with no bytes of the text, left out of the counts, as the <bos> of an echo is.
    from tokenprobe.metrics import counts

    t = load_all(FIXTURES / "vllm" / "real_chat_prompt_logprobs.json")[0]
    first = t.prompt_steps[0]
    assert first.special and first.data == b"" and first.logprob is None
    assert t.prompt_steps[1].token == "<start_of_turn>" and not t.prompt_steps[1].special
    assert t.request.prompt is not None and t.request.prompt.startswith("<start_of_turn>")
    assert not counts(first) and all(counts(s) for s in t.prompt_steps[1:])
