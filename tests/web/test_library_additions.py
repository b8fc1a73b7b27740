"""What the web app added to the library: steps encoded as they are made (LiveEncoder), and a
comparison's progress and per-model backends (ops.compare, on the scripted model:
tests/scripted_model.py)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.scripted_model import SPEC
from tests.views.traces import local_trace, missing_trace, server_trace

from tokenprobe.backends import Backend, get_backend
from tokenprobe.ops.compare import compare
from tokenprobe.trace import Trace
from tokenprobe.views.encode import LiveEncoder, encode_trace

PER_STEP = ("lp", "slp", "rank", "chosen", "H", "Hx", "top_n", "tail_n")
FLAT = ("top_lp", "tail")


def _labels(cols: dict[str, Any], vocab: list[str]) -> dict[str, Any]:
    """Columns with vocabulary indices replaced by labels, missing columns filled in."""
    n = cols["n"]
    out: dict[str, Any] = {"tok": [vocab[i] for i in cols["tok"]],
                           "top_tok": [vocab[i] for i in cols["top_tok"]]}
    for k in PER_STEP:
        out[k] = cols.get(k, [0 if k == "tail_n" else None] * n)
    for k in FLAT:
        out[k] = cols.get(k, [])
    return out


@pytest.mark.parametrize("make", [local_trace, server_trace, missing_trace])
@pytest.mark.parametrize("batch", [1, 3])
def test_live_batches_decode_to_the_page_encoding(make: Any, batch: int) -> None:
    trace: Trace = make()
    whole = encode_trace(trace)
    enc = LiveEncoder()
    vocab: dict[int, str] = {}
    merged: dict[str, Any] = {"n": 0, "tok": [], "top_tok": [],
                              **{k: [] for k in PER_STEP + FLAT}}
    for i in range(0, len(trace.steps), batch):
        part = enc.encode(trace.steps[i:i + batch])
        for entry in part["vocab"]:
            assert entry[0] not in vocab  # each label is sent once
            vocab[entry[0]] = entry[1]
            if len(entry) > 2:  # bytes that differ from the label travel with it
                assert bytes(entry[2]) != entry[1].encode()
        cols = part["steps"]
        n = cols["n"]
        merged["n"] += n
        merged["tok"] += cols["tok"]
        merged["top_tok"] += cols["top_tok"]
        for k in PER_STEP:
            merged[k] += cols.get(k, [0 if k == "tail_n" else None] * n)
        for k in FLAT:
            merged[k] += cols.get(k, [])
    live_vocab = [vocab[i] for i in range(len(vocab))]
    assert _labels(merged, live_vocab) == _labels(whole["steps"], whole["vocab"])


def test_compare_reports_progress_and_takes_backends_per_model() -> None:
    seen: list[tuple[int, int]] = []
    asked: list[str | None] = []

    def get_model(name: str | None) -> Backend:
        asked.append(name)
        return get_backend(SPEC)

    c = compare(["The sky is", "Grass is"], temperatures=[0.0], models=["a", "b"],
                samples=1, max_tokens=2, alternatives=2,
                progress=lambda d, t: seen.append((d, t)), get_model=get_model)
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert asked == ["a", "b", "a", "b"]
    assert [v.label for v in c.variants] == [
        "prompt=The sky is, model=a", "prompt=The sky is, model=b",
        "prompt=Grass is, model=a", "prompt=Grass is, model=b"]


def test_compare_stops_when_progress_raises() -> None:
    class Stop(Exception):
        pass

    def progress(done: int, total: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        compare(["a", "b"], max_tokens=1, alternatives=1, progress=progress, models=[SPEC])
