"""The vocabulary size of imported and saved traces: given by the user on import, kept by
saved traces, and refused where the trace contradicts it (it bounds the values shown at
other temperatures, so a wrong one would make wrong bounds look tight)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.inprocess import invoke

import tokenprobe
from tokenprobe.errors import FormatError, InputError
from tokenprobe.formats import parse_document

FIXTURES = Path(__file__).parent.parent / "fixtures"
CHAT = FIXTURES / "openai" / "chat.json"


def _saved(tmp_path: Path, **fields: Any) -> Path:
    doc = json.loads((FIXTURES / "trace" / "trace.json").read_text(encoding="utf-8"))
    doc.update(fields)
    path = tmp_path / "t.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_import_with_vocab_size_bounds_the_ranges(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    r = invoke(["import", str(CHAT), "--vocab-size", "262144", "--json"], tmp_path, monkeypatch)
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["vocab_size"] == 262144
    assert "vocab_size" not in json.loads(invoke(["import", str(CHAT), "--json"], tmp_path,
                                                 monkeypatch).stdout)
    t = tokenprobe.load(CHAT, vocab_size=262144)
    assert t.vocab_size == 262144
    view = t.at_temperature(1.5)[0]
    assert view.vocab_known and view.is_range
    assert view.candidates[0].low > 0.0  # with V known the unlisted mass cannot take all
    unknown = tokenprobe.load(CHAT).at_temperature(1.5)[0]
    assert not unknown.vocab_known and unknown.candidates[0].low == 0.0


def test_a_bad_vocab_size_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = invoke(["import", str(CHAT), "--vocab-size", "0"], tmp_path, monkeypatch)
    assert r.code != 0 and "--vocab-size must be a positive whole number" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    with pytest.raises(InputError):
        tokenprobe.load(CHAT, vocab_size=-3)
    r = invoke(["import", str(CHAT), "--vocab-size", "1"], tmp_path, monkeypatch)
    assert r.code != 0 and "vocab_size is 1, but steps[0] lists 2" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_saved_trace_keeps_and_checks_its_vocab_size(tmp_path: Path) -> None:
    t = tokenprobe.load(_saved(tmp_path, vocab_size=262144))
    assert t.vocab_size == 262144
    again = tmp_path / "again.json"
    t.save(again)
    assert tokenprobe.load(again).vocab_size == 262144
    for bad in (0, -1, 1.5, "262144", True, 1e999):
        with pytest.raises(FormatError, match="vocab_size must be a positive whole number"):
            tokenprobe.load(_saved(tmp_path, vocab_size=bad))
    doc = json.loads(again.read_text(encoding="utf-8"))
    doc["vocab_size"] = 400
    doc["steps"][0]["top"][0]["id"] = 400
    with pytest.raises(FormatError, match=r"vocab_size is 400, but steps\[0\]\.top\[0\] has "
                       "token id 400"):
        tokenprobe.load(_saved(tmp_path, **doc))
    doc["steps"][0]["top"][0]["id"] = 399
    assert tokenprobe.load(_saved(tmp_path, **doc)).vocab_size == 400


def test_saved_trace_keeps_and_checks_special_steps(tmp_path: Path) -> None:
    doc = json.loads((FIXTURES / "trace" / "trace.json").read_text(encoding="utf-8"))
    bos = {"token": "<bos>", "id": 2, "bytes": [], "logprob": None, "top": [],
           "special": True}
    doc["prompt_steps"] = [bos]
    (t,) = parse_document(doc)
    assert t.prompt_steps[0].special and t.to_dict()["prompt_steps"][0]["special"] is True
    doc["prompt_steps"] = [{**bos, "special": "yes"}]
    with pytest.raises(FormatError, match=r"prompt_steps\[0\]\.special must be true or false"):
        parse_document(doc)
