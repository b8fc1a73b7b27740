"""The trace's JSON form: exact round trips, sentinels, schema versions, atomic saves."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import tokenprobe
from tokenprobe.errors import FormatError, SchemaVersionError
from tokenprobe.trace import (
    SCHEMA,
    Candidate,
    Request,
    Step,
    Trace,
    clean_logprob,
)


def sample_trace() -> Trace:
    frag = [b"\xf0", b"\xa0", b"\xae", b"\xb7"]
    steps = [
        Step(token=" Paris", id=9079, logprob=-0.51, sample_logprob=-0.08,
             top=[Candidate(" Paris", -0.51, 9079), Candidate(" the", -1.72, 506)],
             entropy=2.31, entropy_exact=True, tail_logsumexp=[-1.0, -2.0]),
    ]
    for b in frag:
        steps.append(Step(token=b.decode("utf-8", "backslashreplace"), id=300 + b[0],
                          bytes=b, logprob=None, top=[], entropy=None))
    steps.append(Step(token="<end_of_turn>", id=106, bytes=b"", logprob=-0.01))
    t = Trace(backend="llama", model="m", request=Request(prompt="The capital", seed=1),
              steps=steps, finish_reason="stop", tail_temperatures=[1.0, 0.5])
    t.rebuild_text()
    return t


def test_round_trip_loses_nothing(tmp_path: Path) -> None:
    t = sample_trace()
    d = t.to_dict()
    assert d["schema"] == SCHEMA
    again = Trace.from_dict(json.loads(json.dumps(d)))
    assert again.to_dict() == d
    path = tmp_path / "t.json"
    t.save(path)
    assert tokenprobe.load(path).to_dict() == d


def test_text_is_exact_and_bytes_written_only_when_needed() -> None:
    t = sample_trace()
    assert t.text == " Paris𠮷"
    d = t.to_dict()
    assert "bytes" not in d["steps"][0]
    assert d["steps"][1]["bytes"] == [0xF0]
    assert d["steps"][5]["bytes"] == []  # a control token: label without bytes
    # Offsets index the character that holds each token's first byte.
    assert [s.offset for s in t.steps] == [0, 6, 6, 6, 6, 7]


def test_null_logprobs_stay_null() -> None:
    d = sample_trace().to_dict()
    assert d["steps"][1]["logprob"] is None
    assert Trace.from_dict(d).steps[1].logprob is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [(-0.5, -0.5), (0.0, 0.0), (None, None), (float("nan"), None), (float("-inf"), None),
     (-9999.0, None), (-3.4e38, None), (1e-7, 0.0), (0.7, None), ("x", None), (True, None),
     (-100.0, -100.0)],
)
def test_clean_logprob(value: object, expected: float | None) -> None:
    assert clean_logprob(value) == expected


def test_newer_schema_is_refused_clearly() -> None:
    d = sample_trace().to_dict()
    d["schema"] = "tokenprobe/trace@2"
    with pytest.raises(SchemaVersionError, match="newer"):
        Trace.from_dict(d)


def test_not_a_trace() -> None:
    with pytest.raises(FormatError, match="not a tokenprobe trace"):
        Trace.from_dict({"choices": []})


def test_nan_never_written() -> None:
    t = sample_trace()
    t.steps[0].entropy = math.nan
    with pytest.raises(ValueError):
        t.to_json()


def test_malformed_file_is_one_line_error(tmp_path: Path) -> None:
    p = tmp_path / "bad.json"
    p.write_text('{"schema": "tokenprobe/trace@1", "steps": [')
    with pytest.raises(FormatError) as e:
        tokenprobe.load(p)
    assert "\n" not in str(e.value)


def test_rank_handles_missing_and_listed_chosen() -> None:
    s = Step(token="a", id=1, logprob=-1.0,
             top=[Candidate("b", -0.5, 2), Candidate("a", -1.0, 1)])
    assert s.rank() == 2
    s2 = Step(token="z", id=9, logprob=-5.0, top=[Candidate("b", -0.5, 2)])
    assert s2.rank() is None


def test_vocab_size_and_special_round_trip_and_are_optional(tmp_path: Path) -> None:
    t = sample_trace()
    d = t.to_dict()
    assert "vocab_size" not in d and all("special" not in s for s in d["steps"])
    t.vocab_size = 262_144
    t.prompt_steps = [Step(token="<bos>", id=2, bytes=b"", logprob=None, special=True,
                           offset=0)]
    d = json.loads(t.to_json())
    assert d["vocab_size"] == 262_144 and d["prompt_steps"][0]["special"] is True
    path = tmp_path / "t.json"
    t.save(path)
    back = tokenprobe.load(path)
    assert back.vocab_size == 262_144 and back.prompt_steps[0].special
    assert not back.steps[0].special
    assert back.to_dict() == t.to_dict()


def test_at_temperature_gives_one_view_per_step() -> None:
    top = [Candidate("a", math.log(0.6), 1), Candidate("b", math.log(0.3), 2)]
    t = Trace(backend="import", model="m",
              steps=[Step(token="a", id=1, logprob=math.log(0.6), top=top),
                     Step(token="c", id=3, logprob=None)])
    views = t.at_temperature(0.5)
    assert len(views) == 2
    assert views[0].is_range and not views[0].vocab_known
    assert views[1].candidates == [] and views[1].tail_low is None
    t.vocab_size = 3  # one unlisted token: it holds the whole 0.1
    a, b = t.at_temperature(0.5)[0].candidates
    w = [0.36, 0.09, 0.01]
    assert (a.prob, b.prob) == (pytest.approx(w[0] / sum(w)), pytest.approx(w[1] / sum(w)))
