"""Reading labelled sets (both forms, one-line errors with line numbers), judging, the demo."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenprobe.calibration.data import judge, normalise, read_items
from tokenprobe.calibration.demo import demo_items
from tokenprobe.errors import FormatError, InputError


def test_both_forms(tmp_path: Path) -> None:
    p = tmp_path / "set.jsonl"
    p.write_text('{"id": "a", "prompt": "2+2=", "options": [" 4", " 5"], "answer": 0}\n'
                 "\n"
                 '{"prompt": "Capital of France?", "answer": ["Paris", "paris, France"]}\n',
                 encoding="utf-8")
    a, b = read_items(p)
    assert a.kind == "choice" and a.options == [" 4", " 5"] and a.answer_index == 0
    assert b.kind == "open" and b.answers == ["Paris", "paris, France"]
    assert b.id.startswith("h")  # named by its content, the same on every read
    assert read_items(p)[1].id == b.id


@pytest.mark.parametrize("line,says", [
    ('{"prompt": "x"', "line 2 is not JSON"),
    ('["x"]', "line 2 must be a JSON object"),
    ('{"prompt": "x"}', "line 2: \"answer\" is missing"),
    ('{"prompt": "", "answer": "a"}', "\"prompt\" must be a non-empty string"),
    ('{"prompt": "x", "answer": 3}', "line 2: \"answer\" must be a non-empty string"),
    ('{"prompt": "x", "options": ["a"], "answer": 0}', "at least two"),
    ('{"prompt": "x", "options": ["a", "b"], "answer": 2}', "index (0 to 1)"),
    ('{"prompt": "x", "options": ["a", "a"], "answer": 0}', "given twice"),
    ('{"prompt": "x", "answer": "a", "label": 1}', "unknown fields: label"),
    ('{"id": "q1", "prompt": "y", "answer": "b"}', "the id 'q1' appears twice"),
])
def test_bad_lines_are_one_line_errors(tmp_path: Path, line: str, says: str) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text('{"id": "q1", "prompt": "x", "answer": "a"}\n' + line + "\n",
                 encoding="utf-8")
    with pytest.raises(FormatError) as e:
        read_items(p)
    assert says in str(e.value) and "\n" not in str(e.value)
    assert "line 2" in str(e.value)


def test_empty_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_items(tmp_path / "none.jsonl")
    (tmp_path / "e.jsonl").write_text("\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="holds no items"):
        read_items(tmp_path / "e.jsonl")


def test_judges() -> None:
    assert normalise("The  Eiffel Tower!") == "eiffel tower"
    assert judge(" 42\n", ["42"], "exact")
    assert not judge(" 42.", ["42"], "exact")
    assert judge(" 42.", ["42"], "normalised")
    assert not judge("It is 42.", ["42"], "normalised")
    assert judge("It is 42.", ["42"], "contains")
    assert not judge("It is 421.", ["42"], "contains")  # whole words only
    assert judge("paris", ["Rome", "Paris"], "normalised")


def test_demo_items_are_right_by_arithmetic() -> None:
    items = demo_items(12, 12, seed=1)
    assert items == demo_items(12, 12, seed=1)
    for it in items:
        if it.kind == "open":
            expr = it.prompt.rsplit("\n", 1)[1].rstrip(" =")
            assert it.answers == [f" {eval(expr)}"]  # our own digits
        elif it.id.startswith("larger"):
            nums = [int(o) for o in it.options or []]
            assert nums[it.answer_index or 0] == max(nums)
        elif it.id.startswith("parity"):
            n = int(it.prompt.split()[1])
            assert (it.options or [])[it.answer_index or 0] == (" odd" if n % 2 else " even")
        else:
            last = int(it.prompt.rstrip(",").rsplit(" ", 1)[1])
            assert (it.options or [])[it.answer_index or 0] == f" {last + 1}"
